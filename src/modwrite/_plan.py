"""From a name and options to a target on disk: the checks that need no
disk, the directories to create, and what on disk would conflict.

Nothing here writes.  :func:`plan` finds the target's directory and, when
it (or the root) is missing, the chain of directories a write must create
first; the write then builds that chain whole beside its *anchor* (the
deepest directory that exists) and moves it in with one rename, so that a
failed write leaves no new parent behind.  The conflict checks run under the
writers' lock of the directory they look at (:mod:`modwrite._lock`), so that
what they saw still holds when the write lands.

A lookup that fails for any reason other than "no such entry" raises
:class:`~modwrite.ModuleWriteError`: an absence is never guessed from an
error (an EIO is not a conflict, an EACCES is not a missing file).
"""

from __future__ import annotations

import errno
import importlib.machinery
import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, Union, cast

from ._lock import LockedDirectory
from ._names import is_normal_absolute, str_path
from ._parked import parked_trees
from ._steps import write_error
from .errors import ArgumentTypeError, InvalidArgument, ModuleConflictError, ModuleWriteError

__all__ = [
    "PathArg",
    "Plan",
    "Visibility",
    "WriteOptions",
    "absolute_root",
    "assume",
    "check_module_conflicts",
    "check_package_conflicts",
    "check_timeout",
    "plan",
]

#: A filesystem path: ``str`` or ``str`` path-like.
PathArg = Union[str, "os.PathLike[str]"]

Visibility = Literal["system", "process"]
_VISIBILITIES = ("system", "process")

_INIT_NAMES = ("__init__.py", "__init__.pyc")
_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


# -- options -------------------------------------------------------------------


def check_timeout(timeout: object) -> float:
    """*timeout* as seconds.

    :raises ArgumentTypeError: it is not a number.
    :raises InvalidArgument: it is negative or not finite.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ArgumentTypeError(
            f"visibility_timeout must be a number of seconds, not {type(timeout).__name__}"
        )
    if not 0 <= timeout < float("inf"):
        raise InvalidArgument(f"visibility_timeout must be >= 0 and finite, not {timeout!r}")
    return float(timeout)


@dataclass(frozen=True)
class WriteOptions:
    """The keyword options every write takes, checked once."""

    visibility: Visibility
    durable: bool
    parents: bool
    create_root: bool
    visibility_timeout: float
    bytecode: bool = True

    @classmethod
    def checked(
        cls,
        *,
        visibility: object,
        durable: bool,
        parents: bool,
        create_root: bool,
        visibility_timeout: object,
        bytecode: bool = True,
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
        return cls(
            cast(Visibility, visibility), durable, parents, create_root, timeout, bool(bytecode)
        )


def absolute_root(root: object) -> str:
    """The absolute path of *root*, checked (nothing touched on disk).

    :raises ArgumentTypeError: *root* is not a ``str`` path.
    :raises InvalidArgument: *root* is empty or contains NUL.
    """
    path = str_path(root, what="root")
    if not path:
        raise InvalidArgument("root must not be empty (use '.' for the working directory)")
    if "\0" in path:
        raise InvalidArgument(f"root must not contain NUL characters: {path!r}")
    return path if type(path) is str and is_normal_absolute(path) else os.path.abspath(path)


def _lookup(path: str, *, follow: bool) -> os.stat_result | None:
    """``stat`` (or ``lstat``) of *path*; ``None`` if there is no such entry.

    :raises ModuleWriteError: any other failure.
    """
    try:
        return os.stat(path) if follow else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:  # cannot exist
            return None
        raise write_error(exc, "look up", path) from None


def _is_dir(st: os.stat_result | None) -> bool:
    return st is not None and stat.S_ISDIR(st.st_mode)


# -- the target and the directories to create ----------------------------------------


@dataclass(frozen=True)
class Plan:
    """Where a write lands, and what it must create on the way.

    :ivar directory: the absolute directory that holds the new entry.
    :ivar anchor: the deepest directory on the way to *directory* that
        exists (*directory* itself when nothing is missing).
    :ivar missing: the directories to create below *anchor*, outermost
        first, each with whether it is a package (created with an empty
        ``__init__.py``) or a plain directory (part of the root).
    """

    directory: str
    anchor: str
    missing: tuple[tuple[str, bool], ...]


def assume(root: str, packages: tuple[str, ...]) -> Plan:
    """The plan of a write into an existing directory, with no lookup: the
    common case.  The writer's lock fails on a missing directory, and the
    write then :func:`plan`-s with lookups."""
    directory = os.path.join(root, *packages)
    return Plan(directory, directory, ())


def plan(root: str, packages: tuple[str, ...], options: WriteOptions) -> Plan:
    """Plan a write under *root* into the package path *packages* (the
    parent packages of the module or package written), looking up what
    exists.

    :raises ModuleWriteError: the root is missing (without ``create_root``)
        or not a directory, a parent package is missing (without
        ``parents``) or not a directory, a lookup failed.
    :raises ModuleConflictError: a new parent package would shadow a module
        file beside it.
    """
    missing: list[tuple[str, bool]] = []
    anchor = root
    root_st = _lookup(root, follow=True)
    if root_st is None:
        if not options.create_root or os.path.lexists(root):
            raise ModuleWriteError(
                errno.ENOENT,
                "root directory does not exist (create_root=True / --create-root creates it)",
                root,
            )
        chain = [root]
        while True:
            parent = os.path.dirname(chain[-1])
            parent_st = _lookup(parent, follow=True)
            if parent_st is not None:
                if not _is_dir(parent_st):
                    raise ModuleWriteError(errno.ENOTDIR, "not a directory", parent)
                anchor = parent
                break
            chain.append(parent)
        missing.extend((path, False) for path in reversed(chain))
    elif not _is_dir(root_st):
        raise ModuleWriteError(errno.ENOTDIR, "root is not a directory", root)
    directory = root
    for i, part in enumerate(packages):
        directory = os.path.join(directory, part)
        dotted = ".".join(packages[: i + 1])
        if not missing:
            st = _lookup(directory, follow=True)
            if _is_dir(st):
                anchor = directory
                continue
            if st is not None or os.path.lexists(directory):
                raise ModuleWriteError(
                    errno.ENOTDIR, f"parent package {dotted!r} is not a directory", directory
                )
        if not options.parents and not (not missing and _parked_here(directory)):
            raise ModuleWriteError(
                errno.ENOENT,
                f"parent package {dotted!r} does not exist (parents=True / --parents creates it)",
                directory,
            )
        if not missing and _lookup(directory + ".py", follow=True) is not None:
            raise ModuleConflictError.shadowing(
                directory + ".py",
                f"creating package {dotted!r} would shadow the module file beside it",
            )
        missing.append((directory, True))
    return Plan(directory, anchor, tuple(missing))


def _parked_here(package: str) -> bool:
    """Is *package* missing because a swap left its tree parked (the write
    puts it back first, see ``_write._land_chain``)?"""
    parent, leaf = os.path.split(package)
    try:
        return bool(parked_trees(parent, leaf))
    except OSError:
        return False


# -- conflicts (checked under the lock) --------------------------------------------


def _extension_module(directory: LockedDirectory, leaf: str) -> str | None:
    for suffix in _EXTENSION_SUFFIXES:
        if directory.lookup(leaf + suffix) is not None:
            return directory.join(leaf + suffix)
    return None


def check_module_conflicts(
    directory: LockedDirectory,
    leaf: str,
    name: str,
    listing: Collection[str] | None = None,
) -> None:
    """Raise if a regular package or an extension module named *leaf* in the
    locked *directory* would shadow module *name*'s new source.

    :param listing: the directory's entries, from a listing known to be
        current (:mod:`modwrite._listing`): when none of the names that
        could shadow *leaf* is in it, no lookup is made.
    :raises ModuleConflictError: the conflict.
    :raises OSError: a lookup failed (not for a missing entry).
    """
    if listing is not None and leaf not in listing:
        for suffix in _EXTENSION_SUFFIXES:  # a loop, not any(): this is a hot path
            if leaf + suffix in listing:
                break
        else:
            return
    st = directory.lookup(leaf)
    if st is not None and stat.S_ISLNK(st.st_mode):
        try:
            st = directory.stat(leaf)
        except (FileNotFoundError, NotADirectoryError):
            st = None
    if _is_dir(st) and any(directory.lookup(f"{leaf}/{init}") is not None for init in _INIT_NAMES):
        raise ModuleConflictError.shadowing(
            directory.join(leaf),
            f"package directory {name!r} exists and would shadow module {name!r}",
        )
    extension = _extension_module(directory, leaf)
    if extension is not None:
        raise ModuleConflictError.shadowing(
            extension, f"extension module {name!r} exists and would shadow the new source"
        )


def check_package_conflicts(directory: LockedDirectory, leaf: str, name: str) -> bool:
    """Check the entry *leaf* of the locked *directory* for package *name*;
    return whether an old package directory is there to replace.

    :raises ModuleConflictError: *leaf* exists and is not a directory (nor a
        symlink to one), a directory spelled otherwise stands there on a
        filesystem that folds case, or a module file ``leaf.py`` or an
        extension module would be shadowed.
    :raises OSError: a lookup failed (not for a missing entry).
    """
    target = directory.join(leaf)
    st = directory.lookup(leaf)
    exists = st is not None
    if st is not None and stat.S_ISLNK(st.st_mode):
        try:
            st = directory.stat(leaf)
        except (FileNotFoundError, NotADirectoryError):
            st = None
    if exists and not _is_dir(st):
        raise ModuleConflictError.shadowing(target, f"{target!r} exists and is not a directory")
    if exists and _folds_case(directory, leaf, st) and leaf not in os.listdir(directory.path):
        # A case-insensitive filesystem (vfat, NTFS, APFS) resolved the name
        # to a directory spelled otherwise: swapping it in would keep that
        # spelling, which the import system (case-sensitive on its listing)
        # would not find under *name*.
        raise ModuleConflictError.shadowing(
            target,
            f"a package directory whose name differs from {name!r} only in case exists; "
            "remove it first",
        )
    if directory.lookup(leaf + ".py") is not None:
        raise ModuleConflictError.shadowing(
            target + ".py", f"module file {name!r} exists; the package would shadow it"
        )
    extension = _extension_module(directory, leaf)
    if extension is not None:
        raise ModuleConflictError.shadowing(
            extension, f"extension module {name!r} exists and would shadow the package"
        )
    return exists


def _folds_case(directory: LockedDirectory, leaf: str, st: os.stat_result | None) -> bool:
    """Does the filesystem find *leaf* (whose ``stat`` is *st*) under its
    case-swapped spelling too?  Only then can the stored spelling differ, and
    only then is the directory listed (one ``lstat`` otherwise: a directory
    that may be searched but not listed stays writable)."""
    variant = leaf.swapcase()
    if st is None or variant == leaf:
        return False
    other = directory.lookup(variant)
    return other is not None and (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)
