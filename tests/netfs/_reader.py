"""A reader on "host B": a separate interpreter that imports, or re-imports,
modules another host writes, and reports when it first sees a version.

Run as ``python -m tests.netfs._reader DIRECTORY MODE`` (MODE ``stock``:
the stock import system; ``install``: ``modwrite.install()`` first), with
bytecode writing on.  It reads one JSON command a line on stdin and answers
one JSON line on stdout:

``{"op": "import", "name": N}``
    import *N* (or take it from :data:`sys.modules`): ``{"v": V}``, V its
    ``V`` attribute or ``null`` if the import failed.
``{"op": "changed"}``
    ``{"names": [...]}``: the names :func:`modwrite.changed_modules` reports.
``{"op": "attempt", "name": N, "how": H, "invalidate": I}``
    one attempt, as below: ``{"v": V}``, the version it saw.
``{"op": "await", "name": N, "want": V, "how": H, "invalidate": I, "t0": T0,
"deadline": S, "poll": P, "confirm": C}``
    try to see version *V* of module *N*, one attempt every *P* seconds,
    until it is seen or *S* seconds after *T0* (a ``time.monotonic()``
    reading of the writer: the clock is system-wide on Linux).  An attempt
    first invalidates (*I*: ``none``, ``importlib``:
    :func:`importlib.invalidate_caches`, ``modwrite``:
    ``modwrite.invalidate_caches(DIRECTORY)``), then (*H*): ``import``
    (imports *N* unless loaded), ``importlib.reload`` (the stock
    re-import), ``reload`` (``modwrite.reload``), ``reload_changed``
    (``modwrite.reload_changed()``).  Once seen, *C* more attempts must
    see it too (never stale again).  Answers ``{"seen": seconds after T0 or
    null, "attempts": K, "first": the first attempt's version, "after":
    the versions of the confirming attempts}``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from types import ModuleType
from typing import Any


def _version(name: str) -> Any:
    module = sys.modules.get(name)
    return getattr(module, "V", None) if module is not None else None


def _attempt(directory: str, name: str, how: str, invalidate: str) -> Any:
    import modwrite

    if invalidate == "importlib":
        importlib.invalidate_caches()
    elif invalidate == "modwrite":
        modwrite.invalidate_caches(directory)
    module: ModuleType | None = sys.modules.get(name)
    try:
        if how == "import" or module is None:
            module = importlib.import_module(name)
        elif how == "importlib.reload":
            module = importlib.reload(module)
        elif how == "reload":
            module = modwrite.reload(module)
        elif how == "reload_changed":
            modwrite.reload_changed()
        else:
            raise ValueError(f"unknown re-import {how!r}")
    except ImportError:
        return None
    return _version(name)


_MISSING: Any = object()


def _await(directory: str, command: dict[str, Any]) -> dict[str, Any]:
    name, want = command["name"], command["want"]
    t0, deadline, poll = command["t0"], command["deadline"], command["poll"]
    attempts, first, seen = 0, _MISSING, None
    while True:
        version = _attempt(directory, name, command["how"], command["invalidate"])
        attempts += 1
        if first is _MISSING:
            first = version
        if version == want:
            seen = time.monotonic() - t0
            break
        if time.monotonic() - t0 > deadline:
            break
        time.sleep(poll)
    after = []
    if seen is not None:
        for _ in range(command.get("confirm", 0)):
            time.sleep(poll)
            after.append(_attempt(directory, name, command["how"], command["invalidate"]))
    return {"seen": seen, "attempts": attempts, "first": first, "after": after}


def main(argv: list[str]) -> int:
    directory, mode = argv
    if mode == "install":
        import modwrite

        modwrite.install()
    elif mode != "stock":
        raise SystemExit(f"unknown mode {mode!r}")
    assert not sys.dont_write_bytecode, "bytecode writing must be on"
    sys.path.insert(0, directory)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "import":
            try:
                importlib.import_module(command["name"])
            except ImportError:
                pass
            module = sys.modules.get(command["name"])
            cached = getattr(module, "__cached__", None)
            answer: dict[str, Any] = {
                "v": _version(command["name"]),
                "pyc": cached is not None and os.path.exists(cached),
            }
        elif command["op"] == "changed":
            import modwrite

            answer = {"names": [m.__name__ for m in modwrite.changed_modules()]}
        elif command["op"] == "attempt":
            version = _attempt(directory, command["name"], command["how"], command["invalidate"])
            answer = {"v": version}
        elif command["op"] == "await":
            answer = _await(directory, command)
        else:
            answer = {"error": f"unknown op {command['op']!r}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
