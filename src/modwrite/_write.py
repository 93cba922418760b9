"""write_module(), write_package(), batch(): the write protocol.

One write, in order:

1. validate everything (name, source compiled, root, parents, conflicts):
   bad input raises before anything is written;
2. under the directory's writers' lock (:mod:`modwrite._lock`): write the
   bytes to a never-importable temporary name, give the new version a stamp no
   earlier version has (:mod:`modwrite._stamp`), :func:`os.replace` it over
   the target (:mod:`modwrite._atomic`);
3. invalidate this process's finders for the directory
   (:mod:`modwrite._invalidate`) and :mod:`linecache`;
4. with ``visibility="system"``, move the directory's mtime past the landing
   (:mod:`modwrite._settle`), at once or, inside :func:`batch`, once per
   directory when the batch ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import importlib
import importlib.machinery
import linecache
import os
import shutil
import stat
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath
from types import ModuleType
from typing import IO, Literal, Union

from . import _machinery, _settle
from ._atomic import TEMP_MARKER, chmod, fsync_directory, parked_name, temporary_name, write_atomic
from ._clock import DROPPED_MEMORY_S
from ._exchange import exchange
from ._invalidate import invalidate_caches, invalidate_directory_tree, invalidate_file
from ._lock import LockedDirectory, directory_lock
from ._names import str_path, validate_module_name
from ._source import Source, encode_source
from ._stamp import Stamp, make_stamp_unique, stamp_of
from .errors import (
    ArgumentTypeError,
    InvalidArgument,
    ModuleConflictError,
    ModuleWriteError,
)

__all__ = [
    "FileTree",
    "Visibility",
    "batch",
    "write_and_import",
    "write_module",
    "write_package",
]

#: A filesystem path: ``str`` or ``str`` path-like.
PathArg = Union[str, "os.PathLike[str]"]

Visibility = Literal["system", "process"]
_VISIBILITIES = ("system", "process")

#: A package's files: relative module names or POSIX paths -> source, or a
#: nested mapping for a subdirectory.
FileTree = Mapping[Union[str, PurePath], Union[Source, "FileTree"]]

_INIT_NAMES = ("__init__.py", "__init__.pyc")


# -- batch ---------------------------------------------------------------------


#: Directory path -> the mtime (float seconds) its final mtime must exceed
#: beyond the one observed after the landing (the old directory's, when a
#: package was swapped in), or ``-inf``.
Floors = dict[str, float]


@dataclass
class _Batch:
    timeout: float
    directories: Floors = field(default_factory=dict)
    closed: bool = False


_current_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "modwrite_batch", default=None
)


@contextlib.contextmanager
def batch(*, visibility_timeout: float = _settle.DEFAULT_VISIBILITY_TIMEOUT_S) -> Iterator[None]:
    """Defer the cross-process visibility wait of the writes in the block.

    Every :func:`write_module`/:func:`write_package` call with
    ``visibility="system"`` in the block (in this thread or task: the batch
    lives in a :class:`contextvars.ContextVar`) lands at once and is visible
    in this process at once; the wait for the directories' mtimes to move past
    the landings is paid once, for all directories together, when the block
    exits, also when it exits by an exception.  Nested batches join the
    outermost one.  A write made after the block exited by a task that
    inherited the batch's context waits for itself, as outside a batch.

    :param visibility_timeout: the budget of that final wait, in seconds
        (see :class:`~modwrite.VisibilityWarning`).
    :raises InvalidArgument: *visibility_timeout* is negative or not finite.
    """
    _check_timeout(visibility_timeout)
    outer = _current_batch.get()
    if outer is not None and not outer.closed:
        yield
        return
    current = _Batch(visibility_timeout)
    token = _current_batch.set(current)
    try:
        yield
    finally:
        current.closed = True
        _current_batch.reset(token)
        # batch() -> contextlib's __exit__ -> the caller's with statement
        _settle_directories(current.directories, current.timeout, stacklevel=3)


def _merge(into: Floors, more: Floors) -> None:
    for directory, floor in more.items():
        into[directory] = max(floor, into.get(directory, float("-inf")))


def _settle_directories(directories: Floors, timeout: float, stacklevel: int) -> None:
    observed = {}
    for directory in sorted(directories):
        try:
            observed[directory] = _settle.observe(directory)
        except FileNotFoundError:  # removed since: nothing left to see
            continue
    if observed:
        _settle.settle(observed, timeout=timeout, floors=directories, stacklevel=stacklevel + 1)


def _make_visible(directories: Floors, visibility: Visibility, timeout: float) -> None:
    """Called by the public write functions (the warning points at their
    caller)."""
    if visibility == "process" or not directories:
        return
    current = _current_batch.get()
    if current is not None and not current.closed:
        _merge(current.directories, directories)
    else:
        _settle_directories(directories, timeout, stacklevel=3)


# -- argument checks -------------------------------------------------------------


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ArgumentTypeError(
            f"visibility_timeout must be a number of seconds, not {type(timeout).__name__}"
        )
    if not 0 <= timeout < float("inf"):
        raise InvalidArgument(f"visibility_timeout must be >= 0 and finite, not {timeout!r}")
    return float(timeout)


def _check_options(visibility: object, timeout: object) -> None:
    if visibility not in _VISIBILITIES:
        raise InvalidArgument(f"visibility must be one of {_VISIBILITIES!r}, not {visibility!r}")
    _check_timeout(timeout)


_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _write_error(exc: OSError, path: str) -> ModuleWriteError:
    if exc.errno in _NOT_WRITABLE:
        return ModuleWriteError(
            exc.errno, f"directory is not writable ({exc.strerror})", os.path.dirname(path)
        )
    return ModuleWriteError(exc.errno or errno.EIO, exc.strerror or str(exc), path)


def _root_path(root: object) -> str:
    """The absolute path of *root*, type-checked (nothing touched on disk)."""
    root_path = str_path(root, what="root")
    if not root_path:
        raise InvalidArgument("root must not be empty (use '.' for the working directory)")
    return os.path.abspath(root_path)


def _prepare_root(root_path: str, *, create: bool) -> None:
    """Create *root_path* if asked and missing.  Called once every argument
    is known to be valid.  Without *create* nothing is checked here: the
    first operation in the root fails if it is missing or not a directory,
    and :func:`_check_root` then says which (one ``stat`` saved per write)."""
    if create and not os.path.isdir(root_path):
        try:
            os.makedirs(root_path, exist_ok=True)
        except OSError as exc:
            raise _write_error(exc, root_path) from None


def _check_root(root_path: str) -> None:
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
    # anything is written, and _write_error() names the directory.


_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _is_regular_package(directory: str) -> bool:
    return any(os.path.isfile(os.path.join(directory, n)) for n in _INIT_NAMES)


def _extension_module(directory: LockedDirectory, leaf: str) -> str | None:
    for suffix in _EXTENSION_SUFFIXES:
        if directory.exists(leaf + suffix):
            return directory.join(leaf + suffix)
    return None


def _plan_parents(
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
            _check_root(root)
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


def _create_parents(missing: list[str], durable: bool) -> Floors:
    """Create each missing parent package whole (directory with its
    ``__init__.py``, staged then renamed in); return the directories whose
    entries changed."""
    changed: Floors = {}
    for directory in missing:
        parent, leaf = os.path.split(directory)
        staging = os.path.join(parent, temporary_name(leaf))
        os.mkdir(staging)
        try:
            with open(os.path.join(staging, "__init__.py"), "xb") as f:
                if durable:
                    os.fsync(f.fileno())
            try:
                os.rename(staging, directory)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not os.path.isdir(
                    directory
                ):
                    raise
                shutil.rmtree(staging)  # a concurrent writer created it first
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if durable:
            fsync_directory(parent)
        changed[parent] = float("-inf")
        invalidate_caches(directory)
    return changed


# -- write_module ----------------------------------------------------------------


def write_module(
    name: str,
    source: Source,
    *,
    root: PathArg,
    visibility: Visibility = "system",
    durable: bool = False,
    parents: bool = False,
    create_root: bool = False,
    visibility_timeout: float = _settle.DEFAULT_VISIBILITY_TIMEOUT_S,
) -> Path:
    """Write module *name* under *root* so that it can be imported at once.

    ``a.b.c`` lands at ``root/a/b/c.py``.  When this returns:

    * an import (or :func:`importlib.reload`) of *name* in this process finds
      the new source, on any filesystem, without waiting on the clock (G1);
    * with ``visibility="system"``, every other process's stock
      :class:`importlib.machinery.FileFinder` sees the new file at its next
      lookup, also one that listed the directory during the write (G2);
    * no process runs bytecode compiled from an earlier version of the file:
      timestamp pycs of every earlier version are rejected, at every
      optimization level, with or without :data:`sys.pycache_prefix` (G3);
    * readers saw the complete old file or the complete new one (G4).

    :param name: dotted module name (``str``).
    :param source: ``str`` (encoded per its PEP 263 coding cookie, UTF-8 by
        default) or ``bytes`` (written as given, decoded per its cookie).
        Compiled before anything is written.
    :param root: the directory on :data:`sys.path` the module goes under.
    :param visibility: ``"system"`` (default) waits, at most one filesystem
        timestamp tick, until the directory's mtime has moved past the
        landing; ``"process"`` never waits on the clock and guarantees only
        this process.
    :param durable: fsync the file and the directory (crash-durable); the
        default does not fsync: the write is atomic for readers, but a power
        loss may lose it.
    :param parents: create missing parent packages as regular packages (each
        appears whole, with an empty ``__init__.py``).
    :param create_root: create *root* (and its parents) if missing.
    :param visibility_timeout: budget in seconds of the visibility wait; when
        it runs out a :class:`~modwrite.VisibilityWarning` is issued.
    :returns: the absolute path of the written file.
    :raises ArgumentTypeError: *name*, *source* or *root* has a wrong type.
    :raises InvalidModuleName: *name* is not a valid dotted module name.
    :raises InvalidSource: *source* contains NUL or cannot be encoded.
    :raises ModuleSyntaxError: *source* does not compile or its coding cookie
        is bad.
    :raises InvalidArgument: *visibility* or *visibility_timeout* is invalid.
    :raises ModuleConflictError: a regular package directory or an extension
        module of the same name would shadow the new file.
    :raises ModuleWriteError: *root* is missing, not a directory or
        read-only, a parent package is missing, or the write failed (errno
        preserved; the old file is intact and no temporary file is left).

    The file's bytes are exactly the caller's, except in one case: a third
    rewrite of the same file within one second that is not longer than the
    previous version gets trailing newlines, and a second one gets an mtime
    up to 2 s ahead (see *Guarantees and limits* in the documentation).
    """
    parts = validate_module_name(name)
    _check_options(visibility, visibility_timeout)
    root_path = _root_path(root)
    directory = os.path.join(root_path, *parts[:-1])
    leaf = parts[-1]
    target = os.path.join(directory, leaf + ".py")
    data = encode_source(name, source, target)
    missing = _plan_parents(root_path, parts[:-1], create=parents, create_root=create_root)
    _prepare_root(root_path, create=create_root)
    try:
        changed = _create_parents(missing, durable)
        own = _land_module(
            directory, leaf, name, data, durable=durable, track=_machinery.installed()
        )
    except ModuleConflictError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR) and not parts[:-1]:
            _check_root(root_path)
        raise _write_error(exc, target) from None
    changed[directory] = float("-inf")
    invalidate_file(target, own)
    linecache.checkcache(target)
    _make_visible(changed, visibility, visibility_timeout)
    return Path(target)


def _check_module_conflicts(directory: LockedDirectory, leaf: str, name: str) -> None:
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


def _land_module(
    directory: str, leaf: str, name: str, data: bytes, *, durable: bool, track: bool
) -> tuple[float, float] | None:
    """Check conflicts, then land ``leaf.py``, all under the directory's lock
    (the conflict checks write nothing).  With *track*, return the
    directory's mtime (float seconds) before and after, for modwrite's own
    finders to update their listing in O(1)."""
    filename = leaf + ".py"
    with directory_lock(directory) as locked:
        _check_module_conflicts(locked, leaf, name)
        try:
            st = locked.stat(filename)
        except FileNotFoundError:
            previous: Stamp | None = None
            mode_bits: int | None = None
        else:
            previous, mode_bits = stamp_of(st), stat.S_IMODE(st.st_mode)

        def stamp(f: IO[bytes], temp: str) -> None:
            make_stamp_unique(f, previous, temp)

        before = locked.stat(".").st_mtime if track else 0.0
        write_atomic(
            locked, filename, data, mode_bits=mode_bits, durable=durable, before_commit=stamp
        )
        return (before, locked.stat(".").st_mtime) if track else None


# -- write_package ---------------------------------------------------------------


def _flatten(name: str, files: object) -> dict[PurePosixPath, bytes | None]:
    """Relative POSIX path -> bytes to write (``None`` marks a directory)."""
    if not isinstance(files, Mapping):
        raise ArgumentTypeError(f"files must be a mapping, not {type(files).__name__}")
    flat: dict[PurePosixPath, bytes | None] = {}

    def add(prefix: PurePosixPath, tree: Mapping[object, object]) -> None:
        for key, value in tree.items():
            if isinstance(value, Mapping):
                # A subdirectory: its key is a directory name or path as given.
                relative = prefix / _key_path(
                    name, PurePosixPath(key) if isinstance(key, str) else key
                )
                _claim(flat, name, relative, None)
                add(relative, value)
                continue
            relative = prefix / _key_path(name, key)
            dotted = ".".join((name, *relative.with_suffix("").parts))
            if relative.suffix == ".py":
                data = encode_source(dotted, value, relative.as_posix())
            elif isinstance(value, str):
                data = value.encode("utf-8")
            elif isinstance(value, (bytes, bytearray, memoryview)):
                data = bytes(value)
            else:
                raise ArgumentTypeError(
                    f"content of {relative.as_posix()!r} must be str or bytes, "
                    f"not {type(value).__name__}"
                )
            _claim(flat, name, relative, data)

    add(PurePosixPath(), files)
    flat.setdefault(PurePosixPath("__init__.py"), b"")
    return flat


def _key_path(name: str, key: object) -> PurePosixPath:
    if isinstance(key, PurePath):
        path = PurePosixPath(key.as_posix())
    elif isinstance(key, str):
        if "/" in key or "\\" in key or key.endswith(".py"):
            path = PurePosixPath(key.replace("\\", "/"))
        else:
            parts = validate_module_name(key, what=f"module name in files of {name!r}")
            return PurePosixPath(*parts[:-1], parts[-1] + ".py")
    else:
        raise ArgumentTypeError(f"keys of files must be str or paths, not {type(key).__name__}")
    if path.is_absolute() or not path.parts or any(p in ("..", ".", "") for p in path.parts):
        raise InvalidArgument(
            f"path {key!s} in files of {name!r} must be relative, without '.' or '..'"
        )
    if any(TEMP_MARKER in p for p in path.parts):
        raise InvalidArgument(f"path {key!s} uses modwrite's temporary marker {TEMP_MARKER!r}")
    return path


def _claim(
    flat: dict[PurePosixPath, bytes | None], name: str, path: PurePosixPath, data: bytes | None
) -> None:
    for parent in path.parents:
        if parent.parts and flat.get(parent) is not None:
            raise InvalidArgument(
                f"files of {name!r}: {parent.as_posix()!r} is both a file and a directory"
            )
        if parent.parts:
            flat.setdefault(parent, None)
    if path in flat and (data is not None or flat[path] is not None):
        raise InvalidArgument(f"files of {name!r}: {path.as_posix()!r} is given twice")
    flat[path] = data


def write_package(
    name: str,
    files: FileTree,
    *,
    root: PathArg,
    visibility: Visibility = "system",
    durable: bool = False,
    parents: bool = False,
    create_root: bool = False,
    visibility_timeout: float = _settle.DEFAULT_VISIBILITY_TIMEOUT_S,
) -> Path:
    """Write package *name* under *root*, replacing any old one whole.

    The package is built beside its target under a never-importable name and
    moved into place in one step: on Linux the two directories are exchanged
    atomically (``renameat2(RENAME_EXCHANGE)``), so a reader sees the whole
    old package or the whole new one.  Where exchange is not available the
    old directory is renamed away and the new one renamed in: between the two
    renames the package does not exist.  The old tree is then deleted.

    :param files: maps relative names to contents.  A ``str`` key without
        ``/`` is a module name relative to the package (``"__init__"``,
        ``"sub.mod"`` -> ``sub/mod.py``); a key with ``/``, ending in
        ``.py``, or a :class:`~pathlib.PurePath` is a relative file path
        (data files included); a mapping value is a subdirectory.  Contents
        are ``str`` or ``bytes``; ``.py`` files are compiled first.  An empty
        ``__init__.py`` is added when missing.
    :returns: the absolute path of the package directory.

    The other parameters, the guarantees and the exceptions are those of
    :func:`write_module`, plus :class:`~modwrite.InvalidArgument` for clashing
    entries in *files*, and :class:`~modwrite.ModuleConflictError` when a
    module file ``name.py`` or an extension module of that name exists, or
    the target is not a directory.  Every finder cached in this process for
    the old or the new package's directories is invalidated.
    """
    parts = validate_module_name(name)
    _check_options(visibility, visibility_timeout)
    root_path = _root_path(root)
    flat = _flatten(name, files)
    parent = os.path.join(root_path, *parts[:-1])
    target = os.path.join(parent, parts[-1])
    missing = _plan_parents(root_path, parts[:-1], create=parents, create_root=create_root)
    _prepare_root(root_path, create=create_root)
    _check_root(root_path)
    if not missing:
        _check_package_conflicts(parent, parts[-1], name)
    try:
        changed = _create_parents(missing, durable)
        new_dirs, old_mtimes = _land_tree(target, flat, durable=durable)
    except ModuleWriteError:
        raise
    except OSError as exc:
        raise _write_error(exc, target) from None
    changed[parent] = float("-inf")
    for rel_dir in new_dirs:
        changed[os.path.join(target, rel_dir) if rel_dir else target] = old_mtimes.get(
            rel_dir, float("-inf")
        )
    invalidate_directory_tree(target, new_dirs | set(old_mtimes))
    for file_path, data in flat.items():
        if data is not None:
            linecache.checkcache(os.path.join(target, *file_path.parts))
    _make_visible(changed, visibility, visibility_timeout)
    return Path(target)


def _check_package_conflicts(parent: str, leaf: str, name: str) -> None:
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


def _old_stamps(target: str) -> dict[PurePosixPath, tuple[Stamp, int]]:
    """Stamp and permission bits of each file of the old tree, by relative path."""
    stamps: dict[PurePosixPath, tuple[Stamp, int]] = {}
    if not os.path.isdir(target):
        return stamps
    for dirpath, _dirnames, filenames in os.walk(target):
        rel_dir = PurePosixPath(*Path(os.path.relpath(dirpath, target)).parts)
        for filename in filenames:
            try:
                st = os.stat(os.path.join(dirpath, filename))
            except OSError:
                continue
            stamps[rel_dir / filename] = (stamp_of(st), stat.S_IMODE(st.st_mode))
    return stamps


def _tree_dir_mtimes(top: str) -> dict[str, float]:
    """Relative directory -> st_mtime (float seconds) for every directory of
    the tree at *top*."""
    found = {"": os.stat(top).st_mtime}
    for dirpath, dirnames, _ in os.walk(top):
        for d in dirnames:
            path = os.path.join(dirpath, d)
            try:
                found[os.path.relpath(path, top)] = os.stat(path).st_mtime
            except OSError:  # pragma: no cover - removed meanwhile
                continue
    return found


# Stamps of source files that write_package() dropped from a package, kept a
# few seconds: a file re-added in the same second must not take a stamp an
# older version's pyc (kept under sys.pycache_prefix) still carries.  This
# covers this process's writes only.
_dropped_stamps: dict[str, tuple[Stamp, float]] = {}
_SOURCE_SUFFIXES = tuple(importlib.machinery.SOURCE_SUFFIXES)


def _remember_dropped(
    target: str,
    old: dict[PurePosixPath, tuple[Stamp, int]],
    flat: dict[PurePosixPath, bytes | None],
) -> None:
    now = time.monotonic()
    for path in [p for p, (_, seen) in _dropped_stamps.items() if now - seen > DROPPED_MEMORY_S]:
        del _dropped_stamps[path]
    for relative, (stamp_, _mode) in old.items():
        if relative not in flat and relative.suffix in _SOURCE_SUFFIXES:
            _dropped_stamps[os.path.join(target, *relative.parts)] = (stamp_, now)


def _recently_dropped(path: str) -> Stamp | None:
    entry = _dropped_stamps.get(path)
    if entry is None or time.monotonic() - entry[1] > DROPPED_MEMORY_S:
        return None
    return entry[0]


@contextlib.contextmanager
def _lock_if_directory(path: str) -> Iterator[None]:
    """Hold *path*'s writers' lock if it is a directory: write_module() calls
    into the old package then wait for the swap and start over on the new
    one, instead of landing in the doomed old tree."""
    if not os.path.isdir(path):
        yield
        return
    try:
        with directory_lock(path):
            yield
    except FileNotFoundError:  # pragma: no cover - removed meanwhile
        yield


def _land_tree(
    target: str, flat: dict[PurePosixPath, bytes | None], *, durable: bool
) -> tuple[set[str], dict[str, float]]:
    """Build the tree beside *target* and move it in; return the relative
    directories of the new tree, and the mtime of each directory of the old
    tree as it was right after the swap (for the visibility settle: a stock
    finder may have cached those values for the same paths)."""
    parent, leaf = os.path.split(target)
    staging = os.path.join(parent, temporary_name(leaf))
    new_dirs = {""} | {str(PurePath(*p.parts)) for p, d in flat.items() if d is None}
    old_mtimes: dict[str, float] = {}
    with directory_lock(parent), _lock_if_directory(target):
        old = _old_stamps(target)
        os.mkdir(staging)
        try:
            for relative in sorted(p for p, d in flat.items() if d is None):
                os.mkdir(os.path.join(staging, *relative.parts))
            for relative, data in flat.items():
                if data is not None:
                    final = os.path.join(target, *relative.parts)
                    previous = old.get(relative)
                    stamp_ = previous[0] if previous else _recently_dropped(final)
                    _write_new_file(
                        os.path.join(staging, *relative.parts),
                        data,
                        stamp_ if relative.suffix in _SOURCE_SUFFIXES else None,
                        previous[1] if previous else None,
                        durable,
                    )
            if durable:
                for rel_dir in new_dirs:
                    fsync_directory(os.path.join(staging, rel_dir))
            old_tree = _swap_in(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if old_tree is not None:
            old_mtimes = _tree_dir_mtimes(old_tree)
        _remember_dropped(target, old, flat)
        if durable:
            fsync_directory(parent)
    if old_tree is not None:
        shutil.rmtree(old_tree, ignore_errors=True)
    return new_dirs, old_mtimes


def _write_new_file(
    path: str, data: bytes, previous: Stamp | None, mode_bits: int | None, durable: bool
) -> None:
    """Write one file of a package being built.  Sources get the stamp rule;
    data files stay byte-exact (no padding, no mtime moved)."""
    with open(path, "xb") as f:
        if mode_bits is not None:
            chmod(f.fileno(), path, mode_bits)
        f.write(data)
        f.flush()
        make_stamp_unique(f, previous, path)
        if durable:
            os.fsync(f.fileno())


def _swap_in(staging: str, target: str) -> str | None:
    """Put *staging* at *target*; return where the old tree now is, if any."""
    if not os.path.isdir(target):
        try:
            os.rename(staging, target)
            return None
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    if exchange(staging, target):
        return staging
    # Fallback (no RENAME_EXCHANGE): two renames; the target is briefly absent.
    # The old tree is parked under a name `modwrite clean` puts back, never
    # deletes, while the target is missing (a crash between the renames).
    parent, leaf = os.path.split(target)
    old_tree = os.path.join(parent, parked_name(leaf))
    os.rename(target, old_tree)
    try:
        os.rename(staging, target)
    except BaseException:
        try:
            os.rename(old_tree, target)
        except OSError as exc:
            raise ModuleWriteError(
                exc.errno or errno.EIO,
                f"the old package could not be put back; it is kept at {old_tree!r}",
                target,
            ) from exc
        raise
    return old_tree


# -- write_and_import --------------------------------------------------------------


def write_and_import(
    name: str,
    source: Source,
    *,
    root: PathArg,
    visibility: Visibility = "system",
    durable: bool = False,
    parents: bool = False,
    create_root: bool = False,
    visibility_timeout: float = _settle.DEFAULT_VISIBILITY_TIMEOUT_S,
) -> ModuleType:
    """:func:`write_module`, then return the module, imported fresh.

    A name already in :data:`sys.modules` is :func:`importlib.reload`-ed (the
    module object keeps its identity, as ``reload`` does), any other name is
    imported with :func:`importlib.import_module`.  *root* must be on
    :data:`sys.path` (or inside a package on it) for the import to find it.

    :raises ImportError: the import failed (as :func:`importlib.import_module`
        raises it); plus everything :func:`write_module` raises.
    """
    write_module(
        name,
        source,
        root=root,
        visibility=visibility,
        durable=durable,
        parents=parents,
        create_root=create_root,
        visibility_timeout=visibility_timeout,
    )
    module = sys.modules.get(name)
    if module is not None:
        return importlib.reload(module)
    return importlib.import_module(name)
