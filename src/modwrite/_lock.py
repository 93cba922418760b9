"""Serialize writers of one directory, across threads and processes.

The stamp rule of :mod:`modwrite._stamp` compares a new version with the one
it replaces; two writers that read the same predecessor could land two
versions with one stamp.  Writers therefore hold an exclusive ``flock`` on
the directory they write into, from reading the predecessor to the rename.

``flock`` belongs to an open file description, so two threads of one process
that each open the directory exclude each other as two processes do.  Where
``flock`` is missing (Windows) or refused (some network filesystems), a
per-directory :class:`threading.Lock` still serializes the writing process's
threads, and the limit is documented.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["directory_lock"]

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(directory: str) -> threading.Lock:
    key = os.path.normcase(os.path.abspath(directory))
    with _thread_locks_guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = threading.Lock()
        return lock


@contextlib.contextmanager
def directory_lock(directory: str) -> Iterator[None]:
    """Hold the writers' lock of *directory* for the ``with`` block.

    :raises OSError: the directory cannot be opened (missing, not a
        directory, no permission).
    """
    if fcntl is None:  # pragma: no cover - Windows
        with _thread_lock(directory):
            yield
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # pragma: no cover - flock refused (some NFS setups)
            with _thread_lock(directory):
                yield
            return
        yield
    finally:
        os.close(fd)
