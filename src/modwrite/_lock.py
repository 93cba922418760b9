"""Serialize writers of one directory, across threads and processes.

The stamp rule of :mod:`modwrite._stamp` compares a new version with the one
it replaces; two writers that read the same predecessor could land two
versions with one stamp.  Writers therefore hold an exclusive ``flock`` on
the directory they write into, from the conflict checks to the rename.

``flock`` belongs to an open file description, so two threads of one process
that each open the directory exclude each other as two processes do.  Where
``flock`` is missing (Windows) or refused (some network filesystems), a
per-directory :class:`threading.Lock` still serializes the writing process's
threads, and the limit is documented.

The locked directory's descriptor also serves every operation on its entries
(``stat``, ``open``, ``rename``, ``unlink`` with ``dir_fd``): one path lookup
per entry instead of a walk of the whole path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator

from ._interrupts import deferred_signals

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["HAVE_FLOCK", "LockedDirectory", "directory_lock", "lock_directory"]

#: Do writers of different processes exclude each other (``flock``)?
HAVE_FLOCK = fcntl is not None

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()
_DIR_FD = os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd
#: ``access`` relative to a descriptor, with the effective IDs (those the
#: writer's own calls use; the real ones differ in a setuid program).
_ACCESS_AT = os.access in os.supports_dir_fd and os.access in os.supports_effective_ids


def _thread_lock(directory: str) -> threading.Lock:
    key = os.path.normcase(os.path.abspath(directory))
    with _thread_locks_guard:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = threading.Lock()
        return lock


class LockedDirectory:
    """Entry operations relative to a locked directory, and the lock itself
    (:meth:`release`).

    Uses the directory's descriptor where the platform supports ``dir_fd``,
    joined paths elsewhere; the results are the same.
    """

    __slots__ = ("_held_fd", "_thread_lock", "at_lock", "exclusive", "fd", "path")

    def __init__(
        self,
        path: str,
        fd: int | None,
        *,
        exclusive: bool = True,
        at_lock: os.stat_result | None = None,
        thread_lock: threading.Lock | None = None,
    ) -> None:
        self.path = path
        self.fd = fd if _DIR_FD else None
        #: Do writers of other processes wait for this lock (``flock`` held)?
        #: ``False`` where only this process's threads are serialized.
        self.exclusive = exclusive
        #: The directory's ``fstat`` taken once the ``flock`` was held and
        #: the path checked (``None`` where only this process's threads are
        #: serialized): nothing of this process's writers changed it since.
        self.at_lock = at_lock
        self._held_fd = fd
        self._thread_lock = thread_lock

    def release(self) -> None:
        """Release the lock (once; never raises)."""
        fd, self._held_fd = self._held_fd, None
        thread_lock, self._thread_lock = self._thread_lock, None
        try:
            if fd is not None:
                _release(fd)
        finally:
            if thread_lock is not None:
                thread_lock.release()

    def join(self, name: str) -> str:
        return os.path.join(self.path, name)

    def stat(self, name: str) -> os.stat_result:
        if self.fd is None:  # pragma: no cover - no dir_fd support
            return os.stat(self.join(name))
        return os.stat(name, dir_fd=self.fd)

    def lstat(self, name: str) -> os.stat_result:
        if self.fd is None:  # pragma: no cover - no dir_fd support
            return os.lstat(self.join(name))
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def exists(self, name: str) -> bool:
        """Is there a file (symlinks followed) named *name*?  ``False`` also
        on errors (``access(F_OK)`` with the effective IDs, where the
        platform has it, else ``stat``): use it where absence is confirmed
        by another source, never alone.  Costs no exception when there is
        none, unlike a failed :meth:`stat`."""
        if self.fd is None or not _ACCESS_AT:  # pragma: no cover - not on Linux
            try:
                self.stat(name)
            except OSError:
                return False
            return True
        return os.access(name, os.F_OK, dir_fd=self.fd, effective_ids=True)

    def lookup(self, name: str) -> os.stat_result | None:
        """``lstat`` of the entry *name*, ``None`` if there is none (also
        when the name is too long to exist).

        :raises OSError: any other failure (EIO, EACCES, ...): absence is
            never guessed from an error.
        """
        try:
            return self.lstat(name)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return None
            raise

    def own_stat(self) -> os.stat_result:
        """``stat`` of the locked directory itself."""
        if self.fd is None:  # pragma: no cover - no dir_fd support
            return os.stat(self.path)
        return os.fstat(self.fd)

    def open_new(self, name: str) -> int:
        """Create *name* exclusively (``O_EXCL``, mode 0o666 under the umask,
        as :func:`open` does) and return its descriptor, open for writing;
        the caller owns it."""
        if self.fd is None:  # pragma: no cover - no dir_fd support
            return os.open(self.join(name), _NEW_FILE_FLAGS, 0o666)
        return os.open(name, _NEW_FILE_FLAGS, 0o666, dir_fd=self.fd)

    def replace(self, src: str, dst: str) -> None:
        if self.fd is None:  # pragma: no cover - no dir_fd support
            os.replace(self.join(src), self.join(dst))
        else:
            os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        if self.fd is None:  # pragma: no cover - no dir_fd support
            os.unlink(self.join(name))
        else:
            os.unlink(name, dir_fd=self.fd)

    def fsync(self) -> None:
        """Make renames in the directory durable (POSIX)."""
        if self.fd is not None:
            os.fsync(self.fd)


@contextlib.contextmanager
def directory_lock(
    directory: str, signals: deferred_signals | None = None
) -> Iterator[LockedDirectory]:
    """Hold the writers' lock of *directory* for the ``with`` block (see
    :func:`lock_directory`)."""
    locked = lock_directory(directory, signals)
    try:
        yield locked
    finally:
        locked.release()


def lock_directory(directory: str, signals: deferred_signals | None = None) -> LockedDirectory:
    """Take the writers' lock of *directory*; the caller must call
    :meth:`LockedDirectory.release` (in a ``finally``).

    Once locked, the path is checked to still name the locked directory: a
    package swapped in meanwhile by ``write_package()`` makes the writer start
    over on the new directory instead of landing in the old, doomed one.

    The wait for the lock is interruptible when *signals* defers them (see
    :mod:`modwrite._interrupts`).  Releasing never raises: closing the
    descriptor releases the lock whatever ``flock(LOCK_UN)`` said.

    A directory this user may not read (``0o333``) cannot be locked against
    other processes: its writers in this process are serialized, and a
    :class:`~modwrite.ModwriteWarning` says so once per directory.

    :raises OSError: the directory cannot be opened (missing, not a
        directory).
    """
    if fcntl is None:  # pragma: no cover - Windows
        return _thread_locked(directory, None)
    while True:
        try:
            fd = os.open(directory, _DIRECTORY_FLAGS)
        except PermissionError as exc:
            os.stat(directory)  # EACCES on the path itself: raise that
            # A directory this user may search and write but not read (0333):
            # no descriptor to flock.  Serialize this process's writers only.
            _warn_no_flock(directory, exc)
            return _thread_locked(directory, None)
        try:
            try:
                if signals is None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                else:
                    with signals.interruptible():
                        fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:  # pragma: no cover - flock refused (some NFS setups)
                _warn_no_flock(directory, exc)
                return _thread_locked(directory, fd)
            locked, current = os.fstat(fd), os.stat(directory)
            if (locked.st_dev, locked.st_ino) == (current.st_dev, current.st_ino):
                return LockedDirectory(directory, fd, at_lock=locked)
        except BaseException:
            _release(fd)
            raise
        _release(fd)


_NEW_FILE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOINHERIT", 0)
)
_DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def _thread_locked(directory: str, fd: int | None) -> LockedDirectory:
    """The lock of *directory* for this process's threads only (no
    ``flock``); *fd* (if any) is closed on release."""
    thread_lock = _thread_lock(directory)
    thread_lock.acquire()
    return LockedDirectory(directory, fd, exclusive=False, thread_lock=thread_lock)


def _release(fd: int) -> None:
    # Unlock explicitly: a child forked meanwhile shares the open file
    # description, and closing our descriptor alone would leave the
    # directory locked for as long as that child lives.
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


_warned_no_flock: set[str] = set()


def _warn_no_flock(directory: str, exc: OSError) -> None:
    import warnings

    from .errors import ModwriteWarning

    if directory not in _warned_no_flock:
        _warned_no_flock.add(directory)
        warnings.warn(
            ModwriteWarning(
                f"cannot lock {directory!r} against other processes ({exc.strerror}): "
                "writers of this directory are serialized within this process only"
            ),
            stacklevel=4,
        )
