"""From a name and options to a target on disk: argument checks that need
no disk, the root, the parent packages to create, and what on disk would
conflict with the target.

Nothing here writes.  The conflict checks run under the target directory's
writers' lock (:mod:`modwrite._lock`), so that what they saw still holds when
the write lands.
"""

from __future__ import annotations

import errno
import importlib.machinery
import os
import stat
from dataclasses import dataclass
from typing import Literal, Union

from ._lock import LockedDirectory
from ._names import str_path
from .errors import ArgumentTypeError, InvalidArgument, ModuleConflictError, ModuleWriteError

__all__ = [
    "PathArg",
    "Visibility",
    "WriteOptions",
    "absolute_root",
    "check_module_conflicts",
    "check_package_conflicts",
    "check_root",
    "check_timeout",
    "plan_parents",
    "prepare_root",
    "write_error",
]

#: A filesystem path: ``str`` or ``str`` path-like.
PathArg = Union[str, "os.PathLike[str]"]

Visibility = Literal["system", "process"]
_VISIBILITIES = ("system", "process")

_INIT_NAMES = ("__init__.py", "__init__.pyc")


@dataclass(frozen=True)
class WriteOptions:
    """The keyword options every write takes, checked once."""

    visibility: Visibility
    durable: bool
    parents: bool
    create_root: bool
    visibility_timeout: float

    @classmethod
    def checked(
        cls,
        *,
        visibility: object,
        durable: bool,
        parents: bool,
        create_root: bool,
        visibility_timeout: object,
    ) -> WriteOptions:
        """The options, validated.

        :raises InvalidArgument: *visibility* is unknown or
            *visibility_timeout* is negative or not finite.
        :raises ArgumentTypeError: *visibility_timeout* is not a number.
        """
        if visibility not in _VISIBILITIES:
            raise InvalidArgument(
                f"visibility must be one of {_VISIBILITIES!r}, not {visibility!r}"
            )
        timeout = check_timeout(visibility_timeout)
        return cls(visibility, durable, parents, create_root, timeout)  # type: ignore[arg-type]


def check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ArgumentTypeError(
            f"visibility_timeout must be a number of seconds, not {type(timeout).__name__}"
        )
    if not 0 <= timeout < float("inf"):
        raise InvalidArgument(f"visibility_timeout must be >= 0 and finite, not {timeout!r}")
    return float(timeout)


_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def write_error(exc: OSError, path: str) -> ModuleWriteError:
    if exc.errno in _NOT_WRITABLE:
        return ModuleWriteError(
            exc.errno, f"directory is not writable ({exc.strerror})", os.path.dirname(path)
        )
    return ModuleWriteError(exc.errno or errno.EIO, exc.strerror or str(exc), path)


def absolute_root(root: object) -> str:
    """The absolute path of *root*, type-checked (nothing touched on disk)."""
    path = str_path(root, what="root")
    if not path:
        raise InvalidArgument("root must not be empty (use '.' for the working directory)")
    return os.path.abspath(path)


def prepare_root(root_path: str, *, create: bool) -> None:
    """Create *root_path* if asked and missing.  Called once every argument
    is known to be valid.  Without *create* nothing is checked here: the
    first operation in the root fails if it is missing or not a directory,
    and :func:`check_root` then says which (one ``stat`` saved per write)."""
    if create and not os.path.isdir(root_path):
        try:
            os.makedirs(root_path, exist_ok=True)
        except OSError as exc:
            raise write_error(exc, root_path) from None


def check_root(root_path: str) -> None:
    """Raise the :class:`ModuleWriteError` that says what is wrong with
    *root_path*, if anything: missing, or not a directory."""
    try:
        st = os.stat(root_path)
    except OSError as exc:
        raise ModuleWriteError(
            exc.errno or errno.ENOENT,
            "root directory does not exist (create_root=True / --create-root creates it)"
            if isinstance(exc, FileNotFoundError)
            else (exc.strerror or str(exc)),
            root_path,
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise ModuleWriteError(errno.ENOTDIR, "root is not a directory", root_path)
    # Writability is not checked here: the first entry created (a temporary
    # file or directory, under the lock) fails with EACCES/EROFS before
    # anything is written, and write_error() names the directory.


_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _is_regular_package(directory: str) -> bool:
    return any(os.path.isfile(os.path.join(directory, n)) for n in _INIT_NAMES)


def _extension_module(directory: LockedDirectory, leaf: str) -> str | None:
    for suffix in _EXTENSION_SUFFIXES:
        if directory.exists(leaf + suffix):
            return directory.join(leaf + suffix)
    return None


def plan_parents(
    root: str, parts: tuple[str, ...], *, create: bool, create_root: bool
) -> list[str]:
    """Check the parent packages of ``parts`` under *root*; return the ones to
    create (outermost first).  Creates nothing: a missing parent without
    *create* raises before *root* is created."""
    missing: list[str] = []
    if parts and create_root and not os.path.isdir(root):
        if not create:
            raise ModuleWriteError(
                errno.ENOENT,
                f"parent package {parts[0]!r} does not exist "
                "(parents=True / --parents creates it)",
                os.path.join(root, parts[0]),
            )
        return [os.path.join(root, *parts[: i + 1]) for i in range(len(parts))]
    directory = root
    for i, part in enumerate(parts):
        directory = os.path.join(directory, part)
        dotted = ".".join(parts[: i + 1])
        if os.path.isdir(directory):
            if missing:  # pragma: no cover - a directory appeared meanwhile
                break
            continue
        if os.path.lexists(directory):
            raise ModuleWriteError(
                errno.ENOTDIR, f"parent package {dotted!r} is not a directory", directory
            )
        if i == 0:
            check_root(root)
        if not create:
            raise ModuleWriteError(
                errno.ENOENT,
                f"parent package {dotted!r} does not exist (parents=True / --parents creates it)",
                directory,
            )
        module_file = directory + ".py"
        if os.path.exists(module_file):
            raise ModuleConflictError.shadowing(
                module_file,
                f"creating package {dotted!r} would shadow the module file beside it",
            )
        missing.append(directory)
    return missing


def check_module_conflicts(directory: LockedDirectory, leaf: str, name: str) -> None:
    try:
        is_dir = stat.S_ISDIR(directory.stat(leaf).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        is_dir = False
    if is_dir and _is_regular_package(directory.join(leaf)):
        raise ModuleConflictError.shadowing(
            directory.join(leaf),
            f"package directory {name!r} exists and would shadow module {name!r}",
        )
    extension = _extension_module(directory, leaf)
    if extension is not None:
        raise ModuleConflictError.shadowing(
            extension, f"extension module {name!r} exists and would shadow the new source"
        )


def check_package_conflicts(parent: str, leaf: str, name: str) -> None:
    target = os.path.join(parent, leaf)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise ModuleConflictError.shadowing(target, f"{target!r} exists and is not a directory")
    if os.path.isdir(target) and leaf not in os.listdir(parent):
        # A case-insensitive filesystem (vfat, NTFS, APFS) resolved the name
        # to a directory spelled otherwise: swapping it in would keep that
        # spelling, which the import system (case-sensitive on its listing)
        # would not find under *name*.
        raise ModuleConflictError.shadowing(
            target,
            f"a package directory whose name differs from {name!r} only in case exists; "
            "remove it first",
        )
    module_file = target + ".py"
    if os.path.exists(module_file):
        raise ModuleConflictError.shadowing(
            module_file, f"module file {name!r} exists; the package would shadow it"
        )
    extension = _extension_module(LockedDirectory(parent, None), leaf)
    if extension is not None:
        raise ModuleConflictError.shadowing(
            extension, f"extension module {name!r} exists and would shadow the package"
        )
