"""Targeted invalidation of the import system's caches (guarantee G5).

Brett Cannon's counter-proposal to Eby's ``write_module()`` (python-dev,
March 2013): ``invalidate_caches()`` takes a path and invalidates only the
most specific finders for it.  :func:`invalidate_caches` does that for the
caches keyed on a directory:

* the path entry finders in :data:`sys.path_importer_cache` whose directory
  is the path or holds it (``FileFinder.invalidate_caches()`` makes the next
  lookup re-list that one directory);
* the ``None`` entries for the path and its ancestors (CPython caches
  ``None`` for a directory that did not exist at its first lookup and never
  looks again);
* for a directory: namespace-package ``__path__`` recalculation (the epoch
  CPython's ``PathFinder.invalidate_caches`` bumps, bpo-45703) and
  :mod:`importlib.metadata`'s per-directory lookups (``FastPath``, keyed on
  the directory mtime), which see new distributions and portions only then.

Keys of :data:`sys.path_importer_cache` are matched by the identity of the
directory they name, not by spelling: relative entries, ``''`` (stored as the
working directory), symlinks and trailing separators all match.  An index of
the keys is kept and brought up to date only when the cache's keys changed
(detected in O(1) from its size and its last key: dicts keep insertion
order), so the cost of a call does not grow with ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import stat
import sys

from . import _machinery
from ._names import str_path

TYPE_CHECKING = False  # typing stays unimported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Landing", "invalidate_caches", "invalidate_directory_tree", "invalidate_landing"]

_MISSING: Any = object()
#: Paths ending so name module files (not directories): not stat-ed to tell.
_MODULE_SUFFIXES = tuple(importlib.machinery.all_suffixes())


def _normalize(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _canonical(spelled: str) -> str:
    """The real path of a normalized absolute path (symlinks resolved)."""
    return os.path.normcase(os.path.realpath(spelled))


class _KeyIndex:
    """Who is who among the keys of :data:`sys.path_importer_cache`.

    Every key is indexed by its *canonical* path: its absolute spelling with
    symlinks resolved (``realpath``), so relative keys, ``..``, trailing
    separators and symlinked spellings of one directory meet.  ``negative``
    holds the canonical paths of ``None`` entries.  The index is refreshed
    lazily when the cache's keys change: O(new keys), never O(sys.path) per
    call.

    Paths asked about are canonicalized through a memo, cleared whenever the
    keys change: a symlink re-pointed meanwhile is seen at the next change
    of the cache's keys.
    """

    _MEMO_LIMIT = 4096

    def __init__(self) -> None:
        # Created at the first sync: threading is not imported at start-up.
        self._lock: Any = None
        self._cache: dict[str, Any] | None = None
        self._signature: tuple[int, object] = (-1, None)
        self._known: dict[str, str] = {}
        self.by_canonical: dict[str, set[str]] = {}
        self.negative: dict[str, set[str]] = {}
        self._memo: dict[str, str] = {}

    @staticmethod
    def _signature_of(cache: dict[str, Any]) -> tuple[int, object]:
        # Dicts keep insertion order, so any new key becomes the last one:
        # (size, last key) changes whenever keys are added or removed, in O(1).
        try:
            return (len(cache), next(reversed(cache), None))
        except RuntimeError:  # changed by another thread between the two calls
            return (-1, None)

    def sync(self) -> None:
        cache = sys.path_importer_cache
        signature = self._signature_of(cache)
        if cache is self._cache and signature == self._signature:
            return
        if self._lock is None:
            import threading

            self._lock = threading.Lock()
        with self._lock:
            if cache is not self._cache:
                self._cache = cache
                self._known = {}
                self.by_canonical, self.negative = {}, {}
            self._memo = {}
            keys = set(cache)
            for key in set(self._known) - keys:
                self._forget(key)
            for key in keys - set(self._known):
                if isinstance(key, str):
                    self._add(key, cache.get(key, _MISSING) is None)
            self._signature = signature

    def _add(self, key: str, negative: bool) -> None:
        canonical = _canonical(_normalize(key))
        self._known[key] = canonical
        self.by_canonical.setdefault(canonical, set()).add(key)
        if negative:
            self.negative.setdefault(canonical, set()).add(key)

    def _forget(self, key: str) -> None:
        canonical = self._known.pop(key)
        for index in (self.by_canonical, self.negative):
            keys = index.get(canonical)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[canonical]

    def canonical(self, directory: str) -> str:
        """*directory* (normalized absolute) with symlinks resolved, memoized."""
        found = self._memo.get(directory)
        if found is None:
            if len(self._memo) >= self._MEMO_LIMIT:
                self._memo = {}
            found = self._memo[directory] = _canonical(directory)
        return found

    def keys_for(self, directory: str) -> set[str]:
        """Keys naming *directory* (normalized absolute), however spelled."""
        return self.by_canonical.get(self.canonical(directory), _EMPTY)


_EMPTY: set[str] = set()
_index = _KeyIndex()


class Landing:
    """What one write changed in one directory: the writer's hand-off to the
    finders.

    :ivar path: the absolute, normalized path of the entry that landed.
    :ivar is_dir: whether it is a directory (a package, a new parent).
    :ivar mtime_before: the directory's ``st_mtime`` (float seconds) right
        before the landing, under the writers' lock, or ``None``.
    :ivar mtime_after: the same right after it, or ``None``.
    """

    __slots__ = ("is_dir", "mtime_after", "mtime_before", "path")

    def __init__(
        self,
        path: str,
        is_dir: bool,
        mtime_before: float | None = None,
        mtime_after: float | None = None,
    ) -> None:
        self.path = path
        self.is_dir = is_dir
        self.mtime_before = mtime_before
        self.mtime_after = mtime_after


#: Finder classes replaced by a copy rather than reset in place: CPython's
#: and modwrite's FileFinder, whose whole state is their ``__dict__``.
#: Subclasses (which may keep state elsewhere) are reset in place.
_COPIED = (importlib.machinery.FileFinder, _machinery.FileFinder)


def _replace_finder(key: str, finder: Any, leaf: str, landing: Landing | None) -> None:
    """Put a copy of *finder* whose listing is forgotten (or, after
    modwrite's own write, updated) in its place in the cache, and reset the
    old object too.

    Why a copy: a lookup that another thread began before the landing may
    still store, in the finder it holds, the directory mtime it read before
    the landing together with a listing taken before it, which makes the
    stale listing look current; the cache no longer holds that object (G1
    under threads).  Why reset the old object as well: code that kept it
    (``pkgutil.get_importer``) sees the change too."""
    fresh = object.__new__(type(finder))
    fresh.__dict__.update(finder.__dict__)
    finder.invalidate_caches()
    if (
        landing is not None
        and landing.mtime_before is not None
        and landing.mtime_after is not None
        and isinstance(fresh, _machinery.FileFinder)
    ):
        fresh.note_own_write(leaf, landing.mtime_before, landing.mtime_after)
    else:
        fresh.invalidate_caches()
    sys.path_importer_cache[key] = fresh


def _invalidate_path(target: str, *, is_dir: bool, landing: Landing | None = None) -> None:
    """The one place that invalidates for a normalized absolute *target*:
    the finders of *target* (a directory) and of its parent, then the
    ``None`` entries of *target* and its ancestors.

    CPython's and modwrite's :class:`~importlib.machinery.FileFinder` are
    replaced by fresh copies (see :func:`_replace_finder`); with a *landing*
    that knows the directory's mtimes, modwrite's finder adds the entry in
    O(1) (:meth:`modwrite.machinery.FileFinder.note_own_write`) instead of
    reading the directory again.  Other finders are asked to
    ``invalidate_caches()``."""
    _index.sync()
    cache = sys.path_importer_cache
    parent, leaf = os.path.split(target)
    keys = list(_index.keys_for(parent))
    if is_dir:
        keys += _index.keys_for(target)
    for key in keys:
        finder = cache.get(key, _MISSING)
        if finder is None:
            del cache[key]
        elif type(finder) in _COPIED:
            _replace_finder(key, finder, leaf, landing)
        elif finder is not _MISSING and hasattr(finder, "invalidate_caches"):
            finder.invalidate_caches()
    if _index.negative:
        _drop_negative_entries(os.path.join(_index.canonical(parent), leaf))


def invalidate_caches(path: str | os.PathLike[str] | None = None) -> None:
    """Invalidate the import system's caches, all of them or only for *path*.

    :param path: ``None`` to do exactly :func:`importlib.invalidate_caches`;
        else a file or directory path (``str`` or path-like, relative to the
        working directory, existing or not).  The finders of *path* (if it is
        a directory) and of its parent directory are invalidated, and the
        ``None`` entries of *path* and of every ancestor are dropped.  For a
        directory, namespace package paths and :mod:`importlib.metadata`
        lookups are refreshed too.  A path ending in a module suffix
        (:func:`importlib.machinery.all_suffixes`) is taken for a file
        without a ``stat``.
    :raises ArgumentTypeError: *path* is not ``None``, ``str`` or a
        ``str`` path-like (a :class:`TypeError`).

    Keys of :data:`sys.path_importer_cache` are matched by the directory they
    name, with symlinks resolved: relative entries, ``''`` (stored as the
    working directory), ``..``, trailing separators and symlinked spellings
    all match.  Cost: independent of the length of :data:`sys.path`: a few
    dict lookups per ancestor of *path*, one ``stat`` unless *path* names a
    module file, and a ``realpath`` the first time a directory is seen after
    the cache's keys changed; plus one re-listing of the touched directory at
    the next import from it.  This is ``PathFinder.invalidate_caches(path)``
    as Brett Cannon proposed it on python-dev (March 2013): only the most
    specific finders.
    """
    if path is None:
        importlib.invalidate_caches()
        return
    target = _normalize(str_path(path, what="path"))
    is_dir = False
    if not target.endswith(_MODULE_SUFFIXES):  # a module file path is not stat-ed
        try:
            is_dir = stat.S_ISDIR(os.stat(target).st_mode)
        except (OSError, ValueError):
            pass
    _invalidate_path(target, is_dir=is_dir)
    if is_dir:
        _refresh_directory_caches()


def invalidate_landing(landing: Landing) -> None:
    """:func:`invalidate_caches` for what a write just landed (the write
    path's fast lane: no ``stat``; see :class:`Landing`)."""
    _invalidate_path(os.path.normcase(landing.path), is_dir=landing.is_dir, landing=landing)
    if landing.is_dir:
        _refresh_directory_caches()


def invalidate_directory_tree(root: str, relative_dirs: set[str]) -> None:
    """Invalidate *root* and each directory ``root/<relative>`` (a package
    replaced whole: its old and its new subdirectories), then refresh the
    directory-keyed caches once."""
    for relative in sorted(relative_dirs):
        _invalidate_path(_normalize(os.path.join(root, relative)), is_dir=True)
    _refresh_directory_caches()


def _drop_negative_entries(target: str) -> None:
    """Drop ``None`` entries for *target* (canonical) and each of its
    ancestors: one dict lookup per ancestor, whatever the number of entries."""
    cache = sys.path_importer_cache
    negative = _index.negative
    directory = target
    while True:
        keys = negative.get(directory)
        if keys:
            for key in tuple(keys):
                if cache.get(key, _MISSING) is None:
                    del cache[key]
        cut = directory.rfind(os.sep)
        if cut < 0 or directory == os.sep:
            return
        directory = directory[:cut] or os.sep


def _refresh_directory_caches() -> None:
    """Refresh the caches that see new directories only on invalidation."""
    # CPython >= 3.11 (bpo-45703) recomputes a namespace package's __path__
    # when this epoch moves; PathFinder.invalidate_caches() bumps it.  It is
    # not public; read it off the already-imported module, never import it.
    bootstrap = sys.modules.get("importlib._bootstrap_external")
    namespace_path = getattr(bootstrap, "_NamespacePath", None)
    if namespace_path is not None and hasattr(namespace_path, "_epoch"):
        namespace_path._epoch += 1
    # importlib.metadata (3.10+) caches one FastPath per directory and its
    # listing per directory mtime; MetadataPathFinder.invalidate_caches()
    # clears exactly this (it is a plain function on 3.10-3.12, so call the
    # cache's own clear).  3.9 lists on every lookup and has nothing to clear.
    metadata = sys.modules.get("importlib.metadata")
    fast_path_new = getattr(getattr(metadata, "FastPath", None), "__new__", None)
    clear = getattr(fast_path_new, "cache_clear", None)
    if clear is not None:
        clear()
