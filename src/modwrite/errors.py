"""The exceptions and warnings modwrite raises.

Every error subclasses :class:`ModwriteError` *and* the built-in exception a
caller would catch for the same fault (:class:`ValueError`,
:class:`TypeError`, :class:`SyntaxError`, :class:`OSError`), so code written
against the built-ins keeps working.  Argument errors are raised before
anything is written; nothing already on disk is lost.

Import-side failures are never wrapped: they stay the plain
``ImportError(msg, name=..., path=...)`` CPython raises.

All exceptions pickle (cross-process tests send them between processes).
"""

from __future__ import annotations

import errno as _errno
import os

TYPE_CHECKING = False  # typing stays unimported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "ArgumentTypeError",
    "InvalidArgument",
    "InvalidModuleName",
    "InvalidSource",
    "ModuleConflictError",
    "ModuleSyntaxError",
    "ModuleWriteError",
    "ModwriteError",
    "ModwriteWarning",
    "PostCommitWarning",
    "ReloadError",
    "ReloadFailedWarning",
    "VisibilityWarning",
]


def __dir__() -> list[str]:
    return __all__


class ModwriteError(Exception):
    """Base class of every error modwrite raises.

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"


class ArgumentTypeError(ModwriteError, TypeError):
    """An argument has the wrong type (a name that is not :class:`str`, a
    source that is neither :class:`str` nor :class:`bytes`, ...).

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"


class InvalidArgument(ModwriteError, ValueError):
    """An argument has a value modwrite cannot use (an unknown ``visibility``,
    a negative timeout, a ``files`` mapping with clashing entries, ...).

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"


class InvalidModuleName(InvalidArgument):
    """A module name is not a valid dotted Python module name.

    Empty parts, stray dots, keywords, non-identifiers and names that are not
    in NFKC normal form (the form the parser gives identifiers, PEP 3131) are
    rejected.

    :ivar name: the rejected name.

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"invalid module name {name!r}: {reason}")
        self.name = name
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.reason))


class InvalidSource(InvalidArgument):
    """A source cannot be stored as a Python module: it contains NUL bytes,
    or a :class:`str` source cannot be encoded in the encoding its PEP 263
    coding cookie declares.

    :ivar module: the name of the module the source was meant for.

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"

    def __init__(self, module: str, reason: str) -> None:
        super().__init__(f"cannot write module {module!r}: {reason}")
        self.module = module
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.module, self.reason))


class ModuleSyntaxError(ModwriteError, SyntaxError):
    """A source does not compile, or carries a bad PEP 263 coding cookie.

    Raised by compiling the source before anything lands.  It is a
    :class:`SyntaxError` with the usual ``filename``, ``lineno``, ``offset``
    and ``text`` attributes (``offset`` is the 1-based column CPython
    reports), plus ``module``, the dotted name being written, and ``reason``,
    the compiler's message alone (``msg`` is the whole sentence).

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"

    def __init__(
        self,
        module: str,
        msg: str,
        filename: str | None = None,
        lineno: int | None = None,
        offset: int | None = None,
        text: str | None = None,
    ) -> None:
        # SyntaxError's own str() appends "(filename, line N)"; add the column.
        where = f" at column {offset}" if offset is not None else ""
        super().__init__(
            f"cannot write module {module!r}: {msg}{where}", (filename, lineno, offset, text)
        )
        self.module = module
        self.reason = msg

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            type(self),
            (self.module, self.reason, self.filename, self.lineno, self.offset, self.text),
        )


class ModuleWriteError(ModwriteError, OSError):
    """The module or package could not be written: the root is missing, not a
    directory or read-only, the disk is full, ...

    Built as ``(errno, strerror, filename)``, so ``errno``, ``strerror`` and
    ``filename`` work as for any :class:`OSError`,
    with the errno of the underlying failure preserved.

    Raised only before the write's commit point: nothing landed, whatever was
    on disk before stays intact, and no temporary file is left.  One case is
    worse, and says so in its message: without ``RENAME_EXCHANGE``, when the
    new package could not be moved in and the old one not back (two failures
    in a row), the package is missing and its old tree parked, which
    ``modwrite clean`` puts back.

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"

    def __init__(self, errno: int, strerror: str, filename: str | os.PathLike[str]) -> None:
        super().__init__(errno, strerror, os.fspath(filename))

    def __str__(self) -> str:
        return f"[Errno {self.errno}] {self.strerror}: {self.filename!r}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.errno, self.strerror, self.filename))


class ModuleConflictError(ModuleWriteError):
    """Something on disk would shadow, or be shadowed by, what is written:
    a regular package directory or an extension module of the same name
    beside a new module, or a module file beside a new package.

    ``errno`` is :data:`errno.EEXIST`; ``filename`` names the conflicting
    path.

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"

    def __init__(self, errno: int, strerror: str, filename: str | os.PathLike[str] = "") -> None:
        super().__init__(errno, strerror, filename)

    @classmethod
    def shadowing(cls, path: str | os.PathLike[str], what: str) -> ModuleConflictError:
        """The conflict of *what* (a sentence) at *path*."""
        return cls(_errno.EEXIST, what, path)


class ModwriteWarning(UserWarning):
    """Base class of the warnings modwrite issues.

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"


class PostCommitWarning(ModwriteWarning):
    """The write landed, but a step after its commit point failed.

    The new version stands and is importable in this process; what failed
    tidies up or hardens: removing the tree a package replaced (``modwrite
    clean`` removes it later), or the ``fsync`` of the directory that makes
    a ``durable=True`` write survive a power loss.  The message says which.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite"


class VisibilityWarning(ModwriteWarning):
    """The cross-process visibility wait ran out of its time budget.

    Issued when a directory's mtime could not be moved to a tick later than
    the landing within ``visibility_timeout`` seconds (filesystems whose
    directory mtimes never move, a server clock far ahead, ...).  The module
    is written and visible in the writing process; other processes running
    CPython's stock finder may need :func:`importlib.invalidate_caches`.

    .. versionadded:: 0.1.0
    """

    __module__ = "modwrite"


class ReloadError(ModwriteError, ImportError):
    """A module cannot be reloaded from a file: it is not in
    :data:`sys.modules` under its name, it has no spec (a script's
    ``__main__``), or it is built-in, frozen, a namespace package, an
    extension module, or its source file is gone.

    Raised by :func:`modwrite.reload` before anything runs; the module is
    untouched.  As any :class:`ImportError`, it carries ``name`` (the module
    name) and ``path`` (the file, or ``None``).

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite"

    def __init__(self, message: str, *, name: str | None = None, path: str | None = None) -> None:
        super().__init__(message, name=name, path=path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_reload_error, (str(self), self.name, self.path))


def _rebuild_reload_error(message: str, name: str | None, path: str | None) -> ReloadError:
    return ReloadError(message, name=name, path=path)


class ReloadFailedWarning(ModwriteWarning):
    """A changed module's new source failed to compile or to run, so
    :func:`modwrite.reload_changed` kept its old version.

    Issued once per source: the same bytes are not tried again, and the next
    call that finds other bytes in the file (the fix, even within the same
    timestamp tick) reloads it.

    :ivar module_name: the module's name (``str``).
    :ivar exception: the exception the compile or the run raised.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite"

    def __init__(self, module_name: str, exception: BaseException) -> None:
        super().__init__(
            f"module {module_name!r} kept its old version: its new source failed: "
            f"{type(exception).__name__}: {exception}"
        )
        self.module_name = module_name
        self.exception = exception

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.module_name, self.exception))
