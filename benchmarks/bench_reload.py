"""Benchmark of change detection with many loaded modules (issue 8), as
ratios measured side by side in one run, against the check a REPL makes
instead.

    python benchmarks/bench_reload.py [--modules N] [--rounds R] [--workdir DIR]

N generated modules (default 1000, plus what the interpreter itself loaded)
are written to a fresh directory (default: under /dev/shm), imported by the
stock import system with bytecode writing on, and then:

1. the first ``modwrite.changed_modules()``: first sight of every module
   (a ``stat``, a read and a hash each, and the pyc where the source is
   newer than the process).  Here every module was imported within the
   tick it was written, where only the code in its pyc tells what ran: the
   source is compiled once and compared (about 0.7 ms a module); a module
   whose pyc was written a settled while after its source costs no compile;
2. ``changed_modules()`` with nothing changed while the files are fresh
   (changed less than about two seconds ago: their ``stat`` cannot decide,
   so each is read and hashed) ...
3. ... and once they have settled (one ``stat`` each): the figure the issue
   asks for, against IPython autoreload's check (a ``stat`` and an
   ``st_mtime`` comparison per module file, ``ModuleReloader.filename_and_mtime``),
   the anchor;
4. one module edited: ``modwrite.reload_changed()`` against the anchor's
   check followed by ``importlib.reload`` of the module it finds.

Step 3 waits, once, for the files' ctimes to be 2 s in the past: that is the
scenario (modules not edited in the last two seconds), not a
synchronisation.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from types import ModuleType

import modwrite
from _report import add_json_option, figure, medians_side_by_side, write_json
from modwrite import _changes


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


def anchor_check(mtimes: dict[str, float]) -> Callable[[], list[ModuleType]]:
    """IPython autoreload's check: stat each loaded module's file, compare
    its float st_mtime with the one last seen."""

    def check() -> list[ModuleType]:
        changed = []
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if not path or not path.endswith(".py"):
                continue
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            if mtimes.setdefault(path, mtime) != mtime:
                mtimes[path] = mtime
                changed.append(module)
        return changed

    return check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--quick", action="store_true", help="200 modules, 5 rounds (CI)")
    parser.add_argument("--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    add_json_option(parser)
    args = parser.parse_args()
    if args.quick:
        args.modules, args.rounds = 200, 5
    sys.dont_write_bytecode = False
    root = tempfile.mkdtemp(prefix="modwrite-bench-reload-", dir=args.workdir)
    try:
        status = run(root, args.modules, args.rounds)
        write_json(args.json, benchmark="bench_reload.py", quick=args.quick)
        return status
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: str, count: int, rounds: int) -> int:
    sys.path.insert(0, root)
    names = [f"bench_reload_{i}" for i in range(count)]
    for i, name in enumerate(names):
        body = "".join(f"def f{j}(x):\n    return x + {i * 100 + j}\n" for j in range(20))
        with open(os.path.join(root, f"{name}.py"), "w") as f:
            f.write(body)
    modules = [importlib.import_module(name) for name in names]
    pycs = sum(os.path.exists(importlib.util.cache_from_source(m.__file__ or "")) for m in modules)
    loaded = sum(_changes.source_path(m) is not None for m in list(sys.modules.values()))
    print(f"{count} generated modules in {root} ({loaded} source modules loaded in all)")
    print(f"bytecode writing on: {not sys.dont_write_bytecode}, pycs written: {pycs}/{count}")

    start = time.perf_counter()
    assert modwrite.changed_modules() == []
    first = time.perf_counter() - start
    print(f"[1] first changed_modules(): {first * 1e3:.1f} ms")
    figure("reload", f"first changed_modules(), {count} modules imported just now", first, "s")

    mtimes: dict[str, float] = {}
    anchor = anchor_check(mtimes)
    anchor()
    fresh, anchor_s = medians_side_by_side(5, timed(modwrite.changed_modules), timed(anchor))
    print(
        f"[2] nothing changed, files fresh (< 2 s): changed_modules() {fresh * 1e3:.2f} ms, "
        f"anchor {anchor_s * 1e3:.2f} ms ({fresh / anchor_s:.2f}x)"
    )
    figure(
        "reload",
        f"changed_modules(), nothing changed, {count} fresh files (< 2 s old): "
        "/ IPython autoreload's stat loop",
        fresh / anchor_s,
        "x",
        detail=f"{fresh * 1e3:.2f} ms / {anchor_s * 1e3:.2f} ms",
    )

    newest_ctime_ns = max(os.stat(m.__file__ or "").st_ctime_ns for m in modules)
    while time.time_ns() < newest_ctime_ns + _changes._SETTLE_NS:
        time.sleep(0.05)  # the scenario: files not edited in the last 2 s
    modwrite.changed_modules()  # settles the records
    steady, anchor_s = medians_side_by_side(rounds, timed(modwrite.changed_modules), timed(anchor))
    print(
        f"[3] nothing changed, files settled: changed_modules() {steady * 1e3:.2f} ms, "
        f"anchor {anchor_s * 1e3:.2f} ms ({steady / anchor_s:.2f}x)"
    )
    figure(
        "reload",
        f"changed_modules(), nothing changed, {count} settled files: "
        "/ IPython autoreload's stat loop",
        steady / anchor_s,
        "x",
        detail=f"{steady * 1e3:.2f} ms / {anchor_s * 1e3:.2f} ms",
    )

    target = modules[count // 2]
    path = target.__file__ or ""
    version = [0]

    def edit() -> None:
        version[0] += 1
        with open(path, "w") as f:
            f.write(f"V = {version[0]}\n")

    def modwrite_side() -> float:
        edit()
        start = time.perf_counter()
        reloaded = modwrite.reload_changed()
        elapsed = time.perf_counter() - start
        assert reloaded == [target] and version[0] == target.V, (reloaded, target.V)
        return elapsed

    def anchor_side() -> float:
        edit()
        os.utime(path, ns=(0, time.time_ns() + version[0]))  # the anchor needs a new mtime
        start = time.perf_counter()
        for module in anchor():
            importlib.reload(module)
        elapsed = time.perf_counter() - start
        return elapsed

    ours, theirs = medians_side_by_side(min(rounds, 21), modwrite_side, anchor_side)
    print(
        f"[4] one module edited: reload_changed() {ours * 1e3:.2f} ms, "
        f"anchor check + importlib.reload {theirs * 1e3:.2f} ms ({ours / theirs:.2f}x)"
    )
    figure(
        "reload",
        "one module edited: reload_changed() / the stat loop + importlib.reload()",
        ours / theirs,
        "x",
        detail=f"{ours * 1e3:.2f} ms / {theirs * 1e3:.2f} ms",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
