"""The optional watcher (``pip install modwrite[watch]``, on watchdog): calls
back with the loaded modules whose source changed, or reloads them, shortly
after their files change.

What it watches, and why:

* **directories**, not files: an editor's atomic save (temporary file +
  rename) and modwrite's own writes replace the file, and a watch on the
  file's own path follows the old inode, so the second replace is lost.  The
  directories are those of the loaded modules' source files, watched
  non-recursively; each batch of events re-scans :data:`sys.modules` and
  adds the directories of modules loaded since.
* every event that names a source file (``src_path`` or ``dest_path``):
  modified, created, moved-to, closed.  A delete-and-recreate shows up as a
  create, a truncate-then-write as modifications.
* after a **debounce** (the events of one save arrive as a burst), the
  modules whose files the events named are checked by content
  (:func:`modwrite.changed_modules`): a touch, or a save of the same bytes,
  calls nothing back.

The callback runs in the watcher's own thread.  An exception it raises is
logged (logger ``"modwrite"``) and the watcher goes on.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from types import ModuleType

from . import _changes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["Watcher", "watch"]

_logger = logging.getLogger("modwrite")
_STOP = object()
_SOURCE_SUFFIXES = (".py", ".pyw")


def watch(
    callback: Callable[[list[ModuleType]], object] | None = None,
    *,
    reload: bool = False,
    dependents: bool = False,
    debounce: float = 0.05,
) -> Watcher:
    """Start a :class:`Watcher` and return it (stop it with
    :meth:`Watcher.stop`, or use it as a context manager).

    :param callback: called, in the watcher's thread, with the list of
        changed loaded modules (with *reload*, of the modules reloaded);
        ``None`` with *reload* just reloads.
    :param reload: reload the changed modules with
        :func:`modwrite.reload_changed` before calling back.
    :param dependents: passed to :func:`modwrite.reload_changed`.
    :param debounce: seconds of quiet after an event before the check
        (``float`` >= 0).
    :raises InvalidArgument: *debounce* is negative, or neither *callback*
        nor *reload* is given.
    :raises ModuleNotFoundError: watchdog is not installed
        (``pip install modwrite[watch]``).
    """
    watcher = Watcher(callback, reload=reload, dependents=dependents, debounce=debounce)
    watcher.start()
    return watcher


class Watcher:
    """Watches the directories of the loaded modules' sources; see
    :func:`watch`, which makes and starts one."""

    def __init__(
        self,
        callback: Callable[[list[ModuleType]], object] | None = None,
        *,
        reload: bool = False,
        dependents: bool = False,
        debounce: float = 0.05,
    ) -> None:
        from .errors import InvalidArgument

        if callback is None and not reload:
            raise InvalidArgument("watch() needs a callback, or reload=True")
        if not debounce >= 0:
            raise InvalidArgument(f"debounce must be a number of seconds >= 0, not {debounce!r}")
        self._callback = callback
        self._reload = reload
        self._dependents = dependents
        self._debounce = float(debounce)
        self._events: queue.Queue[object] = queue.Queue()
        self._watched: set[str] = set()
        self._observer: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (the observer's thread and the watcher's)."""
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        events = self._events

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.is_directory:
                    return
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    if isinstance(path, bytes):
                        path = os.fsdecode(path)
                    if path and path.endswith(_SOURCE_SUFFIXES):
                        events.put(path)

        self._handler = _Handler()
        self._observer = Observer()
        # What ran, for every loaded module, before any event can come: a
        # module edited before its first check would otherwise be taken as
        # it is then (see changed_modules()).
        _changes.learn_what_ran(list(sys.modules.values()))
        self._watch_new_directories()
        self._observer.start()
        self._thread = threading.Thread(target=self._run, name="modwrite-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; returns when both threads have ended."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
        if self._thread is not None:
            self._events.put(_STOP)
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _watch_new_directories(self) -> dict[str, list[ModuleType]]:
        """Watch the directories of modules loaded since; return the loaded
        modules by the normalized path of their source."""
        by_path: dict[str, list[ModuleType]] = {}
        for module in list(sys.modules.values()):
            if not isinstance(module, ModuleType):
                continue
            path = _changes.source_path(module)
            if path is None:
                continue
            by_path.setdefault(os.path.normcase(os.path.abspath(path)), []).append(module)
            directory = os.path.dirname(os.path.abspath(path))
            if directory not in self._watched and os.path.isdir(directory):
                self._watched.add(directory)
                self._observer.schedule(self._handler, directory, recursive=False)
        return by_path

    def _run(self) -> None:
        while True:
            first = self._events.get()
            if first is _STOP:
                return
            paths = {first}
            while True:  # the debounce: until the burst is over
                try:
                    more = self._events.get(timeout=self._debounce)
                except queue.Empty:
                    break
                if more is _STOP:
                    return
                paths.add(more)
            try:
                self._check(paths)
            except Exception:
                _logger.exception("modwrite watcher: the check or the callback failed")

    def _check(self, paths: set[object]) -> None:
        by_path = self._watch_new_directories()
        candidates = [
            module
            for path in paths
            if isinstance(path, str)
            for module in by_path.get(os.path.normcase(os.path.abspath(path)), [])
        ]
        if not candidates:
            return
        if self._reload:
            from ._reload import reload_changed

            changed = reload_changed(modules=candidates, dependents=self._dependents)
        else:
            changed = _changes.changed_modules(candidates)
        if changed and self._callback is not None:
            self._callback(changed)
