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
import os
import sys
import threading
from typing import Any, Union

from .errors import ArgumentTypeError

__all__ = ["PathArg", "invalidate_caches", "invalidate_directory_tree", "invalidate_file"]

PathArg = Union[str, "os.PathLike[str]"]

_MISSING: Any = object()


def _normalize(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


class _KeyIndex:
    """Who is who among the keys of :data:`sys.path_importer_cache`.

    ``by_spelling`` maps the normalized absolute spelling of each key to the
    keys spelled so; ``aliases`` maps the (st_dev, st_ino) of the directories
    of the keys whose real path differs from their spelling (symlinks,
    relative entries) to those keys.  Both are refreshed lazily when the
    cache's size changes: O(new keys), never O(sys.path) per call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, Any] | None = None
        self._signature: tuple[int, object] = (-1, None)
        self._known: set[str] = set()
        self.by_spelling: dict[str, set[str]] = {}
        self.aliases: dict[tuple[int, int], set[str]] = {}

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
        with self._lock:
            if cache is not self._cache:
                self._cache = cache
                self._known = set()
                self.by_spelling = {}
                self.aliases = {}
            keys = set(cache)
            for key in self._known - keys:
                self._forget(key)
            for key in keys - self._known:
                self._add(key)
            self._known = keys
            self._signature = signature

    def _add(self, key: str) -> None:
        if not isinstance(key, str):  # pragma: no cover - a foreign key type
            return
        spelled = _normalize(key)
        self.by_spelling.setdefault(spelled, set()).add(key)
        if os.path.normcase(os.path.realpath(spelled)) != spelled:
            identity = _identity(key)
            if identity is not None:
                self.aliases.setdefault(identity, set()).add(key)

    def _forget(self, key: str) -> None:
        if not isinstance(key, str):  # pragma: no cover - a foreign key type
            return
        keys = self.by_spelling.get(_normalize(key))
        if keys is not None:
            keys.discard(key)
        for alias_keys in self.aliases.values():
            alias_keys.discard(key)

    def keys_for(self, directory: str) -> set[str]:
        """Keys naming *directory* (normalized absolute spelling)."""
        keys = set(self.by_spelling.get(directory, ()))
        if self.aliases:
            identity = _identity(directory)
            if identity is not None:
                keys.update(self.aliases.get(identity, ()))
            real = os.path.normcase(os.path.realpath(directory))
            if real != directory:
                keys.update(self.by_spelling.get(real, ()))
        return keys


_index = _KeyIndex()


def invalidate_caches(path: PathArg | None = None) -> None:
    """Invalidate the import system's caches, all of them or only for *path*.

    :param path: ``None`` to do exactly :func:`importlib.invalidate_caches`;
        else a file or directory path (``str`` or path-like, relative to the
        working directory, existing or not).  The finders of *path* (if it is
        a directory) and of its parent directory are invalidated, and the
        ``None`` entries of *path* and of every ancestor are dropped.  For a
        directory, namespace package paths and :mod:`importlib.metadata`
        lookups are refreshed too.
    :raises ArgumentTypeError: *path* is not ``None``, ``str`` or a
        ``str`` path-like (a :class:`TypeError`).

    Cost: independent of the length of :data:`sys.path`: a few dict lookups
    per ancestor of *path*, one ``stat`` (``isdir``), and where keys of the
    cache are symlinks or relative, the identity and real path of the
    directory; plus one re-listing of the touched directory at the next
    import from it.
    """
    if path is None:
        importlib.invalidate_caches()
        return
    try:
        spelled = os.fspath(path)
    except TypeError:
        raise ArgumentTypeError(
            f"path must be str, path-like or None, not {type(path).__name__}"
        ) from None
    if not isinstance(spelled, str):
        raise ArgumentTypeError("path must be a str path, not bytes")
    target = _normalize(spelled)
    parent = os.path.dirname(target)
    cache = sys.path_importer_cache
    _index.sync()
    is_dir = os.path.isdir(target)
    for directory in (target, parent) if is_dir else (parent,):
        for key in _index.keys_for(directory):
            finder = cache.get(key, _MISSING)
            if finder is None:
                del cache[key]
            elif finder is not _MISSING and hasattr(finder, "invalidate_caches"):
                finder.invalidate_caches()
    _drop_negative_entries(target)
    if is_dir:
        _refresh_directory_caches()


def invalidate_file(path: str) -> None:
    """:func:`invalidate_caches` for an absolute, normalized path known to be a
    file that was just written (the write path's fast lane: no ``isdir``)."""
    path = os.path.normcase(path)
    cache = sys.path_importer_cache
    _index.sync()
    for key in _index.keys_for(os.path.dirname(path)):
        finder = cache.get(key, _MISSING)
        if finder is None:
            del cache[key]
        elif finder is not _MISSING and hasattr(finder, "invalidate_caches"):
            finder.invalidate_caches()
    _drop_negative_entries(path)


def _drop_negative_entries(target: str) -> None:
    """Drop ``None`` entries for *target* and each of its ancestors."""
    cache = sys.path_importer_cache
    directory = target
    while True:
        for key in _index.by_spelling.get(directory, ()):
            if cache.get(key, _MISSING) is None:
                del cache[key]
        up = os.path.dirname(directory)
        if up == directory:
            return
        directory = up


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


def invalidate_directory_tree(root: str, relative_dirs: set[str]) -> None:
    """Invalidate *root* and each directory ``root/<relative>`` (a package
    that was replaced whole: its old and its new subdirectories)."""
    for relative in sorted(relative_dirs):
        invalidate_caches(os.path.join(root, relative) if relative else root)
