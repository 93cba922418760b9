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
working directory), symlinks and trailing separators all match, and a key
spelled as the directory always does.  An index of the keys is kept and
brought up to date only when the cache's keys changed (detected in O(1) from
its size and its last key: dicts keep insertion order), so the cost of a
call does not grow with ``sys.path``.  The index holds a *plan* per
directory (see :class:`_KeyIndex`), made when its key is indexed: a call
about a new file in a directory of ``sys.path`` reads it and makes no system
call, the first time as the hundredth, which is what keeps a call cheap cold
(between a write and an import, as programs make it).

:func:`invalidate_caches` also notes the directory it names for the next
change check (:func:`modwrite.changed_modules`,
:func:`modwrite.reload_changed`), which then lists it and reads the sources
of the loaded modules under it instead of trusting their ``stat``: on a
network filesystem the ``stat`` may come from the client's attribute cache,
and a listing makes the client revalidate the directory (see
:func:`take_revalidations`).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import stat
import sys

from . import _machinery
from ._names import POSIX_PATHS, str_path

TYPE_CHECKING = False  # typing stays unimported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Landing",
    "current_listing",
    "invalidate_caches",
    "invalidate_directory_tree",
    "invalidate_file",
    "invalidate_landing",
    "take_revalidations",
]

_MISSING: Any = object()
#: Paths ending so name module files (not directories): not stat-ed to tell.
_MODULE_SUFFIXES = tuple(importlib.machinery.all_suffixes())
_SEP = os.sep
_split = os.path.split
_new_object = object.__new__


def _normalize(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _canonical(spelled: str) -> str:
    """The real path of a normalized absolute path (symlinks resolved)."""
    return os.path.normcase(os.path.realpath(spelled))


# A directory's *plan*: what a call needs to know about it, made once per
# epoch (the cache's keys unchanged) and kept by its normalized spelling.  A
# tuple, read by position in the hot path:
#   [0] None, or {name: None keys} for the None entries of its children,
#   [1] the None keys of it and of its ancestors,
#   [2:] the keys naming it: its own spelling first (a key so spelled names
#        it whatever the symlinks say), then the others indexed with it.
# Its keys are the cache's own string objects, so the lookups of one call
# share their memory.


class _KeyIndex:
    """Who is who among the keys of :data:`sys.path_importer_cache`.

    Every key is indexed by its normalized spelling (absolute, as when it
    was indexed) and by its *canonical* path: that spelling with symlinks
    resolved (``realpath``), so relative keys, ``..``, trailing separators
    and symlinked spellings of one directory meet.  ``negative`` holds the
    canonical paths of ``None`` entries.  The index is brought up to date
    when the cache's keys change, in O(changed keys) Python work (the set
    difference that finds them is one pass in C).

    A call does not resolve paths: it reads the *plan* of the directory it
    names, kept by normalized spelling for as long as the cache's keys do
    not change (an *epoch*).  The plans of the keys' own spellings are made
    when the keys are indexed, from the ``realpath`` taken then, so a call
    about a directory on :data:`sys.path` costs a few dict lookups, the
    first time as the hundredth.  After the keys changed, the first call
    about a directory checks with one ``stat`` that its spelling still names
    the directory (device and inode) it resolved to, and resolves it again
    if not: a symlink re-pointed meanwhile is seen at the next change of the
    cache's keys, and the keys spelled through it are indexed again where it
    now leads.
    """

    #: Resolutions kept for spellings that no key has (keys' are all kept).
    _LIMIT = 4096

    def __init__(self) -> None:
        # Created at the first sync: threading is not imported at start-up.
        self._lock: Any = None
        #: The dict indexed, its size and its last key then: (size, last key)
        #: changes whenever keys are added or removed (dicts keep insertion
        #: order, so a new key is the last one), checked in O(1) per call.
        self.cache: dict[str, Any] | None = None
        self.size = -1
        self.last: object = _MISSING
        #: Every key of the cache -> (spelling, canonical), or None (not str).
        self._known: dict[object, tuple[str, str] | None] = {}
        self.by_canonical: dict[str, set[str]] = {}
        self.by_spelling: dict[str, set[str]] = {}
        self.negative: dict[str, set[str]] = {}
        #: canonical directory -> {name: None keys of its child name}
        self._negative_children: dict[str, dict[str, set[str]]] = {}
        #: spelling -> (canonical, (st_dev, st_ino) or None) when last
        #: resolved; kept across epochs.
        self._resolved: dict[str, tuple[str, tuple[int, int] | None]] = {}
        #: spelling -> plan, for this epoch only.
        self.plans: dict[str, tuple[Any, ...]] = {}

    def _locked(self) -> Any:
        if self._lock is None:
            import threading

            self._lock = threading.Lock()
        return self._lock

    def sync(self, cache: dict[str, Any]) -> None:
        """Index the keys added to *cache*, forget the removed ones, and
        start a new epoch: the plans of the new keys' directories are made
        now, the others' at their next call."""
        with self._locked():
            try:  # read before the difference: a key added meanwhile syncs again
                size, last = len(cache), next(reversed(cache), _MISSING)
            except RuntimeError:  # changed by another thread between the two calls
                size, last = -1, _MISSING
            if cache is not self.cache:
                self.cache = cache
                self._known = {}
                self.by_canonical, self.by_spelling, self.negative = {}, {}, {}
                self._negative_children = {}
            known = self._known
            added = cache.keys() - known.keys()
            if len(known) + len(added) != len(cache):  # some known key is gone
                for key in known.keys() - cache.keys():
                    self._forget(key)
            fresh: dict[str, str] = {}
            for key in added:
                if not isinstance(key, str):
                    known[key] = None
                    continue
                spelling = _normalize(key)
                if spelling == key:
                    spelling = key  # one string object for the cache and the plans
                canonical = fresh.get(spelling)
                if canonical is None:
                    canonical = fresh[spelling] = self._resolve(spelling)
                self._index(key, spelling, canonical, cache.get(key, _MISSING) is None)
            # Once every key is in: a plan lists all the keys of its directory.
            self.plans = {spelling: self._plan_of(spelling, c) for spelling, c in fresh.items()}
            self.size, self.last = size, last

    def _resolve(self, spelling: str) -> str:
        """The canonical path of *spelling*: a ``realpath``, unless the last
        one is known and *spelling* still names the same directory (one
        ``stat``)."""
        try:
            st = os.stat(spelling)
            identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except (OSError, ValueError):
            identity = None
        resolved = self._resolved
        old = resolved.get(spelling)
        if old is not None and identity is not None and old[1] == identity:
            return old[0]
        canonical = _canonical(spelling)
        if len(resolved) >= len(self.by_spelling) + self._LIMIT:
            by_spelling = self.by_spelling
            resolved = self._resolved = {s: r for s, r in resolved.items() if s in by_spelling}
        resolved[spelling] = (canonical, identity)
        return canonical

    def _index(self, key: str, spelling: str, canonical: str, negative: bool) -> None:
        self._known[key] = (spelling, canonical)
        self.by_canonical.setdefault(canonical, set()).add(key)
        self.by_spelling.setdefault(spelling, set()).add(key)
        if negative:
            self.negative.setdefault(canonical, set()).add(key)
            head, name = _split(canonical)
            children = self._negative_children.setdefault(head, {})
            children.setdefault(name, set()).add(key)

    def _forget(self, key: object) -> None:
        names = self._known.pop(key)
        if names is None:
            return
        spelling, canonical = names
        head, name = _split(canonical)
        for index, at in (
            (self.by_canonical, canonical),
            (self.negative, canonical),
            (self.by_spelling, spelling),
            (self._negative_children.get(head, {}), name),
        ):
            keys = index.get(at)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[at]
        if self._negative_children.get(head) == {}:
            del self._negative_children[head]

    def _plan_of(self, spelling: str, canonical: str) -> tuple[Any, ...]:
        keys = [spelling]
        for key in (*self.by_spelling.get(spelling, ()), *self.by_canonical.get(canonical, ())):
            if key not in keys:
                keys.append(key)
        negative = self.negative
        none_keys: list[str] = []
        below = None
        if negative:
            directory = canonical
            while True:
                none_keys.extend(negative.get(directory, ()))
                cut = directory.rfind(_SEP)
                if cut < 0 or directory == _SEP:
                    break
                directory = directory[:cut] or _SEP
            children = self._negative_children.get(canonical)
            if children:
                below = {name: tuple(found) for name, found in children.items()}
        return (below, tuple(none_keys), *keys)

    def plan(self, spelling: str) -> tuple[Any, ...]:
        """The plan of the directory *spelling* (normalized absolute) for
        this epoch (see the class)."""
        with self._locked():
            canonical = self._resolve(spelling)
            moved = False
            cache = self.cache if self.cache is not None else {}
            for key in tuple(self.by_spelling.get(spelling, ())):
                names = self._known.get(key)
                if names is not None and names[1] != canonical:  # re-pointed since
                    self._forget(key)
                    self._index(key, spelling, canonical, cache.get(key, _MISSING) is None)
                    moved = True
            plans = self.plans
            if moved or len(plans) >= len(self.by_spelling) + self._LIMIT:
                # Other directories may have gained or lost keys; or too many.
                plans = self.plans = {}
            found = plans[spelling] = self._plan_of(spelling, canonical)
            return found


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


def _reset_value(cls: type) -> object:
    """The value ``cls.invalidate_caches()`` gives ``_path_mtime``, if that is
    all it does (as CPython's and modwrite's FileFinder), else ``_MISSING``.

    Checked, not assumed: the method refers to no other name (so it can
    call nothing and touch no other attribute), and run on an empty
    instance it leaves exactly ``{"_path_mtime": value}``.  Then a call can
    reset a finder by setting that value, without the two method calls
    (cold, they were a third of its cost)."""
    method = getattr(cls, "invalidate_caches", None)
    code = getattr(method, "__code__", None)
    if code is None or code.co_names != ("_path_mtime",) or code.co_argcount != 1:
        return _MISSING
    probe: Any = object.__new__(cls)
    try:
        method(probe)  # type: ignore[misc]
    except Exception:
        return _MISSING
    state = probe.__dict__
    return state["_path_mtime"] if list(state) == ["_path_mtime"] else _MISSING


#: For each class of _COPIED: the _path_mtime its invalidate_caches() sets.
_RESETS = {cls: value for cls in _COPIED if (value := _reset_value(cls)) is not _MISSING}


#: The stock FileFinder keeps its listing in ``_path_cache`` (a set of the
#: names as listed) and the directory mtime it was taken at in
#: ``_path_mtime`` (CPython 3.3+, ``importlib/_bootstrap_external.py``); on
#: case-insensitive platforms it keeps a lowered copy too, which a write can
#: make wrong in ways only a listing shows: there it re-lists.
_STOCK_LISTING_UPDATABLE = not sys.platform.startswith(("win", "cygwin", "darwin"))


def current_listing(directory: str, mtime: float) -> set[str] | None:
    """The listing of *directory* held by its finder in this process, if it
    is known to be current: a set of entry names, else ``None``.

    :param directory: the directory's absolute path, as keyed in
        :data:`sys.path_importer_cache`.
    :param mtime: its ``st_mtime`` (float seconds), read now, under the
        writers' lock.

    Current means: a stock or modwrite :class:`~importlib.machinery.FileFinder`
    listed it at this very mtime (its own rule for not listing again), on a
    case-sensitive platform; modwrite's finder must also have listed it a
    tick after its last change.  The caller, :func:`modwrite._listing.known_entries`,
    adds the conditions every listing must meet (a sub-second mtime, a
    filesystem that does not fold case).  Used for the conflict checks of a
    write; the stamp rule never trusts it alone (see ``_write._predecessor``).
    """
    if not _STOCK_LISTING_UPDATABLE:
        return None
    finder = sys.path_importer_cache.get(directory)
    if type(finder) not in _COPIED:
        return None
    state = finder.__dict__
    if state.get("_path_mtime") != mtime:
        return None
    if state.get("_relist_until_ns"):  # not listed a tick after the last change
        return None
    return state.get("_path_cache")


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
    if landing is None or landing.mtime_before is None or landing.mtime_after is None:
        fresh.invalidate_caches()
    elif isinstance(fresh, _machinery.FileFinder):
        fresh.note_own_write(leaf, landing.mtime_before, landing.mtime_after)
    elif (
        _STOCK_LISTING_UPDATABLE
        and type(fresh) is importlib.machinery.FileFinder
        and fresh.__dict__.get("_path_mtime") == landing.mtime_before
        and landing.mtime_before % 1  # a sub-second mtime: see below
    ):
        # The stock finder's listing was current just before the landing (by
        # its own rule: the directory's mtime unchanged), and the landing
        # added *leaf*: update it in O(1) instead of reading the directory
        # again, as modwrite's FileFinder.note_own_write() does.  Not with
        # whole-second mtimes (1-second ext4, FAT, HFS+): there an entry
        # another tool created in the second of the listing keeps the mtime,
        # and only reading the directory again shows it.  (The same entry
        # within one tick of a fine-grained filesystem whose kernel dates
        # changes by a coarse clock stays hidden until the directory next
        # changes, as it would without modwrite.)
        # In place, as note_own_write() does: the set is shared with the
        # old object, whose reset makes it list again into a new set.
        state = fresh.__dict__
        state["_path_cache"].add(leaf)
        state["_path_mtime"] = landing.mtime_after
    else:
        fresh.invalidate_caches()
    sys.path_importer_cache[key] = fresh


def _plan_for(parent: str) -> tuple[Any, ...]:
    """The plan of *parent* (normalized absolute), the index brought up to
    date first if the cache's keys changed (checked in O(1))."""
    cache = sys.path_importer_cache
    index = _index
    try:
        stale = (
            cache is not index.cache
            or len(cache) != index.size
            or next(reversed(cache), _MISSING) is not index.last
        )
    except RuntimeError:  # changed by another thread meanwhile
        stale = True
    if stale:
        index.sync(cache)
    plan = index.plans.get(parent)
    return index.plan(parent) if plan is None else plan


def _invalidate_key(key: str, finder: Any, leaf: str, landing: Landing | None) -> None:
    """Invalidate the cache's entry *key*, *finder* (``_MISSING``: none)."""
    if finder is None:
        sys.path_importer_cache.pop(key, None)
    elif finder.__class__ in _COPIED:
        _replace_finder(key, finder, leaf, landing)
    elif finder is not _MISSING and hasattr(finder, "invalidate_caches"):
        finder.invalidate_caches()


def _invalidate_path(target: str, *, is_dir: bool, landing: Landing | None = None) -> None:
    """The one place that invalidates for a normalized absolute *target*:
    the finders of *target* (a directory) and of its parent, then the
    ``None`` entries of *target* and its ancestors.  (For a module file
    without a landing, :func:`invalidate_caches` does the same inline.)

    CPython's and modwrite's :class:`~importlib.machinery.FileFinder` are
    replaced by fresh copies (see :func:`_replace_finder`); with a *landing*
    that knows the directory's mtimes, modwrite's finder adds the entry in
    O(1) (:meth:`modwrite.machinery.FileFinder.note_own_write`) instead of
    reading the directory again.  Other finders are asked to
    ``invalidate_caches()``."""
    cut = target.rfind(_SEP)
    if cut > 1 and POSIX_PATHS:  # normalized: no trailing nor doubled separator
        parent, leaf = target[:cut], target[cut + 1 :]
    else:
        parent, leaf = _split(target)
    plan = _plan_for(parent)
    keys = plan[2:]
    none_keys = plan[1]
    if plan[0] is not None:  # None entries in the parent
        none_keys += plan[0].get(leaf, ())
    if is_dir:
        own = _plan_for(target)
        keys += own[2:]
        none_keys += own[1]
    cache = sys.path_importer_cache
    for key in keys:
        _invalidate_key(key, cache.get(key, _MISSING), leaf, landing)
    for key in none_keys:
        if cache.get(key, _MISSING) is None:
            cache.pop(key, None)


#: Normalized directories named by invalidate_caches() since the change
#: check last took them, and whether a call named everything (no path).  At
#: most _MAX_REVALIDATIONS directories are kept; past that, everything.
_revalidate: set[str] = set()
_revalidate_all = False
_MAX_REVALIDATIONS = 256


def take_revalidations(*, keep: bool = False) -> tuple[bool, frozenset[str]]:
    """What :func:`invalidate_caches` named since the last call that took
    it: ``(everything, directories)``, directories as normalized absolute
    paths; forgotten unless *keep*.

    The change check (:mod:`modwrite._changes`) lists these directories and
    reads the sources of the modules under them rather than trusting a
    ``stat``: a stat on a network filesystem may be answered from the
    client's attribute cache (up to ``actimeo`` seconds old), while a
    listing makes the client revalidate the directory (Linux NFS: the
    close-to-open check on the directory's open, whose changed attributes
    then invalidate the names cached in it; FUSE: ``READDIRPLUS`` replaces
    the cached entries and their attributes), and an ``open`` revalidates a
    file (NFS close-to-open).
    """
    global _revalidate_all
    everything, directories = _revalidate_all, frozenset(_revalidate)
    if not keep:
        _revalidate_all = False
        _revalidate.clear()
    return everything, directories


def _note_revalidation(directory: str) -> None:
    global _revalidate_all
    if len(_revalidate) >= _MAX_REVALIDATIONS:
        _revalidate.clear()
        _revalidate_all = True
    _revalidate.add(directory)


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
    dict lookups, one ``stat`` unless *path* names a module file; after the
    cache's keys changed, one ``stat`` more at the first call about a
    directory (does its spelling still name the directory it resolved to?),
    and a ``realpath`` for a directory that no key names or that moved; plus
    one re-listing of the touched directory at the next import from it.
    This is ``PathFinder.invalidate_caches(path)`` as Brett Cannon proposed
    it on python-dev (March 2013): only the most specific finders.

    The next :func:`~modwrite.changed_modules` or
    :func:`~modwrite.reload_changed` then lists the directory of *path*
    (*path* itself for a directory; every directory without a path) and
    decides by reading the sources of the loaded modules in it and below
    it, not by their ``stat``: a change another host made there is seen at
    once on a network filesystem, whose client may answer a ``stat`` from
    its attribute cache (see *Network filesystems* in the documentation).
    """
    global _revalidate_all
    if path is None:
        importlib.invalidate_caches()
        _revalidate_all = True
        return
    spelled = path if isinstance(path, str) else str_path(path, what="path")
    # Already what _normalize() would make of it?  _names.is_normal_absolute()
    # written out: cold, each Python call shows (bench [4]), and abspath()
    # costs more than these scans.
    normal = (
        POSIX_PATHS
        and spelled.startswith("/")
        and "//" not in spelled
        and "/./" not in spelled
        and "/../" not in spelled
        and not spelled.endswith(("/", "/.", "/.."))
    )
    target = spelled if normal else _normalize(spelled)
    if not target.endswith(_MODULE_SUFFIXES):  # a module file path is not stat-ed
        try:
            is_dir = stat.S_ISDIR(os.stat(target).st_mode)
        except (OSError, ValueError):
            is_dir = False
        _invalidate_path(target, is_dir=is_dir)
        if is_dir:
            _refresh_directory_caches()
            _note_revalidation(target)
        else:
            _note_revalidation(_split(target)[0])
        return
    # A module file: _invalidate_path(target, is_dir=False) written out, its
    # common case inline.  Cold, each further Python call and each object
    # touched shows (bench [4]): this is the call programs make.
    cut = target.rfind(_SEP)
    if cut > 1 and POSIX_PATHS:  # normalized: no trailing nor doubled separator
        parent, leaf = target[:cut], target[cut + 1 :]
    else:
        parent, leaf = _split(target)
    if parent not in _revalidate:
        _note_revalidation(parent)
    cache = sys.path_importer_cache
    index = _index
    plan: Any = index.plans.get(parent)
    try:
        stale = (
            plan is None
            or cache is not index.cache
            or len(cache) != index.size
            or next(reversed(cache), _MISSING) is not index.last
        )
    except RuntimeError:  # changed by another thread meanwhile
        stale = True
    if stale:
        plan = _plan_for(parent)
    for key in plan[2:]:
        finder = cache.get(key, _MISSING)
        reset = _RESETS.get(finder.__class__, _MISSING)
        if reset is _MISSING:
            _invalidate_key(key, finder, leaf, None)
        else:  # _replace_finder() without a landing (see _reset_value)
            fresh = _new_object(finder.__class__)
            fresh.__dict__.update(finder.__dict__)
            fresh._path_mtime = reset
            finder._path_mtime = reset
            cache[key] = fresh
    none_keys = plan[1]
    if plan[0] is not None:
        none_keys += plan[0].get(leaf, ())
    for key in none_keys:
        if cache.get(key, _MISSING) is None:
            cache.pop(key, None)


def invalidate_file(path: str) -> None:
    """Invalidate the finders of the module file *path* (any spelling) and
    the ``None`` entries of its ancestors, as :func:`invalidate_caches`
    does, without noting its directory for the next change check (the
    caller has just read the file: :func:`modwrite.reload`)."""
    target = os.path.normcase(os.path.abspath(path))
    _invalidate_path(target, is_dir=False)


def invalidate_landing(landing: Landing) -> None:
    """:func:`invalidate_caches` for what a write just landed (the write
    path's fast lane: no ``stat``; see :class:`Landing`)."""
    target = landing.path if POSIX_PATHS else os.path.normcase(landing.path)
    _invalidate_path(target, is_dir=landing.is_dir, landing=landing)
    if landing.is_dir:
        _refresh_directory_caches()


def invalidate_directory_tree(root: str, relative_dirs: set[str]) -> None:
    """Invalidate *root* and each directory ``root/<relative>`` (a package
    replaced whole: its old and its new subdirectories), then refresh the
    directory-keyed caches once."""
    for relative in sorted(relative_dirs):
        _invalidate_path(_normalize(os.path.join(root, relative)), is_dir=True)
    _refresh_directory_caches()


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
