"""The second process of the two-process model (test_two_processes.py).

    python -m tests.property.model_worker stock|installed

A long-lived interpreter, bytecode writing on, driven over its stdin and
stdout by one JSON object per line.  ``installed`` calls
:func:`modwrite.install` first; ``stock`` keeps CPython's import machinery.
It prints ``{"ready": ...}`` once, then answers each command with one line:

* ``{"op": "reset", "directory": D, "prefix": P, "warm": W}``: forget the previous
  example (its modules, its directory on :data:`sys.path` and its finders),
  put *D* first on :data:`sys.path` and import the module *W* (written there
  by plain ``open()``), so that *D* is listed and cached before any write;
  the answer names *W*'s bytecode cache and whether it now exists;
* ``{"op": "import", "name": N}``: drop *N* and its submodules from
  :data:`sys.modules` and import it again (a fresh import, as another
  program's first import);
* ``{"op": "reload", "name": N, "how": "importlib"|"modwrite"}``:
  :func:`importlib.reload` or :func:`modwrite.reload` of the loaded *N*;
* ``{"op": "reload_changed"}``: :func:`modwrite.reload_changed` of the
  example's loaded modules.

Every answer carries ``error`` (``"Type: message"`` or ``None``),
``error_types`` (the exception's class and its bases, to check its kind),
``warnings`` (texts), and ``loaded``: for each of the example's modules in
:data:`sys.modules`, the version it ran (its ``VERSION``, followed by
``+version()=...`` when its ``version()`` function returns another one: a
function a reload left from an earlier version that had one, or a torn
module).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
import warnings
from types import ModuleType
from typing import Any


def version_of(module: object) -> str | None:
    """The version *module* ran (its ``VERSION``), and, when its function
    ``version()`` answers otherwise (a function of another version kept),
    that too: ``"v2+version()='v1'"``."""
    version: str | None = getattr(module, "VERSION", None)
    function = getattr(module, "version", None)
    if function is not None and function() != version:
        return f"{version}+version()={function()!r}"
    return version


class Worker:
    """One importer of the model: ``stock`` or ``installed`` (modwrite's
    machinery), bytecode writing on."""

    def __init__(self, kind: str) -> None:
        sys.dont_write_bytecode = False
        import modwrite

        if kind == "installed":
            modwrite.install()
        self.modwrite = modwrite
        modwrite.reload_changed  # noqa: B018 - loads the re-import code before any example
        self.directory: str | None = None
        self.prefix: str | None = None

    # -- the example's modules ----------------------------------------------

    def _ours(self) -> dict[str, ModuleType]:
        prefix = self.prefix
        if prefix is None:
            return {}
        return {
            name: module
            for name, module in sys.modules.items()
            if name.startswith(prefix) and isinstance(module, ModuleType)
        }

    def _loaded(self) -> dict[str, Any]:
        report: dict[str, Any] = {}
        for name, module in sorted(self._ours().items()):
            report[name] = version_of(module)
        return report

    # -- commands --------------------------------------------------------------

    def reset(self, directory: str, prefix: str, warm: str) -> dict[str, Any]:
        old = self.directory
        for name in list(self._ours()):
            del sys.modules[name]
        if old is not None:
            while old in sys.path:
                sys.path.remove(old)
            for key in [k for k in sys.path_importer_cache if k.startswith(old)]:
                del sys.path_importer_cache[key]
        self.directory, self.prefix = directory, prefix
        sys.path.insert(0, directory)
        module = importlib.import_module(warm)
        cached = module.__cached__
        finder = sys.path_importer_cache.get(directory)
        del sys.modules[warm]
        return {
            "pyc": cached,
            "pyc_exists": os.path.exists(cached),
            "dont_write_bytecode": sys.dont_write_bytecode,
            "finder": f"{type(finder).__module__}.{type(finder).__qualname__}",
        }

    def import_(self, name: str) -> dict[str, Any]:
        for loaded in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
            del sys.modules[loaded]
        importlib.import_module(name)
        return {}

    def reload(self, name: str, how: str) -> dict[str, Any]:
        module = sys.modules[name]
        if how == "modwrite":
            self.modwrite.reload(module)
        else:
            importlib.reload(module)
        return {}

    def reload_changed(self) -> dict[str, Any]:
        reloaded = self.modwrite.reload_changed(modules=list(self._ours().values()))
        return {"reloaded": sorted(module.__name__ for module in reloaded)}

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.pop("op")
        answer: dict[str, Any] = {"error": None, "error_types": []}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if op == "reset":
                    answer.update(self.reset(**command))
                elif op == "import":
                    answer.update(self.import_(**command))
                elif op == "reload":
                    answer.update(self.reload(**command))
                elif op == "reload_changed":
                    answer.update(self.reload_changed())
                else:
                    raise ValueError(f"unknown op {op!r}")
            except Exception as exc:
                answer["error"] = f"{type(exc).__name__}: {exc}"
                answer["error_types"] = [cls.__name__ for cls in type(exc).__mro__]
                if not isinstance(exc, ImportError):
                    answer["traceback"] = traceback.format_exc()
        answer["warnings"] = [f"{w.category.__name__}: {w.message}" for w in caught]
        answer["loaded"] = self._loaded()
        return answer


def main(kind: str) -> None:
    worker = Worker(kind)
    out = sys.stdout
    out.write(
        json.dumps(
            {
                "ready": True,
                "kind": kind,
                "installed": worker.modwrite.installed(),
                "dont_write_bytecode": sys.dont_write_bytecode,
                "python": sys.version.split()[0],
            }
        )
        + "\n"
    )
    out.flush()
    for line in sys.stdin:
        out.write(json.dumps(worker.handle(json.loads(line))) + "\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1])
