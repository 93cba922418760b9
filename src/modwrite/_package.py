"""Directories that appear whole: a package tree (or a chain of new parent
packages) is built beside its target under a never-importable name, then
moved in with one rename, or swapped with the old tree in one step
(:mod:`modwrite._exchange`); the old tree is then removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePath, PurePosixPath

from ._atomic import chmod, fsync_directory, parked_name, temporary_name
from ._exchange import exchange
from ._invalidate import invalidate_caches
from ._lock import directory_lock
from ._settle import Floors
from ._stamp import (
    SOURCE_SUFFIXES,
    Stamp,
    make_stamp_unique,
    recently_dropped,
    remember_dropped,
    stamp_of,
)
from ._tree import FlatTree
from .errors import ModuleWriteError

__all__ = ["create_parents", "land_tree"]


def create_parents(missing: list[str], durable: bool) -> Floors:
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


def land_tree(target: str, flat: FlatTree, *, durable: bool) -> tuple[set[str], dict[str, float]]:
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
                    stamp_ = previous[0] if previous else recently_dropped(final)
                    _write_new_file(
                        os.path.join(staging, *relative.parts),
                        data,
                        stamp_ if relative.suffix in SOURCE_SUFFIXES else None,
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
        remember_dropped(target, old, flat)
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
