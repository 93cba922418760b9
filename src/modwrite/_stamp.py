"""Source stamps that no stale bytecode can match (guarantee G3).

A timestamp-based pyc (PEP 552 flags 0) is trusted when the whole-second
source mtime and the source size recorded in its header equal those of the
source file (``_validate_timestamp_pyc`` in CPython's
``importlib/_bootstrap_external.py``; both compared modulo 2**32).  A
same-size rewrite in the same second therefore runs the old code, in a
reload, in a fresh process, at every optimization level and under
``sys.pycache_prefix`` alike.  Deleting or rewriting pycs cannot fix it: a
stock process that read the *old* source just before the landing writes its
pyc just after it, stamped with the old source's (second, size).

modwrite keeps the invariant that, for each path it writes, the pairs
``(int(st_mtime), st_size)`` of successive versions strictly increase in
lexicographic order.  Then no version shares its stamp with an earlier one,
and every pyc compiled from an earlier version is rejected.  When the natural
stamp of a new version is not larger (a rewrite in the same second that is
not longer), modwrite, in this order:

1. sets the new file's mtime to the next whole second that the filesystem can
   store (one second ahead, two on FAT), never more than
   :data:`MAX_MTIME_LEAD_S` seconds ahead of the filesystem clock; the bytes
   stay exactly the caller's;
2. otherwise (a third rewrite within the same second) appends newline bytes
   (``b"\\n"``) so that the file is one byte longer than the previous version,
   which a compiler ignores: the module's code, line numbers and docstrings
   are unchanged.

The cost is one ``fstat`` per write, plus one ``futimens`` in case 1.  A
version whose predecessor's mtime lies more than :data:`MAX_MTIME_LEAD_S`
seconds in the future (a clock stepped back, a file from a skewed machine) is
written with its natural stamp, which already differs in its second.
"""

from __future__ import annotations

import importlib.machinery
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

from ._clock import DROPPED_MEMORY_S, MAX_MTIME_LEAD_S, NS_PER_S

__all__ = [
    "MAX_MTIME_LEAD_S",
    "SOURCE_SUFFIXES",
    "Stamp",
    "make_stamp_unique",
    "recently_dropped",
    "remember_dropped",
    "stamp_of",
]

#: The stamp rule applies to sources; data files stay byte-exact.
SOURCE_SUFFIXES = tuple(importlib.machinery.SOURCE_SUFFIXES)


@dataclass(frozen=True, order=True)
class Stamp:
    """What a timestamp pyc records of its source: whole seconds and bytes,
    compared in that order.  *mtime_ns* (the full mtime, nanoseconds) rides
    along uncompared: a new version's mtime is set past it, so that tools
    comparing ``st_mtime`` alone see every version."""

    mtime_s: int
    size: int
    mtime_ns: int = field(default=0, compare=False)


def stamp_of(st: os.stat_result) -> Stamp:
    """The pyc stamp of a file, as CPython computes it (``int(st_mtime)``)."""
    return Stamp(int(st.st_mtime), st.st_size, st.st_mtime_ns)


class WritableFile(Protocol):
    """What the stamp rule needs of the new version's open file."""

    def fileno(self) -> int: ...

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


def make_stamp_unique(f: WritableFile, previous: Stamp | None, path: str) -> int:
    """Make the stamp of the flushed temporary file *f* larger than *previous*.

    :param f: the new version, written and flushed, not yet renamed.
    :param previous: the stamp of the version it replaces, or ``None``.
    :param path: *f*'s path (used where ``utime`` takes no descriptor).
    :returns: how many newline bytes were appended to *f* (0 but in case 2).
    :raises OSError: from ``fstat``/``futimens``/``write`` on *f*.
    """
    if previous is None:
        return 0
    fd = f.fileno()
    st = os.fstat(fd)
    new = stamp_of(st)
    if new > previous or previous.mtime_s > new.mtime_s + MAX_MTIME_LEAD_S:
        if _header(new) == _header(previous):
            # Different stamps, one pyc header: mtimes 2**32 s apart (a file
            # dated past 2106, or before 1970).  One second more separates them.
            _set_mtime(fd, path, st, new.mtime_s + 1, previous.mtime_ns)
        return 0
    if new.size > previous.size:
        # Same or earlier second, but longer: take the previous second.
        _set_mtime(fd, path, st, previous.mtime_s, previous.mtime_ns)
        if stamp_of(os.fstat(fd)) > previous:
            return 0
    for second in range(previous.mtime_s + 1, new.mtime_s + MAX_MTIME_LEAD_S + 1):
        _set_mtime(fd, path, st, second, previous.mtime_ns)
        if stamp_of(os.fstat(fd)) > previous:
            return 0
    # No representable second within the lead: grow the file by newlines.
    padding = previous.size + 1 - new.size
    f.write(b"\n" * padding)
    f.flush()
    _set_mtime(fd, path, st, previous.mtime_s, previous.mtime_ns)
    if stamp_of(os.fstat(fd)) <= previous:  # pragma: no cover - a filesystem lying about mtimes
        f.write(b"\n")
        f.flush()
        padding += 1
    return padding


def _header(stamp: Stamp) -> tuple[int, int]:
    """What a timestamp pyc's header keeps of a stamp (modulo 2**32, as
    ``_validate_timestamp_pyc`` compares)."""
    return (stamp.mtime_s & 0xFFFFFFFF, stamp.size & 0xFFFFFFFF)


def _set_mtime(fd: int, path: str, st: os.stat_result, second: int, after_ns: int = 0) -> None:
    """Set the file's mtime to a time in *second* (whole seconds): the
    sub-second part of its own mtime (when it was written), or, when that is
    not past *after_ns* (the previous version's mtime), the nanosecond after
    it, as long as it stays in *second*.  Filesystems with coarser ticks
    truncate the sub-second part; the pyc stamp keeps only the second."""
    ns = second * NS_PER_S + st.st_mtime_ns % NS_PER_S
    if ns <= after_ns:
        ns = min(after_ns + 1, (second + 1) * NS_PER_S - 1)
    target: int | str = fd if os.utime in os.supports_fd else path
    os.utime(target, ns=(st.st_atime_ns, ns))


# Stamps of source files that write_package() dropped from a package, kept a
# few seconds: a file re-added in the same second must not take a stamp an
# older version's pyc (kept under sys.pycache_prefix) still carries.  This
# covers this process's writes only.
_dropped_stamps: dict[str, tuple[Stamp, float]] = {}


def remember_dropped(
    target: str,
    old: Mapping[PurePosixPath, tuple[Stamp, int]],
    flat: Mapping[PurePosixPath, bytes | None],
) -> None:
    now = time.monotonic()
    for path in [p for p, (_, seen) in _dropped_stamps.items() if now - seen > DROPPED_MEMORY_S]:
        del _dropped_stamps[path]
    for relative, (stamp_, _mode) in old.items():
        if relative not in flat and relative.suffix in SOURCE_SUFFIXES:
            _dropped_stamps[os.path.join(target, *relative.parts)] = (stamp_, now)


def recently_dropped(path: str) -> Stamp | None:
    entry = _dropped_stamps.get(path)
    if entry is None or time.monotonic() - entry[1] > DROPPED_MEMORY_S:
        return None
    return entry[0]
