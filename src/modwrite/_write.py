"""write_module() and write_package(): the write protocol, each a short
pipeline.

One write, in order:

1. check everything that needs no disk (name, options, the source compiled,
   the package's files): bad input raises before anything is written
   (:mod:`modwrite._names`, :mod:`modwrite._source`, :mod:`modwrite._tree`,
   :mod:`modwrite._plan`);
2. plan the target: its directory, and the directories to create on the way
   (:func:`modwrite._plan.plan`; a write first assumes the directory exists,
   and plans with lookups only when locking it shows otherwise);
3. under the writers' lock of the directory that changes
   (:mod:`modwrite._lock`): check what would conflict (from a current
   listing where one is known, :mod:`modwrite._listing`), write the new version
   under a never-importable name with a stamp no earlier version has
   (:mod:`modwrite._stamp`), and move it in: a file with :func:`os.replace`
   (:mod:`modwrite._atomic`), a tree (a package, or new parents with what
   they hold) with one rename or exchange (:mod:`modwrite._package`).  That
   rename is the **commit point**;
4. write the bytecode cache of each new source from the code object that
   validated it (:mod:`modwrite._bytecode`: a module's after the commit, a
   package's in the tree it lands with), invalidate this process's finders
   for what landed (:mod:`modwrite._invalidate`), then :mod:`linecache`;
5. remove what the commit made obsolete, and with ``visibility="system"``
   move the directory's mtime past the landing (:mod:`modwrite._settle`), at
   once or, inside :func:`~modwrite.batch`, once per directory when the batch
   ends.

Steps 2-4 run with the terminating signals held back
(:mod:`modwrite._interrupts`): an interrupt arrives before the commit point
(nothing written, nothing left) or after the in-process invalidation, never
between.  Steps 4-5 never raise: a failure there is a warning.
"""

from __future__ import annotations

import errno
import linecache
import os
import stat
import sys
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from types import CodeType

from ._atomic import fsync_directory, write_atomic
from ._bytecode import write_pyc
from ._interrupts import deferred_signals
from ._invalidate import (
    Landing,
    current_listing,
    invalidate_directory_tree,
    invalidate_landing,
)
from ._listing import known_entries, note_landing
from ._lock import LockedDirectory, directory_lock, lock_directory
from ._names import validate_module_name
from ._package import (
    newest_parked,
    old_files,
    remove_trash,
    remove_tree,
    restore_parked,
    stage,
    swap_in,
    to_trash,
    trash_stale_parked,
    tree_mtimes,
)
from ._plan import (
    PathArg,
    Plan,
    Visibility,
    WriteOptions,
    absolute_root,
    assume,
    check_module_conflicts,
    check_package_conflicts,
    plan,
)
from ._settle import DEFAULT_VISIBILITY_TIMEOUT_S, Floors, make_visible
from ._source import Source, encode_source
from ._stamp import Stamp, WritableFile, make_stamp_unique, remember_dropped, stamp_of
from ._steps import step, write_error
from ._tree import Compiled, FileTree, FlatTree, flatten
from .errors import ModuleWriteError, ModwriteError, PostCommitWarning

__all__ = ["write_module", "write_package"]

#: How often a write plans again when another writer changed the directories
#: it was about to create (each retry follows a concurrent success).
_MAX_REPLANS = 100


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
    bytecode: bool = True,
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
    * readers saw the complete old file or the complete new one (G4);
    * unless *bytecode* is false or :data:`sys.dont_write_bytecode` is set,
      the module's bytecode cache holds the code compiled to validate
      *source*, as a checked hash-based pyc (PEP 552): no importer compiles
      it again, with the stock machinery or :mod:`modwrite.machinery`.

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
    :param bytecode: write the bytecode cache at write time (``True``, the
        default, unless :data:`sys.dont_write_bytecode`); a pyc that cannot
        be written is skipped silently, as the import system skips it.
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

    The rename of the new file over the old one is the commit point.  A
    modwrite exception means the write did not land: the disk is as it was,
    with no temporary file and no new parent package (new parents are built
    with the module and moved in by the same rename).  When the call returns,
    the new version stands; what fails after the commit point (the
    directory's fsync with *durable*, the visibility wait) is a
    :class:`~modwrite.PostCommitWarning` or :class:`~modwrite.VisibilityWarning`,
    never an exception.  A ``KeyboardInterrupt`` (or another exception a
    signal handler raises) is held back while the disk changes and raised
    when the write has landed whole or been rolled back.

    The file's bytes are exactly the caller's, except in one case: a third
    rewrite of the same file within one second that is not longer than the
    previous version gets trailing newlines, and a second one gets an mtime
    up to 2 s ahead (see *Guarantees and limits* in the documentation).
    """
    options = WriteOptions.checked(
        visibility=visibility,
        durable=durable,
        parents=parents,
        create_root=create_root,
        visibility_timeout=visibility_timeout,
        bytecode=bytecode,
    )
    return Path(land_module(name, source, root, options).path)


class ModuleLanded:
    """What :func:`land_module` landed: the file's absolute *path*, its bytes
    *data*, the *code* object compiled from them, and the *identity* of the
    landed file (``(st_dev, st_ino, st_size, st_mtime_ns)``, ``None`` if
    unknown): while the file at *path* still has it, *code* is its code."""

    __slots__ = ("code", "data", "identity", "path")

    def __init__(
        self, path: str, data: bytes, code: CodeType, identity: tuple[int, int, int, int] | None
    ) -> None:
        self.path = path
        self.data = data
        self.code = code
        self.identity = identity


def land_module(name: str, source: Source, root: PathArg, options: WriteOptions) -> ModuleLanded:
    """:func:`write_module` with its options checked; returns what landed
    (for :func:`~modwrite.write_and_import`, which runs the code object)."""
    parts = validate_module_name(name)
    root_path = absolute_root(root)
    filename = parts[-1] + ".py"
    target = os.path.join(root_path, *parts[:-1], filename)
    data, code = encode_source(name, source, target)
    if name in sys.modules:
        _note_what_ran(name)
    landed = _land(
        root_path,
        parts[:-1],
        options,
        lambda: ({PurePosixPath(filename): data}, {PurePosixPath(filename): code}),
        lambda directory, signals: _land_module(
            directory, filename, name, data, code, options, signals
        ),
    )
    linecache.checkcache(target)
    # The warnings point at the caller of write_module() or write_and_import().
    _warn(landed.problems, stacklevel=4)
    make_visible(landed.floors, options.visibility, options.visibility_timeout, stacklevel=4)
    return ModuleLanded(target, data, code, landed.identity or _identity_of(target))


def _note_what_ran(name: str, *, submodules: bool = False) -> None:
    """Before a write replaces their files and bytecode caches, let
    :func:`modwrite.changed_modules` learn what ran for the loaded module
    *name* (and its loaded submodules), if it has not yet: the cache it
    would learn it from is about to be rewritten."""
    if submodules:
        prefix = name + "."
        loaded = [
            module
            for module_name, module in list(sys.modules.items())
            if module_name == name or module_name.startswith(prefix)
        ]
    else:
        loaded = [sys.modules[name]] if name in sys.modules else []
    if loaded:
        from ._changes import learn_what_ran

        with deferred_signals():  # no descriptor it opens is lost to an interrupt
            learn_what_ran(loaded)


def _identity_of(path: str) -> tuple[int, int, int, int] | None:
    """The identity (see :class:`ModuleLanded`) of the file at *path*, or
    ``None`` if it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _land(
    root: str,
    packages: tuple[str, ...],
    options: WriteOptions,
    chain_entries: Callable[[], tuple[FlatTree, Compiled]],
    land_into: Callable[[str, deferred_signals], _Landed | None],
) -> _Landed:
    """Plan, then land, with signals held back: into the existing directory
    of the package path *packages* by *land_into*, or, where directories are
    missing, with the entries *chain_entries* gives (relative to that
    directory, and the code objects of its sources) at the end of a chain of
    new ones (:func:`_land_chain`); plan again with lookups when a landing
    finds the directories changed (``None``).

    A signal delivered when the landing has committed still removes the
    tree it replaced (trash), then propagates.

    :raises ModuleWriteError: nothing landed; also when the directories kept
        changing under :data:`_MAX_REPLANS` attempts (``EAGAIN``).
    """
    landed: _Landed | None = None
    try:
        with deferred_signals() as signals:
            where = assume(root, packages)
            for _ in range(_MAX_REPLANS):
                if where.missing:
                    landed = _land_chain(where, *chain_entries(), options, signals)
                else:
                    landed = land_into(where.directory, signals)
                if landed is not None:
                    return landed
                where = plan(root, packages, options)
    except BaseException:
        if landed is not None:  # committed, then interrupted: still remove the old tree
            with deferred_signals():
                remove_trash(landed.trash)
        raise
    raise ModuleWriteError(  # pragma: no cover - another writer changed them every time
        errno.EAGAIN, "the directories kept changing", os.path.join(root, *packages)
    )


def _commit(staging: str, target: str, *, replace: bool) -> tuple[bool, str | None]:
    """:func:`swap_in` as the commit point of a landing: ``(True, what it
    replaced)``, or ``(False, None)`` when something took *target* meanwhile
    (plan again).  On any other failure the staged tree is removed and the
    error raised (:class:`~modwrite.ModuleWriteError` naming the step)."""
    try:
        with step("move the new tree in", target):
            return True, swap_in(staging, target, replace=replace)
    except BaseException as exc:
        remove_tree(staging)
        if (
            not replace
            and isinstance(exc, ModuleWriteError)
            and exc.errno in (errno.EEXIST, errno.ENOTEMPTY)
        ):
            return False, None
        raise


class _Landed:
    """What a committed write leaves to do: the directories whose listing
    changed (with the floor of each one's visibility settle), and the
    problems met after the commit point (reported as warnings)."""

    __slots__ = ("floors", "identity", "padding", "problems", "trash")

    def __init__(self, floors: Floors, trash: list[str] | None = None) -> None:
        self.floors = floors
        self.trash = trash or []
        self.problems: list[str] = []
        #: A module's landed file (see :class:`ModuleLanded`), and the
        #: newlines the stamp rule appended to it.
        self.identity: tuple[int, int, int, int] | None = None
        self.padding = 0


def _warn(problems: list[str], *, stacklevel: int = 3) -> None:
    """Report what failed after the commit point (the warnings point at the
    caller of the public write function: *stacklevel* counts from here)."""
    for problem in problems:
        warnings.warn(PostCommitWarning(problem), stacklevel=stacklevel)


def _own_stat(locked: LockedDirectory) -> os.stat_result | None:
    try:
        return locked.own_stat()
    except OSError:
        return None


def _fsync(directory: str, landed: _Landed) -> None:
    """The directory's fsync after a durable commit (a failure is reported,
    not raised: the write has landed)."""
    try:
        fsync_directory(directory)
    except OSError as exc:
        landed.problems.append(
            f"the write landed, but the fsync of {directory!r} failed "
            f"({exc.strerror or exc}): it may not survive a power loss"
        )


def _try_lock(directory: str, signals: deferred_signals) -> LockedDirectory | None:
    """Take *directory*'s writers' lock (the caller releases it); ``None``
    if the directory is gone (the caller plans again).

    :raises ModuleWriteError: it cannot be opened for another reason.
    """
    try:
        return lock_directory(directory, signals)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise write_error(exc, "open the directory", directory) from None


def _lock(stack: ExitStack, directory: str, signals: deferred_signals) -> LockedDirectory | None:
    """:func:`_try_lock`, released when *stack* closes."""
    locked = _try_lock(directory, signals)
    if locked is not None:
        stack.callback(locked.release)
    return locked


def _land_module(
    directory: str,
    filename: str,
    name: str,
    data: bytes,
    code: CodeType,
    options: WriteOptions,
    signals: deferred_signals,
) -> _Landed | None:
    """Check conflicts, then land *filename* in *directory*, under its lock
    (the conflict checks write nothing), then its bytecode; ``None`` if the
    directory vanished.

    The common case (a small module) is dominated by this function's own
    cost, so it is kept flat: one lock call, no context stack, one ``try``
    that names the failed step (as :class:`~modwrite._steps.step` does), and
    lookups that a current listing answers are not made (the stamp rule's
    is).
    """
    locked = _try_lock(directory, signals)
    if locked is None:
        return None
    try:
        landed = _Landed({directory: float("-inf")})
        try:
            doing = "look up entries of the directory"
            # The directory as it is under the lock: the finders' listings
            # and modwrite's own are checked, then updated, against these.
            before = locked.at_lock or _own_stat(locked)
            listing = None
            if before is not None:
                listing = known_entries(
                    locked.fd, before, current_listing(directory, before.st_mtime)
                )
            check_module_conflicts(locked, filename[:-3], name, listing)
            previous, mode_bits = _predecessor(locked, filename, listing)

            def stamp(f: WritableFile, temp: str) -> None:
                if previous is not None:
                    landed.padding = make_stamp_unique(f, previous, locked.join(temp))
                st = os.fstat(f.fileno())
                landed.identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

            doing = "write the new file in the directory"
            write_atomic(
                locked,
                filename,
                data,
                mode_bits=mode_bits,
                durable=options.durable,
                before_commit=stamp,
            )
        except ModwriteError:
            raise
        except OSError as exc:
            raise write_error(exc, doing, directory) from None
        # -- committed: nothing below raises --
        target = os.path.join(directory, filename)
        after = _own_stat(locked)
        if before is not None and after is not None:
            note_landing(before, after, filename)
        if options.durable:
            _fsync(directory, landed)
        invalidate_landing(
            Landing(
                os.path.normcase(target),
                False,
                None if before is None else before.st_mtime,
                None if after is None else after.st_mtime,
            )
        )
        if options.bytecode:
            padding = landed.padding

            def made_cache_directory(path: str) -> None:
                # The first pyc in this directory made its __pycache__: the
                # directory changed again, so keep the listings current.
                if after is not None and os.path.dirname(path) == os.path.dirname(target):
                    _note_new_entry(locked, after, path)

            source = data + b"\n" * padding if padding else data
            write_pyc(target, source, code, mode_bits, made_cache_directory)
        return landed
    finally:
        locked.release()


def _note_new_entry(locked: LockedDirectory, before: os.stat_result, path: str) -> None:
    """This process just made the directory *path* in the locked directory,
    whose ``fstat`` was *before* just before: keep modwrite's own listing
    and the finders' current (see :func:`note_landing`); nothing raises."""
    after = _own_stat(locked)
    if after is None:
        return
    note_landing(before, after, os.path.basename(path))
    invalidate_landing(Landing(os.path.normcase(path), True, before.st_mtime, after.st_mtime))


def _predecessor(
    locked: LockedDirectory, filename: str, listing: set[str] | None
) -> tuple[Stamp | None, int | None]:
    """The stamp and permission bits of the file *filename* of the locked
    directory that a write replaces; ``(None, None)`` if there is none.

    The stamp rule (G3) rests on this lookup, so absence is never taken from
    the listing alone (another program may have created the file in the
    listing's timestamp tick): a current *listing* without the name and an
    ``access(F_OK)`` (effective IDs) that finds nothing must agree.  That
    costs no exception, about 5 µs less than a failed ``stat`` on a small
    write's path; otherwise the file is looked up with ``stat``.  An error of
    ``access`` itself (EIO) then counts as absence: only for a name the
    current listing lacks too.
    """
    if listing is not None and filename not in listing and not locked.exists(filename):
        return None, None
    try:
        st = locked.stat(filename)
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    return stamp_of(st), stat.S_IMODE(st.st_mode)


def _put_back_parked(locked: LockedDirectory, leaf: str) -> None:
    """*leaf* is missing and a swap left its old tree parked (its writer died
    between the two renames of the fallback): put the tree back before
    writing into it, as ``modwrite clean`` would.  Only under a real
    ``flock``, which no writer between its renames can be holding.

    :raises ModuleWriteError: without ``flock`` here (nothing changed).
    """
    if not locked.exclusive:
        raise ModuleWriteError(
            errno.EBUSY,
            f"package {leaf!r} is missing and its old tree is parked: a swap is in "
            "progress, or crashed (`modwrite clean` puts it back)",
            locked.join(leaf),
        )
    restore_parked(locked.path, leaf)


def _chain_tree(where: Plan, entries: FlatTree, compiled: Compiled) -> tuple[FlatTree, Compiled]:
    """*entries* (relative to ``where.directory``) with the missing
    directories above them, relative to the first missing one; and
    *compiled* keyed the same way, with the new ``__init__.py`` files'."""
    head = where.missing[0][0]
    tree: FlatTree = {}
    codes: Compiled = {}
    for path, is_package in where.missing:
        relative = PurePosixPath(*Path(os.path.relpath(path, head)).parts)
        if relative.parts:
            tree[relative] = None
        if is_package:
            tree[relative / "__init__.py"] = b""
            codes[relative / "__init__.py"] = compile(
                b"", os.path.join(path, "__init__.py"), "exec", dont_inherit=True
            )
    base = PurePosixPath(*Path(os.path.relpath(where.directory, head)).parts)
    for relative, data in entries.items():
        tree[base / relative] = data
    for relative, code in compiled.items():
        codes[base / relative] = code
    return tree, codes


def _land_chain(
    where: Plan,
    entries: FlatTree,
    compiled: Compiled,
    options: WriteOptions,
    signals: deferred_signals,
) -> _Landed | None:
    """Build the missing directories with *entries* at their end, and move
    them in with one rename under the anchor's lock; ``None`` if another
    writer created the first of them meanwhile (plan again)."""
    anchor = where.anchor
    head = where.missing[0][0]
    head_leaf = os.path.basename(head)
    tree, codes = _chain_tree(where, entries, compiled)
    with ExitStack() as stack:
        locked = _lock(stack, anchor, signals)
        if locked is None:
            return None
        with step("look up entries of the directory", anchor):
            if locked.lookup(head_leaf) is not None:
                return None
            if newest_parked(anchor, head_leaf) is not None:
                _put_back_parked(locked, head_leaf)
                return None
            if where.missing[0][1] and not options.parents:
                return None  # planned for a parked tree that is gone: plan again
        with step("create a directory in", anchor):
            staging = stage(
                anchor,
                head_leaf,
                tree,
                old={},
                final=head,
                durable=options.durable,
                signals=signals,
                compiled=codes if options.bytecode else None,
            )
        committed, _ = _commit(staging, head, replace=False)
        if not committed:
            return None
        # -- committed: nothing below raises --
        new_dirs = {""} | {str(p) for p, d in tree.items() if d is None}
        landed = _Landed({anchor: float("-inf")})
        for relative in new_dirs:
            landed.floors[os.path.join(head, relative) if relative else head] = float("-inf")
        if options.durable:
            _fsync(anchor, landed)
        invalidate_directory_tree(head, new_dirs)
        return landed


# -- write_package -------------------------------------------------------------------


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
    bytecode: bool = True,
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

    The sources' bytecode caches (see *bytecode* of :func:`write_module`)
    are written inside the new tree, so they land with it; not under
    :data:`sys.pycache_prefix`, whose paths name the final tree (there the
    importer compiles them).

    The commit point is the exchange (or the rename that moves the new tree
    in); the exceptions mean what they mean for :func:`write_module`.  The
    replaced tree is removed after the commit point; when that fails a
    :class:`~modwrite.PostCommitWarning` says so, and ``modwrite clean``
    removes it later.
    """
    parts = validate_module_name(name)
    options = WriteOptions.checked(
        visibility=visibility,
        durable=durable,
        parents=parents,
        create_root=create_root,
        visibility_timeout=visibility_timeout,
        bytecode=bytecode,
    )
    root_path = absolute_root(root)
    leaf = parts[-1]
    target = os.path.join(root_path, *parts)
    flat, compiled = flatten(name, files, target)
    _note_what_ran(name, submodules=True)

    def chain_entries() -> tuple[FlatTree, Compiled]:
        entries: FlatTree = {PurePosixPath(leaf): None}
        entries.update((PurePosixPath(leaf) / p, d) for p, d in flat.items())
        return entries, {PurePosixPath(leaf) / p: code for p, code in compiled.items()}

    landed = _land(
        root_path,
        parts[:-1],
        options,
        chain_entries,
        lambda directory, signals: _land_package(
            directory, leaf, name, flat, compiled, options, signals
        ),
    )
    with deferred_signals():
        landed.problems += remove_trash(landed.trash)
    for file_path, data in flat.items():
        if data is not None:
            linecache.checkcache(os.path.join(target, *file_path.parts))
    _warn(landed.problems)
    make_visible(landed.floors, options.visibility, options.visibility_timeout)
    return Path(target)


def _tree_directories(top: str) -> list[str]:
    """*top* and every directory below it, parents first: the order locks are
    taken in (as every writer takes them, so none waits for another in a
    cycle)."""
    found = []
    for dirpath, dirnames, _files in os.walk(top):
        found.append(dirpath)
        dirnames.sort()
    return found


def _land_package(
    parent: str,
    leaf: str,
    name: str,
    flat: FlatTree,
    compiled: Compiled,
    options: WriteOptions,
    signals: deferred_signals,
) -> _Landed | None:
    """Check conflicts, build the tree beside *leaf* (with the bytecode of
    the sources in *compiled*) and swap it in, under
    the parent's lock and the locks of every directory of the old package
    (so that a write_module() into any of them waits, then lands in the new
    tree); ``None`` if the parent vanished or something else took *leaf*
    meanwhile."""
    target = os.path.join(parent, leaf)
    with ExitStack() as stack:
        locked = _lock(stack, parent, signals)
        if locked is None:
            return None
        with step("look up entries of the directory", parent):
            replace = check_package_conflicts(locked, leaf, name)
        if replace:
            # The old tree is walked twice: once for its directories, locked
            # here, then, under those locks, for its files' stamps, which no
            # write_module() into it can change any more.
            with step("open the package directory", target):
                for directory in _tree_directories(target):
                    try:
                        stack.enter_context(directory_lock(directory, signals))
                    except (FileNotFoundError, NotADirectoryError):  # pragma: no cover
                        pass
        with step("read the old package's files", target):
            old_tree = target if replace else newest_parked(parent, leaf)
            old = old_files(old_tree) if old_tree is not None else {}
        with step("create the new package in", parent):
            staging = stage(
                parent,
                leaf,
                flat,
                old=old,
                final=target,
                durable=options.durable,
                signals=signals,
                compiled=compiled if options.bytecode else None,
            )
        committed, replaced = _commit(staging, target, replace=replace)
        if not committed:
            return None
        # -- committed: nothing below raises --
        landed = _Landed({parent: float("-inf")})
        old_dirs: dict[str, float] = {}
        if replaced is not None:
            trash, old_tree_now = to_trash(replaced, target)
            landed.trash.append(trash)
            old_dirs = tree_mtimes(old_tree_now)
        landed.trash.extend(trash_stale_parked(parent, leaf))
        remember_dropped(target, old, flat)
        new_dirs = {""} | {str(p) for p, d in flat.items() if d is None}
        for relative in new_dirs:
            path = os.path.join(target, relative) if relative else target
            landed.floors[path] = old_dirs.get(relative, float("-inf"))
        if options.durable:
            _fsync(parent, landed)
        invalidate_directory_tree(target, new_dirs | set(old_dirs))
        return landed
