"""Swap two directories in one step (``renameat2(RENAME_EXCHANGE)``).

Linux >= 3.15 with glibc >= 2.28 exchanges two paths atomically: a reader
resolving either path sees the old or the new directory, never neither.
Elsewhere (macOS, Windows, filesystems that refuse the flag: FUSE without
support, NFS, ...) :func:`exchange` returns ``False`` and the caller falls
back to two renames, between which the target path does not exist.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from typing import Any

__all__ = ["exchange"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2

_renameat2: Any = None
if sys.platform.startswith("linux"):
    try:
        _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
        _renameat2.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        ]
        _renameat2.restype = ctypes.c_int
    except (AttributeError, OSError):  # pragma: no cover - glibc < 2.28, musl
        _renameat2 = None

#: errnos meaning "this system or filesystem cannot exchange": fall back.
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV}


def exchange(a: str, b: str) -> bool:
    """Atomically swap the directory entries *a* and *b* (both must exist).

    :returns: ``True`` when swapped; ``False`` when exchange is not supported
        here (nothing changed).
    :raises OSError: any other failure, errno preserved (nothing changed).
    """
    if _renameat2 is None:  # pragma: no cover - not Linux
        return False
    rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), a, None, b)
