"""modwrite's finders and loaders (guarantees G5, G6, G7).

Laid out in the order and under the banners of CPython's
``Lib/importlib/_bootstrap_external.py`` (path helpers, bytecode helpers,
loaders, finders, installation), so that a reviewer can read it against
upstream.  What differs from upstream, and why:

* :class:`FileFinder` re-lists its directory not only when the directory's
  mtime changed but also while its listing may predate a change made in the
  same timestamp tick (G6): a file created by any tool before a lookup
  starts is found on any timestamp granularity.  Re-listing costs are paid
  only within one tick of a directory change.  It also takes single-entry
  updates (:meth:`FileFinder.add_entry`), so modwrite's own writes update
  its cache in O(1).
* :class:`SourceFileLoader` trusts a timestamp pyc only when the pyc was
  written at least :data:`SETTLED_S` seconds after the second of the
  source's mtime.  A same-size rewrite made by any tool in the same second as
  the pyc's compilation is therefore never run from stale bytecode, while a
  cache written after the source settled is used as usual.
* :class:`PathFinder.invalidate_caches` takes a path (Brett Cannon's
  counter-proposal to Eby's ``write_module()``, python-dev, March 2013).

The classes subclass their :mod:`importlib.machinery` namesakes, so
``isinstance`` checks in the ecosystem keep working: pytest rewrites asserts
only in modules whose loader is an ``importlib.machinery.SourceFileLoader``,
and :func:`pkgutil.iter_modules` dispatches on
``importlib.machinery.FileFinder``.
"""

from __future__ import annotations

import _thread
import importlib.machinery
import io
import os
import sys
import time
from importlib.machinery import ModuleSpec

from ._clock import CLOCK_LAG_NS, SETTLED_S, tick_for

TYPE_CHECKING = False  # typing stays unimported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from importlib.abc import Loader
    from types import CodeType
    from typing import Any

__all__ = [
    "BYTECODE_SUFFIXES",
    "DEBUG_BYTECODE_SUFFIXES",
    "EXTENSION_SUFFIXES",
    "OPTIMIZED_BYTECODE_SUFFIXES",
    "SETTLED_S",
    "SOURCE_SUFFIXES",
    "ExtensionFileLoader",
    "FileFinder",
    "Installation",
    "PathFinder",
    "SourceFileLoader",
    "SourcelessFileLoader",
    "all_suffixes",
    "install",
    "installed",
    "uninstall",
]

SOURCE_SUFFIXES = importlib.machinery.SOURCE_SUFFIXES
BYTECODE_SUFFIXES = importlib.machinery.BYTECODE_SUFFIXES
DEBUG_BYTECODE_SUFFIXES = importlib.machinery.DEBUG_BYTECODE_SUFFIXES
OPTIMIZED_BYTECODE_SUFFIXES = importlib.machinery.OPTIMIZED_BYTECODE_SUFFIXES
EXTENSION_SUFFIXES = importlib.machinery.EXTENSION_SUFFIXES
all_suffixes = importlib.machinery.all_suffixes


# -- path helpers ------------------------------------------------------------

_CASE_INSENSITIVE_PLATFORMS = ("win", "cygwin", "darwin")


def _relax_case() -> bool:
    """True when module names match file names case-insensitively
    (``PYTHONCASEOK`` on a case-insensitive platform), as in CPython."""
    return (
        sys.platform.startswith(_CASE_INSENSITIVE_PLATFORMS)
        and not sys.flags.ignore_environment
        and "PYTHONCASEOK" in os.environ
    )


def _path_is_mode_type(path: str, mode: int) -> bool:
    try:
        return (os.stat(path).st_mode & 0o170000) == mode
    except OSError:
        return False


def _path_isfile(path: str) -> bool:
    return _path_is_mode_type(path, 0o100000)


def _path_isdir(path: str) -> bool:
    return _path_is_mode_type(path or os.getcwd(), 0o040000)


# -- bytecode helpers --------------------------------------------------------

# SETTLED_S (from modwrite._clock): a timestamp pyc is trusted only when its
# file was written at least this many whole seconds after the second of its
# source's mtime: a pyc written in the same second could have been compiled
# from an earlier same-size version of that second.  One largest tick (2 s),
# so that a compilation that straddles a second boundary is covered too.

_BYTECODE_SUFFIXES = tuple(BYTECODE_SUFFIXES)
_PYC_FLAGS = slice(4, 8)


def _pyc_is_settled(data: bytes, pyc_mtime: float, source_mtime: float) -> bool:
    """Is this pyc safe to trust for a source with *source_mtime*?

    Hash-based pycs (PEP 552 flags != 0) are validated by hash, so always;
    timestamp pycs only if written :data:`SETTLED_S` seconds after the source
    changed.
    """
    if len(data) < 16 or int.from_bytes(data[_PYC_FLAGS], "little") != 0:
        return True
    return int(pyc_mtime) >= int(source_mtime) + SETTLED_S


# -- loaders -----------------------------------------------------------------


class SourceFileLoader(importlib.machinery.SourceFileLoader):
    """:class:`importlib.machinery.SourceFileLoader` that no same-second,
    same-size rewrite can fool (see :data:`SETTLED_S`).

    ``get_code`` is CPython's (``SourceLoader.get_code``); only the two
    documented hooks it calls differ: :meth:`path_stats` remembers the source
    mtime it reports, and :meth:`get_data` reports an unsettled timestamp pyc
    as missing, so the source is compiled (and the pyc rewritten) instead.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite.machinery"

    #: ``(path, digest, (st_mtime_ns, st_size, st_ino, st_ctime_ns))`` of the
    #: source bytes this loader last compiled (the digest is
    #: :func:`~importlib.util.source_hash` of the bytes without trailing
    #: newlines, as ``modwrite._changes.digest_of`` computes it) (the stat taken before
    #: they were read), or ``None``: what :func:`modwrite.changed_modules`
    #: compares the file with.  A module run from its bytecode cache leaves
    #: ``None`` (the cache itself tells what ran).
    executed_source: tuple[str, bytes, tuple[int, int, int, int]] | None = None

    def path_stats(self, path: str) -> dict[str, Any]:
        """``{"mtime": float seconds, "size": bytes}`` of the source *path*,
        as :meth:`importlib.abc.SourceLoader.path_stats`; the mtime is kept
        for :meth:`get_data`'s check of the bytecode read next.

        :raises OSError: the source cannot be stat-ed.
        """
        st = os.stat(path)
        self._source_mtime = st.st_mtime
        self._source_key = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
        return {"mtime": st.st_mtime, "size": st.st_size}

    def source_to_code(  # type: ignore[override]  # typeshed's signature lacks _optimize
        self, data: bytes, path: str, *, _optimize: int = -1
    ) -> CodeType:
        """The code of the source bytes *data* read from *path*, as
        :meth:`importlib.abc.InspectLoader.source_to_code`; records them in
        :attr:`executed_source`.

        :raises SyntaxError: *data* does not compile.
        """
        key = getattr(self, "_source_key", None)
        code = super().source_to_code(data, path, _optimize=_optimize)
        # importlib.util is not imported here: this loader may be compiling
        # importlib/util.py itself (at start-up, from a sitecustomize).  A
        # module compiled before it is loaded is not recorded (what ran is
        # then learnt as for a stock import).
        source_hash = getattr(sys.modules.get("importlib.util"), "source_hash", None)
        if key is not None and source_hash is not None:
            self.executed_source = (path, source_hash(data.rstrip(b"\n")), key)
        return code

    def get_data(self, path: str) -> bytes:
        """The bytes of *path*, as :meth:`importlib.abc.FileLoader.get_data`.

        :raises OSError: *path* cannot be read, or it is a timestamp pyc that
            is not settled (written less than :data:`SETTLED_S` seconds after
            its source's mtime second): ``get_code`` then compiles the source
            and rewrites the pyc, as it does for a missing one.
        """
        if not path.endswith(_BYTECODE_SUFFIXES):
            return super().get_data(path)
        with io.open_code(path) as f:
            data = f.read()
            pyc_mtime = os.fstat(f.fileno()).st_mtime
        source_mtime = getattr(self, "_source_mtime", None)
        if source_mtime is not None and not _pyc_is_settled(data, pyc_mtime, source_mtime):
            raise OSError(f"bytecode {path!r} was written too soon after its source changed")
        return data


class SourcelessFileLoader(importlib.machinery.SourcelessFileLoader):
    """:class:`importlib.machinery.SourcelessFileLoader`, unchanged.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite.machinery"


class ExtensionFileLoader(importlib.machinery.ExtensionFileLoader):
    """:class:`importlib.machinery.ExtensionFileLoader`, unchanged.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite.machinery"


def _get_supported_file_loaders() -> list[tuple[type[Loader], list[str]]]:
    """The (loader, suffixes) pairs of :class:`FileFinder`, in CPython's
    order: extensions, then source, then bytecode.

    As CPython's ``_get_supported_file_loaders``, the source and bytecode
    lists are :mod:`importlib.machinery`'s own, not copies: a program that
    adds a suffix at run time (Hy adds ``.hy``) is seen by every finder made
    after it did."""
    return [
        (ExtensionFileLoader, list(EXTENSION_SUFFIXES)),
        (SourceFileLoader, SOURCE_SUFFIXES),
        (SourcelessFileLoader, BYTECODE_SUFFIXES),
    ]


# -- finders -----------------------------------------------------------------


#: Timestamps at most this fine (ns) date every change apart: no listing taken
#: after a change can miss an entry created later with the same mtime.
_FINEST_TICK_NS = 1_000


class FileFinder(importlib.machinery.FileFinder):
    """Path entry finder for one directory, caching its listing (G6).

    As :class:`importlib.machinery.FileFinder`, the listing is read again when
    the directory's ``st_mtime`` changed.  In addition, a listing taken less
    than one timestamp tick after the directory's mtime may miss an entry
    created later in that tick (which would not move the mtime), so it is
    read again at the next lookup, until a listing is taken at least one
    tick after the last change.  The tick is learned from the timestamps the
    filesystem reports (nanoseconds on ext4/tmpfs/APFS/NTFS: no extra
    listings; 1 s on HFS+ or ext4 with 128-byte inodes; 2 s on FAT).

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite.machinery"

    def __init__(self, path: str, *loader_details: tuple[type[Loader], list[str]]) -> None:
        # Not super().__init__(): the state is set here, under CPython's
        # attribute names (code in the wild pokes at _path_mtime and
        # _path_cache), plus _relist_until_ns and _tick_ns, which are ours:
        # _relist_until_ns is non-zero while no listing was taken a tick
        # after the directory's last change (the end of that tick, plus the
        # clock's lag, in ns), _tick_ns the directory's tick (0: unknown).
        loaders: list[tuple[str, type[Loader]]] = []
        for loader, suffixes in loader_details:
            loaders.extend((suffix, loader) for suffix in suffixes)
        self._loaders = loaders
        self.path = os.getcwd() if not path or path == "." else os.path.abspath(path)
        self._path_mtime = -1.0
        self._relist_until_ns = 0
        self._tick_ns = 0
        self._folds_case: bool | None = None
        self._path_cache: set[str] = set()
        self._relaxed_path_cache: set[str] = set()

    def invalidate_caches(self) -> None:
        """Forget the listing: the next lookup reads the directory again."""
        self._path_mtime = -1.0

    def add_entry(self, name: str) -> None:
        """Record that the entry *name* now exists, without re-listing.

        Used by modwrite's writes (O(1)); any other change of the directory
        is still detected by its mtime.
        """
        self._path_cache.add(name)
        self._relaxed_path_cache.add(name.lower())

    def note_own_write(self, name: str, mtime_before: float, mtime_after: float) -> None:
        """modwrite landed *name* here, the directory's mtime moving from
        *mtime_before* to *mtime_after*: if the listing was current before,
        on a filesystem with timestamps finer than a microsecond, update it
        in O(1) instead of reading the directory again.

        With coarser timestamps the landing's tick is still open: another
        tool's entry created later in it does not move the mtime, so the
        listing is read again at the next lookup (and once more after the
        tick).  With fine ones, an entry created
        during the landing (between the two ``fstat`` calls around the
        rename, microseconds) is seen at the directory's next change.
        """
        if (
            self._path_mtime != mtime_before
            or self._relist_until_ns
            or self._tick_ns > _FINEST_TICK_NS
            or self._case_insensitive(name)
        ):
            self.invalidate_caches()
            return
        self.add_entry(name)
        self._path_mtime = mtime_after

    def _case_insensitive(self, name: str) -> bool:
        """Does this directory's filesystem fold case (vfat, NTFS, APFS)?
        There a write may have replaced an entry spelled otherwise, which
        only a listing shows.  Learned once per finder, with one ``stat``."""
        if self._folds_case is None:
            variant = name.swapcase()
            self._folds_case = variant != name and os.path.lexists(
                os.path.join(self.path, variant)
            )
        return self._folds_case

    def discard_entry(self, name: str) -> None:
        """Record that the entry *name* no longer exists, without re-listing."""
        self._path_cache.discard(name)
        self._relaxed_path_cache.discard(name.lower())

    def _refresh(self) -> None:
        try:
            st = os.stat(self.path or os.getcwd())
        except OSError:
            mtime, mtime_ns, device = -1.0, -1, None
        else:
            mtime, mtime_ns, device = st.st_mtime, st.st_mtime_ns, st.st_dev
        if mtime == self._path_mtime and not self._relist_until_ns:
            return
        listed_at = time.time_ns()
        self._fill_cache()
        self._path_mtime = mtime
        if device is None:
            self._relist_until_ns = self._tick_ns = 0
            return
        tick = self._tick_ns = tick_for(device, mtime_ns)
        # Until one tick (plus clock lag) after the change, a listing may
        # miss entries created later in the change's tick: such a listing is
        # read again at every lookup, until one is taken after that time.
        uncertain_until = mtime_ns + tick + CLOCK_LAG_NS if tick > _FINEST_TICK_NS else 0
        self._relist_until_ns = uncertain_until if listed_at < uncertain_until else 0

    def _fill_cache(self) -> None:
        try:
            contents = os.listdir(self.path or os.getcwd())
        except (FileNotFoundError, PermissionError, NotADirectoryError):
            contents = []
        if not sys.platform.startswith("win"):
            self._path_cache = set(contents)
        else:  # pragma: no cover - Windows: suffixes match case-insensitively
            lowered = set()
            for item in contents:
                name, dot, suffix = item.partition(".")
                lowered.add(f"{name}.{suffix.lower()}" if dot else name)
            self._path_cache = lowered
        if sys.platform.startswith(_CASE_INSENSITIVE_PLATFORMS):  # pragma: no cover
            self._relaxed_path_cache = {fn.lower() for fn in contents}

    def _get_spec(
        self,
        loader_class: type[Any],
        fullname: str,
        path: str,
        smsl: list[str] | None,
        target: object,
    ) -> ModuleSpec | None:
        loader = loader_class(fullname, path)
        # What importlib.util.spec_from_file_location() does for a finder
        # (which may not import importlib.util: that module is found through
        # this very finder when the machinery is installed at start-up).
        spec = ModuleSpec(fullname, loader, origin=path)
        spec.has_location = True
        spec.submodule_search_locations = smsl
        return spec

    def find_spec(self, fullname: str, target: object = None) -> ModuleSpec | None:
        """Find the spec of *fullname* in this directory, as CPython's
        ``FileFinder.find_spec`` does (package, then module by suffix order,
        then namespace portion)."""
        is_namespace = False
        tail_module = fullname.rpartition(".")[2]
        self._refresh()
        if _relax_case():  # pragma: no cover - case-insensitive platforms
            cache, cache_module = self._relaxed_path_cache, tail_module.lower()
        else:
            cache, cache_module = self._path_cache, tail_module
        base_path = ""
        if cache_module in cache:
            base_path = os.path.join(self.path, tail_module)
            for suffix, loader_class in self._loaders:
                full_path = os.path.join(base_path, "__init__" + suffix)
                if _path_isfile(full_path):
                    return self._get_spec(loader_class, fullname, full_path, [base_path], target)
            is_namespace = _path_isdir(base_path)
        for suffix, loader_class in self._loaders:
            # Membership first: joining paths costs more than a set lookup.
            if cache_module + suffix in cache:
                full_path = os.path.join(self.path, tail_module + suffix)
                if _path_isfile(full_path):
                    return self._get_spec(loader_class, fullname, full_path, None, target)
        if is_namespace:
            spec = ModuleSpec(fullname, None)
            spec.submodule_search_locations = [base_path]
            return spec
        return None

    @classmethod
    def path_hook(
        cls, *loader_details: tuple[type[Loader], list[str]]
    ) -> Callable[[str], FileFinder]:
        """A :data:`sys.path_hooks` entry making a :class:`FileFinder` for a
        directory; raises :class:`ImportError` for anything else."""

        def path_hook_for_modwrite_FileFinder(path: str) -> FileFinder:
            if not _path_isdir(path):
                raise ImportError("only directories are supported", path=path)
            return cls(path, *loader_details)

        return path_hook_for_modwrite_FileFinder

    def __repr__(self) -> str:
        return f"FileFinder({self.path!r})"


class PathFinder(importlib.machinery.PathFinder):
    """Meta path finder for :data:`sys.path` and package ``__path__`` lists.

    As :class:`importlib.machinery.PathFinder` (it inherits the lookup), with
    :meth:`invalidate_caches` taking a path.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite.machinery"

    @staticmethod
    def invalidate_caches(path: str | os.PathLike[str] | None = None) -> None:
        """Without *path*, as :meth:`importlib.machinery.PathFinder.invalidate_caches`;
        with a path, only the finders holding it (see
        :func:`modwrite.invalidate_caches`)."""
        if path is None:
            importlib.machinery.PathFinder.invalidate_caches()
            return
        from ._invalidate import invalidate_caches

        invalidate_caches(path)


# -- installation --------------------------------------------------------------


def _is_stock_file_finder_hook(hook: object) -> bool:
    return getattr(hook, "__qualname__", "").startswith("FileFinder.path_hook.") and (
        getattr(hook, "__module__", "")
        in ("importlib._bootstrap_external", "_frozen_importlib_external")
    )


_HOOK = FileFinder.path_hook(*_get_supported_file_loaders())


class _State:
    """Who holds the installation.  One per interpreter; :func:`uninstall`
    ends every hold."""

    def __init__(self) -> None:
        self.lock = _thread.allocate_lock()
        self.holders = 0
        self.generation = 0
        self.saved_hook: object = None
        self.saved_finder: object = None


_state = _State()


class Installation:
    """One owner's hold on modwrite's machinery, returned by :func:`install`.

    The machinery stays installed while any owner holds it: a library (the
    pytest plugin) and the program using it can both install it, and release
    it in any order.  When the last hold is released, :data:`sys.meta_path`
    and :data:`sys.path_hooks` get back what the first :func:`install` found.
    Also a context manager that releases its hold on exit.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite"
    __slots__ = ("_active", "_generation")

    def __init__(self, generation: int) -> None:
        self._generation = generation
        self._active = True

    @property
    def active(self) -> bool:
        """Does this owner still hold the machinery?"""
        return self._active and self._generation == _state.generation

    def uninstall(self) -> None:
        """Release this hold (again: nothing); the machinery is uninstalled
        when no other hold remains."""
        with _state.lock:
            if not self.active:
                self._active = False
                return
            self._active = False
            _state.holders -= 1
            if _state.holders <= 0:
                _remove()

    def __enter__(self) -> Installation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        return f"<modwrite.Installation {'active' if self.active else 'released'}>"


def installed() -> bool:
    """Is modwrite's machinery installed in this interpreter?"""
    return _HOOK in sys.path_hooks


def install() -> Installation:
    """Install modwrite's machinery in this interpreter, for one more owner.

    Puts :class:`modwrite.machinery.PathFinder` in place of
    :class:`importlib.machinery.PathFinder`
    on :data:`sys.meta_path` and modwrite's path hook in place of the stock
    ``FileFinder`` hook on :data:`sys.path_hooks`, and drops the stock
    finders from :data:`sys.path_importer_cache` (they are recreated as
    modwrite's at their next lookup).  Modules already imported keep their
    loaders.  Installing again adds a hold and changes nothing else.

    :returns: this owner's :class:`Installation`: release it with its
        :meth:`~Installation.uninstall` or by leaving a ``with
        modwrite.install():`` block; the machinery goes when the last
        owner's hold is released.  :func:`uninstall` ends every hold.

    At interpreter start-up (for REPLs): put ``import modwrite;
    modwrite.install()`` in a ``.pth`` file's ``import`` line or in
    ``sitecustomize``/``usercustomize``, or in :envvar:`PYTHONSTARTUP` for
    interactive sessions.
    """
    with _state.lock:
        if not installed():
            _add()
            _state.holders = 0
        _state.holders += 1
        return Installation(_state.generation)


def uninstall() -> None:
    """Uninstall modwrite's machinery, whoever holds it: the stock hook and
    meta path finder back where they were, modwrite's finders dropped from
    :data:`sys.path_importer_cache`, every :class:`Installation` released.
    Idempotent."""
    with _state.lock:
        if installed():
            _remove()
        _state.holders = 0
        _state.generation += 1


def _add() -> None:
    _state.generation += 1
    _state.saved_hook = None
    _state.saved_finder = None
    for index, hook in enumerate(sys.path_hooks):
        if _is_stock_file_finder_hook(hook):
            _state.saved_hook = hook
            sys.path_hooks[index] = _HOOK
            break
    else:
        sys.path_hooks.append(_HOOK)
    if importlib.machinery.PathFinder in sys.meta_path:
        _state.saved_finder = importlib.machinery.PathFinder
        sys.meta_path[sys.meta_path.index(importlib.machinery.PathFinder)] = PathFinder
    else:
        sys.meta_path.append(PathFinder)
    _drop_finders(importlib.machinery.FileFinder, keep=FileFinder)


def _remove() -> None:
    """Put back what :func:`_add` replaced, where modwrite's entries are now
    (other libraries may have added entries before them since)."""
    _swap_back(sys.path_hooks, _HOOK, _state.saved_hook)
    _swap_back(sys.meta_path, PathFinder, _state.saved_finder)
    _state.saved_hook = None
    _state.saved_finder = None
    _state.generation += 1
    _drop_finders(FileFinder, keep=None)


def _swap_back(entries: list[Any], ours: object, saved: object) -> None:
    """Replace the first of *ours* in *entries* by *saved* (or drop it when
    nothing was saved), and drop any other copy of *ours*."""
    if ours in entries:
        index = entries.index(ours)
        if saved is not None and saved not in entries:
            entries[index] = saved
        else:
            del entries[index]
    while ours in entries:
        entries.remove(ours)


def _drop_finders(kind: type[Any], keep: type[Any] | None) -> None:
    for key, finder in list(sys.path_importer_cache.items()):
        if isinstance(finder, kind) and not (keep is not None and isinstance(finder, keep)):
            del sys.path_importer_cache[key]
