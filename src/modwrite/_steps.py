"""Failed system calls, told as what the write was doing.

An :class:`OSError` from deep inside a write says which call failed
(``open``, ``rename``), not what the write was doing; the caller wants the
second ("cannot write the new file in the directory (Permission denied)").
:class:`step` turns one into the other around each step of the write path,
before the commit point only: after it nothing raises.
"""

from __future__ import annotations

import errno
from types import TracebackType

from .errors import ModuleWriteError, ModwriteError

__all__ = ["step", "write_error"]


class step:
    """Turn an :class:`OSError` raised in the block into the
    :class:`~modwrite.ModuleWriteError` that says what was being done
    (modwrite's own errors pass through)."""

    __slots__ = ("doing", "path")

    def __init__(self, doing: str, path: str) -> None:
        self.doing = doing
        self.path = path

    def __enter__(self) -> step:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, OSError) and not isinstance(exc, ModwriteError):
            raise write_error(exc, self.doing, self.path) from None


def write_error(exc: OSError, doing: str, path: str) -> ModuleWriteError:
    """The :class:`~modwrite.ModuleWriteError` for *exc*, raised while
    *doing* (``"create a file in the directory"``, ...) at *path*."""
    reason = exc.strerror or str(exc)
    return ModuleWriteError(exc.errno or errno.EIO, f"cannot {doing} ({reason})", path)
