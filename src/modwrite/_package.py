"""Trees that appear whole: a package, or a chain of new directories with a
module or package at its end, is built beside its target under a
never-importable name (:func:`stage`), then moved in with one rename or
swapped with the old tree in one step (:func:`swap_in`).  That rename, or
that exchange, is the write's commit point; everything after it only
tidies up.

Where the exchange is not available, the old tree is first parked: moved,
under its own name, into a directory marked :data:`PARKED_MARKER`, which
``modwrite clean`` empties back into place if the writer dies before the new
tree is in (and the package is missing).  Trees a commit replaced are
renamed to :data:`TRASH_MARKER` names before they are removed, so that
``clean`` can remove them at once if their removal is interrupted.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from types import CodeType

from ._atomic import chmod, fsync_directory
from ._bytecode import write_pyc
from ._exchange import exchange
from ._interrupts import deferred_signals
from ._parked import parked_trees
from ._stamp import SOURCE_SUFFIXES, Stamp, make_stamp_unique, recently_dropped, stamp_of
from ._tempnames import PARKED_MARKER, TRASH_MARKER, parse, temporary_name
from ._tree import FlatTree
from .errors import ModuleWriteError

__all__ = [
    "OldFile",
    "newest_parked",
    "old_files",
    "remove_trash",
    "remove_tree",
    "restore_parked",
    "stage",
    "swap_in",
    "to_trash",
    "trash_stale_parked",
    "tree_mtimes",
]

#: A file of the tree being replaced: its stamp and permission bits.
OldFile = tuple[Stamp, int]


def old_files(top: str) -> dict[PurePosixPath, OldFile]:
    """Stamp and permission bits of each file of the tree at *top* (which may
    not exist), by relative path.

    :raises OSError: a directory of the tree cannot be listed.
    """
    found: dict[PurePosixPath, OldFile] = {}

    def fail(exc: OSError) -> None:
        if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            raise exc

    for dirpath, _dirnames, filenames in os.walk(top, onerror=fail):
        relative = PurePosixPath(os.path.relpath(dirpath, top).replace(os.sep, "/"))
        for filename in filenames:
            try:
                st = os.stat(os.path.join(dirpath, filename))
            except (FileNotFoundError, NotADirectoryError):
                continue
            found[relative / filename] = (stamp_of(st), stat.S_IMODE(st.st_mode))
    return found


def newest_parked(directory: str, leaf: str) -> str | None:
    """The tree of *leaf* most recently parked in *directory* (a fallback
    swap that did not finish), or ``None`` (also when *directory* may be
    searched but not read by this user: ``EACCES``).

    :raises OSError: any other failure to list (a write must not build a
        new package over one that is parked but could not be seen).
    """
    try:
        trees = parked_trees(directory, leaf)
    except PermissionError:
        return None
    return trees[0].tree if trees else None


def stage(
    directory: str,
    leaf: str,
    tree: FlatTree,
    *,
    old: Mapping[PurePosixPath, OldFile],
    final: str,
    durable: bool,
    signals: deferred_signals,
    compiled: Mapping[PurePosixPath, CodeType] | None = None,
) -> str:
    """Build *tree* in a new directory beside *leaf* in *directory*; return
    its path.

    Sources get the stamp rule against *old* (the files at the same relative
    paths of the tree being replaced, which also give their permission bits)
    or against a recently dropped version of the file at *final* (the tree's
    final path); data files are written byte-exact.  The sources in
    *compiled* get their bytecode cache in the tree, from their code object
    (:func:`~modwrite._bytecode.write_pyc`; not under
    :data:`sys.pycache_prefix`, whose paths name the final tree).  A signal
    deferred by *signals* is delivered between files.

    :raises OSError: nothing is left behind (the partial tree is removed).
    """
    staging = os.path.join(directory, temporary_name(leaf))
    try:
        os.mkdir(staging)
        for relative in sorted(p for p, data in tree.items() if data is None):
            os.mkdir(os.path.join(staging, *relative.parts))
        # Not over a file of the caller's, nor under sys.pycache_prefix.
        pyc_in_tree = sys.pycache_prefix is None and not any(
            "__pycache__" in p.parts for p in tree
        )
        for relative, data in tree.items():
            if data is None:
                continue
            previous = old.get(relative)
            is_source = relative.suffix in SOURCE_SUFFIXES
            stamp = previous[0] if previous else None
            if stamp is None and is_source:
                stamp = recently_dropped(os.path.join(final, *relative.parts))
            path = os.path.join(staging, *relative.parts)
            mode_bits = previous[1] if previous else None
            padding = _write_new_file(path, data, stamp if is_source else None, mode_bits, durable)
            code = compiled.get(relative) if compiled and pyc_in_tree else None
            if code is not None:
                write_pyc(path, data + b"\n" * padding if padding else data, code, mode_bits)
            signals.checkpoint()
        if durable:
            for relative in [PurePosixPath(), *(p for p, d in tree.items() if d is None)]:
                fsync_directory(os.path.join(staging, *relative.parts))
    except BaseException:
        remove_tree(staging)
        raise
    return staging


def _write_new_file(
    path: str, data: bytes, previous: Stamp | None, mode_bits: int | None, durable: bool
) -> int:
    """Write one file of a tree being built; return how many newline bytes
    the stamp rule appended.  Sources get the stamp rule; data files stay
    byte-exact (no padding, no moved mtime)."""
    with open(path, "xb") as f:
        if mode_bits is not None:
            chmod(f.fileno(), path, mode_bits)
        f.write(data)
        f.flush()
        padding = make_stamp_unique(f, previous, path)
        if durable:
            os.fsync(f.fileno())
    return padding


def swap_in(staging: str, target: str, *, replace: bool) -> str | None:
    """Put the tree at *staging* at *target*: the write's commit point.

    :param replace: an old tree (or a symlink to one) stands at *target*.
    :returns: ``None`` when nothing was replaced; else where the replaced
        entry now is: the staging path (exchanged) or a parked directory
        holding it under its own name (the fallback).  Pass it to
        :func:`to_trash` once the commit is recorded.
    :raises FileExistsError: without *replace*, something appeared at
        *target* (nothing changed).
    :raises OSError: nothing changed: *staging* is still there, the old tree
        at *target*.
    :raises ModuleWriteError: the fallback moved the old tree away and could
        put it back neither by moving the new one in nor by moving it back:
        the package is missing and its old tree parked (``modwrite clean``
        puts it back).
    """
    parent, leaf = os.path.split(target)
    if not replace:
        try:
            os.rename(staging, target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(exc.errno, exc.strerror, target) from None
            raise
        return None
    if exchange(staging, target):
        return staging
    # Fallback (no RENAME_EXCHANGE): two renames, the target briefly absent.
    container = os.path.join(parent, temporary_name(leaf, PARKED_MARKER))
    os.mkdir(container)
    parked = os.path.join(container, leaf)
    try:
        os.rename(target, parked)
    except BaseException:
        remove_tree(container)
        raise
    try:
        os.rename(staging, target)
    except BaseException as exc:
        try:
            os.rename(parked, target)
        except OSError as back:
            raise ModuleWriteError(
                getattr(exc, "errno", None) or back.errno or errno.EIO,
                f"the new package could not be moved in ({exc}) nor the old one back "
                f"({back.strerror}); the old package is parked at {parked!r}, which "
                "`modwrite clean` puts back",
                target,
            ) from exc
        remove_tree(container)
        raise
    return container


def to_trash(replaced: str, target: str) -> tuple[str, str]:
    """After the commit, give what :func:`swap_in` replaced a trash name
    (``modwrite clean`` removes it at once if its removal is interrupted).

    :returns: the entry to remove (the trash name; the old name if the rename
        failed) and where the replaced tree is now (inside it, for a parked
        directory).  Never raises an :class:`OSError`.
    """
    parent, leaf = os.path.split(target)
    entry = parse(os.path.basename(replaced))
    inner = entry is not None and entry.marker == PARKED_MARKER
    trash = os.path.join(parent, temporary_name(leaf, TRASH_MARKER))
    try:
        os.rename(replaced, trash)
    except OSError:
        trash = replaced
    return trash, os.path.join(trash, leaf) if inner else trash


def trash_stale_parked(parent: str, leaf: str) -> list[str]:
    """Move the parked trees of *leaf* that unfinished swaps left in
    *parent* to trash (after a commit of *leaf*, under the parent's lock: no
    live writer is between its renames).  Never raises."""
    try:
        trees = parked_trees(parent, leaf)
    except OSError:
        return []
    return [to_trash(parked.container, os.path.join(parent, leaf))[0] for parked in trees]


def restore_parked(parent: str, leaf: str) -> bool:
    """Under the parent's lock, with *leaf* missing: move the newest parked
    tree of *leaf* back and trash the older ones (what ``modwrite clean``
    would do).  Returns whether a tree was put back.

    :raises OSError: the tree could not be moved back.
    """
    trees = parked_trees(parent, leaf)
    if not trees or trees[0].tree is None:
        return False
    os.rename(trees[0].tree, os.path.join(parent, leaf))
    for parked in trees:
        remove_tree(to_trash(parked.container, os.path.join(parent, leaf))[0])
    return True


def tree_mtimes(top: str) -> dict[str, float]:
    """Relative directory -> ``st_mtime`` (float seconds) of each directory
    of the tree at *top*; never raises (a directory that cannot be read is
    left out)."""
    found: dict[str, float] = {}
    for dirpath, _dirnames, _files in os.walk(top):
        relative = os.path.relpath(dirpath, top)
        try:
            found["" if relative == os.curdir else relative] = os.stat(dirpath).st_mtime
        except OSError:
            continue
    return found


def remove_tree(path: str) -> OSError | None:
    """Remove the file, symlink or tree at *path*; return the first error
    (a missing entry is none)."""
    errors: list[OSError] = []

    def collect(function: object, failed: str, exc_info: object) -> None:
        exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            errors.append(exc)

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not os.path.lexists(path):
            return None
        return OSError(errno.ENOENT, "reported missing, but it is there", path)
    except OSError as exc:
        return exc
    try:
        if stat.S_ISDIR(st.st_mode):
            if sys.version_info >= (3, 12):
                shutil.rmtree(path, onexc=collect)
            else:
                shutil.rmtree(path, onerror=collect)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return exc
    if errors:
        return errors[0]
    if os.path.lexists(path):  # a part reported missing that is not
        return OSError(errno.ENOTEMPTY, "not completely removed", path)
    return None


def remove_trash(paths: Iterable[str]) -> list[str]:
    """Remove trees a commit made obsolete; return what could not be
    removed, as sentences for a :class:`~modwrite.PostCommitWarning`
    (``modwrite clean`` removes those later).  Never raises an
    :class:`OSError`.  Run it with the signals deferred: :func:`shutil.rmtree`
    holds descriptors an interrupt would leak."""
    problems = []
    for path in paths:
        problem = remove_tree(path)
        if problem is not None:
            problems.append(
                f"the write landed, but the old tree {path!r} could not be removed "
                f"({problem.strerror or problem}); `modwrite clean` removes it"
            )
    return problems
