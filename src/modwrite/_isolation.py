"""The import state a test changes, captured and put back: the core of the
pytest plugin (:mod:`modwrite.pytest_plugin`).

A test that writes and imports modules leaves four things behind in the
process, and each one makes a later test that writes a module of the same
name import the earlier one (pytest issue #10854: ``monkeypatch.
syspath_prepend`` restores only the first):

* :data:`sys.modules`: the modules it imported, and those it replaced or
  removed;
* the attribute an import of ``pkg.sub`` sets on ``pkg`` when ``pkg`` was
  loaded before: ``pkg.sub`` still names the test's module after it is gone
  from :data:`sys.modules`, and ``from pkg import sub`` finds it there;
* :data:`sys.path`;
* :data:`sys.path_importer_cache`: the finders of the test's directories,
  with their listings.

and :mod:`linecache` keeps the test's sources for tracebacks.
:meth:`ImportState.restore` puts all of them back as
:meth:`ImportState.capture` found them, without a global
:func:`importlib.invalidate_caches` (which would reset every finder of the
process: the finders of directories the test did not touch are still right).
"""

from __future__ import annotations

import linecache
import sys
from types import ModuleType

__all__ = ["ImportState"]


class ImportState:
    """A snapshot of :data:`sys.modules`, :data:`sys.path`,
    :data:`sys.path_importer_cache` and :data:`linecache.cache`.

    Cost: copies of three dicts and a list (about 0.1 ms with 1000 loaded
    modules) to capture, as much again to restore.
    """

    __slots__ = ("_importer_cache", "_lines", "_modules", "_path")

    def __init__(
        self,
        modules: dict[str, ModuleType],
        path: list[str],
        importer_cache: dict[str, object],
        lines: dict[str, object],
    ) -> None:
        self._modules = modules
        self._path = path
        self._importer_cache = importer_cache
        self._lines = lines

    @classmethod
    def capture(cls) -> ImportState:
        """The import state now."""
        return cls(
            dict(sys.modules),
            list(sys.path),
            dict(sys.path_importer_cache),
            dict(linecache.cache),
        )

    def restore(self) -> None:
        """Put the captured state back: modules added since are dropped
        (and unset on the parent packages loaded before, where the import
        set them), replaced and removed ones are put back; ``sys.path``,
        the importer cache entries and ``linecache`` are as captured."""
        modules = self._modules
        for name, module in list(sys.modules.items()):
            if modules.get(name) is module:
                continue
            parent_name, _, leaf = name.rpartition(".")
            parent = modules.get(parent_name) if parent_name else None
            if parent is not None and getattr(parent, leaf, None) is module:
                if name in modules:
                    setattr(parent, leaf, modules[name])
                else:
                    try:
                        delattr(parent, leaf)
                    except AttributeError:  # pragma: no cover - a read-only module proxy
                        pass
            if name in modules:
                sys.modules[name] = modules[name]
            else:
                del sys.modules[name]
        for name, module in modules.items():
            if name not in sys.modules:
                sys.modules[name] = module
        sys.path[:] = self._path
        cache = sys.path_importer_cache
        for key in [k for k in cache if k not in self._importer_cache]:
            del cache[key]
        for key, finder in self._importer_cache.items():
            if cache.get(key, self) is not finder:
                cache[key] = finder  # type: ignore[assignment]
        linecache.cache.clear()
        linecache.cache.update(self._lines)  # type: ignore[arg-type]
