"""write_module() and write_package(): the write protocol, each a short
pipeline.

One write, in order:

1. validate everything that needs no disk (name, options, the source
   compiled, the package's files): bad input raises before anything is
   written (:mod:`modwrite._names`, :mod:`modwrite._source`,
   :mod:`modwrite._tree`, :mod:`modwrite._plan`);
2. plan the target: the root, the parent packages to create
   (:mod:`modwrite._plan`);
3. under the directory's writers' lock (:mod:`modwrite._lock`), check what
   would conflict, write the bytes to a never-importable temporary name, give
   the new version a stamp no earlier version has (:mod:`modwrite._stamp`),
   and :func:`os.replace` it over the target (:mod:`modwrite._atomic`), or
   swap a staged package tree in (:mod:`modwrite._package`);
4. invalidate this process's finders for the directory
   (:mod:`modwrite._invalidate`) and :mod:`linecache`;
5. with ``visibility="system"``, move the directory's mtime past the landing
   (:mod:`modwrite._settle`), at once or, inside :func:`~modwrite.batch`,
   once per directory when the batch ends.
"""

from __future__ import annotations

import errno
import linecache
import os
import stat
from pathlib import Path
from typing import IO

from . import _machinery
from ._atomic import write_atomic
from ._invalidate import invalidate_directory_tree, invalidate_file
from ._lock import directory_lock
from ._names import validate_module_name
from ._package import create_parents, land_tree
from ._plan import (
    PathArg,
    Visibility,
    WriteOptions,
    absolute_root,
    check_module_conflicts,
    check_package_conflicts,
    check_root,
    plan_parents,
    prepare_root,
    write_error,
)
from ._settle import DEFAULT_VISIBILITY_TIMEOUT_S, make_visible
from ._source import Source, encode_source
from ._stamp import Stamp, make_stamp_unique, stamp_of
from ._tree import FileTree, flatten
from .errors import ModuleConflictError, ModuleWriteError

__all__ = ["write_module", "write_package"]


def write_module(
    name: str,
    source: Source,
    *,
    root: PathArg,
    visibility: Visibility = "system",
    durable: bool = False,
    parents: bool = False,
    create_root: bool = False,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT_S,
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
    options = WriteOptions.checked(
        visibility=visibility,
        durable=durable,
        parents=parents,
        create_root=create_root,
        visibility_timeout=visibility_timeout,
    )
    root_path = absolute_root(root)
    directory = os.path.join(root_path, *parts[:-1])
    leaf = parts[-1]
    target = os.path.join(directory, leaf + ".py")
    data = encode_source(name, source, target)
    missing = plan_parents(
        root_path, parts[:-1], create=options.parents, create_root=options.create_root
    )
    prepare_root(root_path, create=options.create_root)
    try:
        changed = create_parents(missing, options.durable)
        own = _land_module(
            directory, leaf, name, data, durable=options.durable, track=_machinery.installed()
        )
    except ModuleConflictError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR) and not parts[:-1]:
            check_root(root_path)
        raise write_error(exc, target) from None
    changed[directory] = float("-inf")
    invalidate_file(target, own)
    linecache.checkcache(target)
    make_visible(changed, options.visibility, options.visibility_timeout)
    return Path(target)


def _land_module(
    directory: str, leaf: str, name: str, data: bytes, *, durable: bool, track: bool
) -> tuple[float, float] | None:
    """Check conflicts, then land ``leaf.py``, all under the directory's lock
    (the conflict checks write nothing).  With *track*, return the
    directory's mtime (float seconds) before and after, for modwrite's own
    finders to update their listing in O(1)."""
    filename = leaf + ".py"
    with directory_lock(directory) as locked:
        check_module_conflicts(locked, leaf, name)
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


def write_package(
    name: str,
    files: FileTree,
    *,
    root: PathArg,
    visibility: Visibility = "system",
    durable: bool = False,
    parents: bool = False,
    create_root: bool = False,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT_S,
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
    options = WriteOptions.checked(
        visibility=visibility,
        durable=durable,
        parents=parents,
        create_root=create_root,
        visibility_timeout=visibility_timeout,
    )
    root_path = absolute_root(root)
    flat = flatten(name, files)
    parent = os.path.join(root_path, *parts[:-1])
    target = os.path.join(parent, parts[-1])
    missing = plan_parents(
        root_path, parts[:-1], create=options.parents, create_root=options.create_root
    )
    prepare_root(root_path, create=options.create_root)
    check_root(root_path)
    if not missing:
        check_package_conflicts(parent, parts[-1], name)
    try:
        changed = create_parents(missing, options.durable)
        new_dirs, old_mtimes = land_tree(target, flat, durable=options.durable)
    except ModuleWriteError:
        raise
    except OSError as exc:
        raise write_error(exc, target) from None
    changed[parent] = float("-inf")
    for rel_dir in new_dirs:
        changed[os.path.join(target, rel_dir) if rel_dir else target] = old_mtimes.get(
            rel_dir, float("-inf")
        )
    invalidate_directory_tree(target, new_dirs | set(old_mtimes))
    for file_path, data in flat.items():
        if data is not None:
            linecache.checkcache(os.path.join(target, *file_path.parts))
    make_visible(changed, options.visibility, options.visibility_timeout)
    return Path(target)
