"""modwrite's IPython extension: re-import that never runs stale code.

.. code-block:: text

   In [1]: %load_ext modwrite.ipython
   In [2]: %autoreimport on        # before each cell: reload_changed()
   In [3]: %reimport mymodule      # reload these now (modwrite.reload)
   In [4]: %reimport               # reload what changed now
   In [5]: %autoreimport update    # auto, and update old functions and classes in place
   In [6]: %autoreimport off

Changes are found by content (:func:`modwrite.changed_modules`): a save of
the same bytes reloads nothing, a same-size edit within the same second is
seen.  ``update`` makes functions and classes bound elsewhere (``from m
import f``, instances of old classes) run the new code, without scanning the
heap (``modwrite._update``).  Needs IPython (``pip install
modwrite[ipython]``).
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

from IPython.core.magic import Magics, line_magic, magics_class

import modwrite

from ._update import update_in_place

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_ATTRIBUTE = "_modwrite_reimport"


class _Reimporter:
    """The extension's state in one shell: *auto* (reload before each
    cell) and *update* (update old objects in place)."""

    def __init__(self) -> None:
        self.auto = False
        self.update = False

    def reload_changed(self) -> list[ModuleType]:
        changed = modwrite.changed_modules()
        if not changed:
            return []
        old = {m.__name__: dict(vars(m)) for m in changed} if self.update else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", modwrite.ReloadFailedWarning)
            reloaded = modwrite.reload_changed(modules=changed)
        for warning in caught:
            if isinstance(warning.message, modwrite.ReloadFailedWarning):
                print(f"modwrite: {warning.message}", file=sys.stderr)
            else:  # pragma: no cover - a warning the reloaded code issued
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        self._update(reloaded, old)
        if reloaded:
            print(f"modwrite: reloaded {', '.join(m.__name__ for m in reloaded)}")
        return reloaded

    def reload(self, names: list[str]) -> None:
        for name in names:
            module = sys.modules.get(name)
            if module is None:
                print(f"modwrite: {name!r} is not imported", file=sys.stderr)
                continue
            old = {name: dict(vars(module))} if self.update else {}
            try:
                modwrite.reload(module)
            except Exception as exc:
                print(f"modwrite: {name!r} kept its old version: {exc!r}", file=sys.stderr)
                continue
            self._update([module], old)

    def _update(self, modules: list[ModuleType], old: dict[str, dict[str, object]]) -> None:
        for module in modules:
            if module.__name__ in old:
                update_in_place(module, old[module.__name__])

    def pre_run_cell(self, *info: object) -> None:
        if self.auto:
            self.reload_changed()


@magics_class
class ReimportMagics(Magics):
    """``%reimport`` and ``%autoreimport``."""

    def __init__(self, shell: Any, reimporter: _Reimporter) -> None:
        super().__init__(shell)
        self._reimporter = reimporter

    @line_magic
    def reimport(self, line: str) -> None:
        """%reimport [NAME ...]: reload the named modules from the source on
        disk now; with no name, the modules whose source changed."""
        names = line.split()
        if names:
            self._reimporter.reload(names)
        else:
            self._reimporter.reload_changed()

    @line_magic
    def autoreimport(self, line: str) -> None:
        """%autoreimport on|off|update: reload changed modules before each
        cell (update: and update their old functions and classes in place)."""
        mode = line.strip() or "on"
        if mode not in ("on", "off", "update"):
            print("usage: %autoreimport on|off|update", file=sys.stderr)
            return
        self._reimporter.auto = mode != "off"
        self._reimporter.update = mode == "update"


def load_ipython_extension(ipython: Any) -> None:
    """Called by ``%load_ext modwrite.ipython``; loading twice does nothing."""
    if getattr(ipython, _ATTRIBUTE, None) is not None:
        return
    reimporter = _Reimporter()
    setattr(ipython, _ATTRIBUTE, reimporter)
    ipython.register_magics(ReimportMagics(ipython, reimporter))
    ipython.events.register("pre_run_cell", reimporter.pre_run_cell)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by ``%unload_ext modwrite.ipython``: auto mode off."""
    reimporter = getattr(ipython, _ATTRIBUTE, None)
    if reimporter is not None:
        ipython.events.unregister("pre_run_cell", reimporter.pre_run_cell)
        delattr(ipython, _ATTRIBUTE)
