"""The optional watcher (``pip install modwrite[watch]``): call back, or
reload, when the source of a loaded module changes on disk.

Events only say *where* to look; content decides.  watchdog reports what
happened in the watched directories; each batch of events names files, and
the loaded modules executed from those files are checked by
``modwrite.changed_modules()`` (:mod:`modwrite._changes`: a ``stat``, and
a read and a hash when the ``stat`` cannot decide).  Only a module whose
source holds other bytes than the ones that ran, and other bytes than the
last callback was told about, is called back: a touch, a save of an
unmodified buffer or an atomic replace by an identical file call nothing.

Why directories, not files.  A watch on a file's path follows its inode: an
atomic save (temporary file + rename, as editors and :func:`write_module`
save) replaces that inode, and the watch is left on the unlinked one, deaf to
the next save.  A non-recursive watch on the directory sees every way a
file is replaced: written in place, truncated then written, renamed over
(``moved`` events, taken by their destination), deleted and created again.

Events of one batch are gathered until no new one has come for *debounce*
seconds (an editor's save is several events: create, write, close, rename),
and for at most :data:`MAX_DELAY_FACTOR` times that.  The loaded modules are
scanned again at each batch and every :data:`RESCAN_S` seconds: a module
loaded from a directory not watched yet gets its directory watched, and the
modules of a directory watched after the start are checked at once (an edit
made between their import and the watch is not missed); a watched directory
that is removed and made again (another inode), or whose watch ended, is
watched anew, and its modules checked.

watchdog is imported when a watcher starts, never at the import of
modwrite: the package loads its lazy names all at once (see
``modwrite.__getattr__``), and watchdog is an optional dependency.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from importlib.machinery import SOURCE_SUFFIXES
from types import ModuleType

from ._changes import find_changes, learn_what_ran, source_path
from ._reload import reload_changed
from .errors import ArgumentTypeError, InvalidArgument, ReloadFailedWarning

TYPE_CHECKING = False  # typing stays unimported at run time (start-up cost)
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterable
    from types import TracebackType

    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers.api import BaseObserver, ObservedWatch


__all__ = ["MAX_DELAY_FACTOR", "RESCAN_S", "Watcher", "watch"]

#: Seconds between two scans of :data:`sys.modules` when no event comes:
#: how soon a module loaded from a directory not watched yet is watched.
RESCAN_S = 1.0

#: A batch of events that keeps growing is handled at the latest this many
#: times *debounce* after its first event.
MAX_DELAY_FACTOR = 10

#: Event types that never come with a change of content: a read of the
#: file (the watcher's own reads among them).
_NO_CHANGE_EVENTS = frozenset({"opened", "closed_no_write"})

_SOURCE_SUFFIXES = tuple(SOURCE_SUFFIXES)

#: The logger the watcher reports on (it runs in its own thread, where an
#: exception has no caller to reach).
LOGGER_NAME = "modwrite.watch"


def watch(
    callback: Callable[[list[ModuleType]], object] | None = None,
    *,
    reload: bool = False,
    dependents: bool = False,
    debounce: float = 0.05,
    modules: Iterable[ModuleType] | None = None,
) -> Watcher:
    """Start watching the source files of the loaded modules; return the
    running :class:`Watcher` (stop it with :meth:`Watcher.stop`, or use it
    as a context manager).

    When an event names the source file of a watched module, the watcher
    waits until *debounce* seconds pass without another event, checks the
    modules those events named with ``modwrite.changed_modules()``, and
    calls *callback* with the changed ones, in the watcher's own thread.
    Content decides, never the event: each new source of a module is called
    back once, and a touch, a save of the same bytes or a replace by an
    identical file calls nothing.  With ``reload=True`` the watcher reloads
    the changed modules with ``modwrite.reload_changed()`` and calls
    *callback* (if any) with the modules it reloaded.

    The directories of the source files are watched (non-recursively), not
    the files: saves in place, truncate-then-write, atomic saves (temporary
    file + rename, as editors and :func:`write_module` save) and
    delete-and-recreate are all seen.  A file written in pieces further
    apart than *debounce* may be checked half-written; the next event brings
    the rest (with ``reload=True``, a half-written source that fails is
    reported and its completion reloaded).

    Needs watchdog (``pip install modwrite[watch]``).

    :param callback: called as ``callback(modules)`` with a non-empty
        ``list`` of module objects, one call at a time, in the watcher's
        thread.  Its return value is ignored; an exception it raises is
        logged on the ``modwrite.watch`` logger and the watcher goes on.
    :param reload: reload the changed modules (as
        ``modwrite.reload_changed()`` does) before calling back.  A module
        whose new source fails keeps its old version and is reported by one
        ``modwrite.ReloadFailedWarning``, issued in the watcher's
        thread.
    :param dependents: with ``reload=True``, also reload the modules that
        hold objects of a reloaded one (``reload_changed(dependents=True)``).
    :param debounce: seconds without a new event before a batch of events
        is handled (at most 10 times that after its first event).
    :param modules: watch only these modules (an iterable of module
        objects, read once).  ``None`` (the default): every loaded module
        executed from a source file outside the interpreter's library
        directories (the standard library, ``site-packages`` and the user
        site directory), and the modules loaded later from such files.
    :returns: the running watcher; its directories are watched when this
        returns.
    :raises ArgumentTypeError: *callback* is not callable, *debounce* not a
        number, *modules* holds something that is not a module.
    :raises InvalidArgument: *debounce* is negative or not finite, no
        *callback* and ``reload=False`` (nothing to do), or
        ``dependents=True`` without ``reload=True``.
    :raises ModuleNotFoundError: watchdog is not installed.

    .. versionadded:: 0.2.0
    """
    return Watcher(
        callback, reload=reload, dependents=dependents, debounce=debounce, modules=modules
    ).start()


class Watcher:
    """Watches the directories of loaded modules' source files and calls
    back (or reloads) when a module's source changes; made by
    :func:`watch`, whose arguments it takes.

    A watcher runs watchdog's threads (they queue events) and one of its
    own, named ``modwrite-watch``, which debounces the events, checks the
    modules by content, reloads them and runs the callback.  All are daemon
    threads, ended by :meth:`stop`.  Use it as a context manager to stop it
    on leaving the block::

        with modwrite.watch(print):
            ...

    *Reports.*  Nothing the watcher's thread meets reaches the caller: an
    exception of the callback, or of a check, is logged (with its traceback,
    level ``ERROR``) on the :mod:`logging` logger ``modwrite.watch``, and the
    watcher goes on, as :mod:`concurrent.futures` does for the exceptions of
    done-callbacks; so is (level ``WARNING``) a directory it cannot watch
    (inotify's limits: 128 instances per user by default on Linux, and
    watchdog before 7 takes one per directory).  A
    ``modwrite.ReloadFailedWarning`` is issued in the watcher's
    thread; when a warnings filter turns it into an exception (``-W
    error``), the watcher logs it (``WARNING``) and reloads the other
    changed modules.

    *Threads.*  With ``reload=True`` a module is reloaded in the watcher's
    thread, while the program's threads may be running its old code: fine
    for a REPL waiting at its prompt, or a server between requests; a
    program that must reload at a point of its choosing passes a callback
    that hands the modules to that point (a :class:`queue.Queue`) and calls
    ``modwrite.reload_changed()`` there.

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite"

    def __init__(
        self,
        callback: Callable[[list[ModuleType]], object] | None = None,
        *,
        reload: bool = False,
        dependents: bool = False,
        debounce: float = 0.05,
        modules: Iterable[ModuleType] | None = None,
    ) -> None:
        if callback is not None and not callable(callback):
            raise ArgumentTypeError(f"callback must be callable, not {type(callback).__name__}")
        if callback is None and not reload:
            raise InvalidArgument("watch() needs a callback, reload=True, or both")
        if dependents and not reload:
            raise InvalidArgument("dependents=True needs reload=True")
        if isinstance(debounce, bool) or not isinstance(debounce, (int, float)):
            raise ArgumentTypeError(f"debounce must be a number, not {type(debounce).__name__}")
        if not 0 <= debounce < float("inf"):
            raise InvalidArgument(f"debounce must be a finite number of seconds >= 0: {debounce}")
        fixed: list[ModuleType] | None = None
        if modules is not None:
            fixed = list(modules)
            for module in fixed:
                if not isinstance(module, ModuleType):
                    raise ArgumentTypeError(
                        f"modules must hold module objects, not {type(module).__name__}"
                    )
        self._callback = callback
        self._reload = reload
        self._dependents = dependents
        self._debounce = float(debounce)
        self._fixed = fixed

        # Shared with watchdog's threads, under _cond.
        self._cond = threading.Condition(threading.Lock())
        self._pending_paths: set[str] = set()
        self._pending_dirs: set[str] = set()
        self._first_event = 0.0  # monotonic seconds; meaningful while something is pending
        self._last_event = 0.0
        self._stopping = False

        # The watcher's thread only (and start(), before it runs).
        self._observer: BaseObserver | None = None
        self._handler: FileSystemEventHandler | None = None
        self._thread: threading.Thread | None = None
        self._watches: dict[str, tuple[ObservedWatch, tuple[int, int]]] = {}
        self._watches_lock = threading.Lock()  # for `directories`, read from any thread
        self._unwatchable: dict[str, tuple[int, int]] = {}
        self._abspaths: dict[str, str] = {}
        self._in_library: dict[str, bool] = {}
        self._library_roots: tuple[str, ...] = ()
        self._reported: weakref.WeakKeyDictionary[ModuleType, bytes] = weakref.WeakKeyDictionary()

    # -- public ------------------------------------------------------------------

    def start(self) -> Watcher:
        """Start watching; return the watcher.  The directories are watched
        when this returns, and what ran of each module is learnt before
        (``modwrite.changed_modules()`` learns it at a module's first
        check): a change made after this call is reported.

        A module whose source had already changed before the start is
        reported with the first event about its file; call
        ``modwrite.changed_modules()`` (or
        ``modwrite.reload_changed()``) once at the start for those.

        :raises RuntimeError: the watcher was started before (a watcher runs
            once, as a thread does).
        :raises ModuleNotFoundError: watchdog is not installed.
        """
        if self._observer is not None or self._stopping:
            raise RuntimeError("a Watcher can be started only once")
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                "modwrite.watch() needs watchdog: pip install 'modwrite[watch]'",
                name=exc.name,
            ) from exc

        on_event = self._on_event

        class _Handler(FileSystemEventHandler):
            def dispatch(self, event: FileSystemEvent) -> None:
                on_event(event)

        if self._fixed is None:
            self._library_roots = _library_roots()
        self._handler = _Handler()
        self._observer = observer = Observer()
        try:
            index, _ = self._scan()
            learn_what_ran(module for modules in index.values() for module in modules)
            observer.start()  # and the emitters of the watches _scan scheduled
        except BaseException:
            self._stopping = True
            observer.unschedule_all()
            self._watches.clear()
            raise
        self._thread = threading.Thread(target=self._run, name="modwrite-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching, and wait for the watcher's threads to end (a
        callback running now finishes first).  No callback starts after this
        returns.  Stopping a stopped watcher does nothing.

        Called from the callback itself, it returns at once; the watcher's
        thread ends when the callback returns.
        """
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        current = threading.current_thread()
        thread = self._thread
        if thread is not None and thread is not current:
            thread.join()  # its last act stops the observer
        observer = self._observer
        if observer is not None:
            observer.stop()
            if observer is not current and observer.is_alive():
                observer.join()

    @property
    def running(self) -> bool:
        """Whether the watcher is started and not stopped."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stopping

    @property
    def directories(self) -> frozenset[str]:
        """The directories watched now (absolute paths)."""
        with self._watches_lock:
            return frozenset(self._watches)

    def __enter__(self) -> Watcher:
        if self._observer is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped" if self._stopping else "not started"
        return f"<modwrite.Watcher {state}, {len(self.directories)} directories>"

    # -- watchdog's threads --------------------------------------------------------

    def _on_event(self, event: FileSystemEvent) -> None:
        """Note which files (or, when events were lost, which directory) an
        event names; runs in watchdog's thread, so it only queues."""
        kind = event.event_type
        if kind in _NO_CHANGE_EVENTS:
            return
        if kind == "events_lost":  # the kernel's queue overflowed: look at everything
            paths: list[str] = []
            directories = list(self.directories)
        elif event.is_directory:
            return
        else:
            directories = []
            named = (event.src_path, getattr(event, "dest_path", ""))
            paths = [os.fsdecode(p) for p in named if p]
            paths = [p for p in paths if p.endswith(_SOURCE_SUFFIXES)]
            if not paths:
                return
        now = time.monotonic()
        with self._cond:
            if not self._pending_paths and not self._pending_dirs:
                self._first_event = now
            self._last_event = now
            self._pending_paths.update(paths)
            self._pending_dirs.update(directories)
            self._cond.notify()

    # -- the watcher's thread --------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                self._handle(*batch)
        finally:
            assert self._observer is not None
            self._observer.stop()  # unschedules every watch
            with self._watches_lock:
                self._watches.clear()

    def _next_batch(self) -> tuple[set[str], set[str]] | None:
        """The files and directories named by the next batch of events (both
        empty: time to scan again), or ``None`` once stopping."""
        rescan_at = time.monotonic() + RESCAN_S
        max_delay = self._debounce * MAX_DELAY_FACTOR
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._pending_paths or self._pending_dirs:
                    due = min(self._last_event + self._debounce, self._first_event + max_delay)
                    if now >= due:
                        paths, self._pending_paths = self._pending_paths, set()
                        directories, self._pending_dirs = self._pending_dirs, set()
                        return paths, directories
                    self._cond.wait(due - now)
                elif now >= rescan_at:
                    return set(), set()
                else:
                    self._cond.wait(rescan_at - now)
        return None

    def _handle(self, paths: set[str], directories: set[str]) -> None:
        """Check the modules executed from *paths* or from files in
        *directories*, and call back with those that changed."""
        index, fresh = self._scan()
        directories |= fresh
        modules: dict[int, ModuleType] = {}
        for path, loaded in index.items():
            if path in paths or os.path.dirname(path) in directories:
                for module in loaded:
                    modules[id(module)] = module
        if not modules:
            return
        try:
            if self._reload:
                result = self._reload_changed(list(modules.values()))
            else:
                result = self._changed(list(modules.values()))
        except Exception:
            _logger().exception("modwrite watcher: checking %d module(s) failed", len(modules))
            return
        if result and self._callback is not None and not self._stopping:
            try:
                self._callback(result)
            except Exception:
                _logger().exception(
                    "modwrite watcher: callback %r raised (the watcher goes on)", self._callback
                )

    def _changed(self, modules: list[ModuleType]) -> list[ModuleType]:
        """The changed ones of *modules* whose new source the callback has
        not been told about yet."""
        changes = find_changes(modules)
        changed = {id(change.module) for change in changes}
        for module in modules:
            if id(module) not in changed:
                self._reported.pop(module, None)  # back to what ran (or reloaded)
        result = []
        for change in changes:
            if self._reported.get(change.module) != change.digest:
                self._reported[change.module] = change.digest
                result.append(change.module)
        return result

    def _reload_changed(self, modules: list[ModuleType]) -> list[ModuleType]:
        """``modwrite.reload_changed()`` on *modules*."""
        # A warnings filter may turn the ReloadFailedWarning of a module into
        # an exception ("error", as test suites set it), which ends that call.
        # The failed source is recorded before the warning is issued and not
        # tried again, so calling again goes on with the others; it ends
        # after at most one call per module.  What the ended call reloaded
        # before the raise (a run that fails after others ran, a dependent
        # that fails) is not in the list: that call returned nothing.
        reloaded: list[ModuleType] = []
        for _ in range(len(modules) + 1):
            try:
                reloaded += reload_changed(dependents=self._dependents, modules=modules)
            except ReloadFailedWarning as warning:
                _logger().warning("modwrite watcher: %s", warning)
            else:
                break
        return reloaded

    # -- scanning and watching -------------------------------------------------------

    def _scan(self) -> tuple[dict[str, list[ModuleType]], set[str]]:
        """The watched modules by the absolute path of their source file, and
        the directories whose watch was just made; watches the directories
        of new modules, drops those of modules gone."""
        candidates = self._fixed if self._fixed is not None else list(sys.modules.values())
        index: dict[str, list[ModuleType]] = {}
        directories = set()
        for module in candidates:
            if not isinstance(module, ModuleType):
                continue  # sys.modules may hold other objects
            origin = source_path(module)
            if origin is None:
                continue
            path = self._abspaths.get(origin)
            if path is None:
                path = self._abspaths[origin] = os.path.abspath(origin)
            directory = os.path.dirname(path)
            if self._fixed is None and self._in_library_dir(directory):
                continue
            index.setdefault(path, []).append(module)
            directories.add(directory)
        return index, self._watch_directories(directories)

    def _watch_directories(self, directories: set[str]) -> set[str]:
        """Watch exactly *directories*; return those watched anew: new, or
        another directory at the same path, or whose watch ended (watchdog
        ends it when its directory is removed; on watchdog 7, also a new
        watch of a directory removed and made again may end at once)."""
        assert self._observer is not None and self._handler is not None
        alive = None
        if self._observer.is_alive():
            alive = {emitter.watch for emitter in self._observer.emitters if emitter.is_alive()}
        fresh = set()
        for directory in sorted(directories):
            try:
                st = os.stat(directory)
                identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
            except OSError:
                identity = None
            current = self._watches.get(directory)
            if current is not None:
                if current[1] == identity and (alive is None or current[0] in alive):
                    continue
                self._unwatch(directory)
            if identity is None or self._unwatchable.get(directory) == identity:
                continue
            if self._stopping:
                break
            try:
                watch = self._observer.schedule(self._handler, directory, recursive=False)
            except OSError as exc:  # inotify's limits (EMFILE, ENOSPC), permissions
                self._unwatchable[directory] = identity
                _logger().warning("modwrite watcher: cannot watch %s: %s", directory, exc)
                continue
            self._unwatchable.pop(directory, None)
            with self._watches_lock:
                self._watches[directory] = (watch, identity)
            fresh.add(directory)
        for directory in [d for d in self._watches if d not in directories]:
            self._unwatch(directory)
        return fresh

    def _unwatch(self, directory: str) -> None:
        assert self._observer is not None
        with self._watches_lock:
            watch, _ = self._watches.pop(directory)
        try:
            self._observer.unschedule(watch)
        except Exception:  # its emitter stopped itself (the directory was removed)
            _logger().debug("modwrite watcher: unscheduling %s failed", directory, exc_info=True)

    def _in_library_dir(self, directory: str) -> bool:
        known = self._in_library.get(directory)
        if known is None:
            real = os.path.realpath(directory) + os.sep
            known = self._in_library[directory] = real.startswith(self._library_roots)
        return known


def _library_roots() -> tuple[str, ...]:
    """The real paths, each ending in a separator, of the interpreter's
    library directories: the standard library, ``site-packages`` (the
    :mod:`sysconfig` scheme's and :mod:`site`'s, which differ on Debian)
    and the user site directory."""
    import site
    import sysconfig

    paths = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    if hasattr(site, "getsitepackages"):  # not in old virtualenv's site.py
        paths.update(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        paths.add(site.getusersitepackages())
    return tuple(sorted(os.path.join(os.path.realpath(p), "") for p in paths if p))


def _logger() -> logging.Logger:
    import logging  # not at import time: modwrite's lazy names load together

    return logging.getLogger(LOGGER_NAME)
