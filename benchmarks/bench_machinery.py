"""Benchmarks of modwrite.machinery against the standard library's, as ratios
measured side by side in one run.

    python benchmarks/bench_machinery.py [--quick]

1. A DSL compiler's cache directory of 24,000 generated modules: writing and
   importing one more, with modwrite's machinery installed, against the
   stdlib finder re-listing the directory (target: <= 1/20).
2. Import throughput for 2000 small modules, cold (no pyc) and warm (pycs
   settled), each in a fresh interpreter (target: >= 0.9x the stdlib's).
3. Interpreter start-up with ``modwrite.install()`` (target: <= 3 ms slower).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "src"))

import modwrite  # noqa: E402
from _report import add_json_option, target, write_json  # noqa: E402

_IMPORT_ALL = """
import sys, time
{setup}
sys.path.insert(0, sys.argv[1])
n = int(sys.argv[2])
t0 = time.perf_counter()
for i in range(n):
    __import__("m%d" % i)
print(time.perf_counter() - t0)
"""


def _env(bytecode: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE / "src")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def cache_directory(base: Path, modules: int, rounds: int) -> tuple[float, float]:
    """Median seconds for one write+import in a directory of *modules*
    modules: (modwrite installed, stdlib)."""
    directory = base / "dsl_cache"
    directory.mkdir()
    for i in range(modules):
        (directory / f"form_{i}.py").write_bytes(b"X = 1\n")
    sys.path.insert(0, str(directory))
    results: dict[str, list[float]] = {"modwrite": [], "stdlib": []}
    counter = 0
    for _ in range(rounds):
        for how in ("modwrite", "stdlib"):
            counter += 1
            name = f"new_{how}_{counter}"
            if how == "modwrite":
                with modwrite.install():
                    importlib.util.find_spec("form_0")  # the finder exists and has listed
                    # A compiler installs once: pay the first write's one-time
                    # costs (index of the importer cache, memo) outside the timing.
                    modwrite.write_module(name + "_warm", "", root=directory, visibility="process")
                    __import__(name + "_warm")
                    t0 = time.perf_counter()
                    modwrite.write_module(name, "X = 2\n", root=directory, visibility="process")
                    __import__(name)
                    results[how].append(time.perf_counter() - t0)
            else:
                sys.path_importer_cache.pop(str(directory), None)
                importlib.util.find_spec("form_1")
                t0 = time.perf_counter()
                with open(directory / f"{name}.py", "w") as f:
                    f.write("X = 2\n")
                modwrite.invalidate_caches(directory / f"{name}.py")
                __import__(name)
                results[how].append(time.perf_counter() - t0)
    sys.path.remove(str(directory))
    return statistics.median(results["modwrite"]), statistics.median(results["stdlib"])


def throughput(base: Path, modules: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Median seconds to import *modules* small modules in a fresh
    interpreter, cold and warm: {kind: (modwrite, stdlib)}."""
    directory = base / "many"
    directory.mkdir()
    for i in range(modules):
        (directory / f"m{i}.py").write_text(f"X = {i}\ndef f(a):\n    return a + X\n")
    old = time.time() - 60  # sources settled: warm pycs are trusted
    for p in directory.iterdir():
        os.utime(p, (old, old))
    setups = {"modwrite": "import modwrite; modwrite.install()", "stdlib": ""}
    out: dict[str, dict[str, list[float]]] = {"cold": {}, "warm": {}}
    for _ in range(rounds):
        for how, setup in setups.items():
            script = _IMPORT_ALL.format(setup=setup)
            argv = [sys.executable, "-c", script, str(directory), str(modules)]
            shutil.rmtree(directory / "__pycache__", ignore_errors=True)
            cold = subprocess.run(
                argv, env=_env(False), capture_output=True, text=True, check=True
            )
            out["cold"].setdefault(how, []).append(float(cold.stdout))
            subprocess.run(argv, env=_env(True), capture_output=True, check=True)  # write pycs
            future = time.time() + 5  # pycs written "later": settled for our loader
            for pyc in (directory / "__pycache__").iterdir():
                os.utime(pyc, (future, future))
            warm = subprocess.run(argv, env=_env(True), capture_output=True, text=True, check=True)
            out["warm"].setdefault(how, []).append(float(warm.stdout))
    return {
        kind: (statistics.median(v["modwrite"]), statistics.median(v["stdlib"]))
        for kind, v in out.items()
    }


def startup(rounds: int) -> tuple[float, float]:
    """Median wall seconds of ``python -c`` with and without install()."""
    cmds = {
        "modwrite": [sys.executable, "-c", "import modwrite; modwrite.install()"],
        "stdlib": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {"modwrite": [], "stdlib": []}
    for _ in range(rounds):
        for how, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, env=_env(True), check=True)
            times[how].append(time.perf_counter() - t0)
    return statistics.median(times["modwrite"]), statistics.median(times["stdlib"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    add_json_option(parser)
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    sys.dont_write_bytecode = True
    base = Path(tempfile.mkdtemp(prefix="modwrite-bench-machinery-"))
    try:
        print(
            f"modwrite {modwrite.__version__} machinery benchmarks, Python "
            f"{sys.version.split()[0]}"
        )
        modules = 4000 if args.quick else 24000
        ours, stock = cache_directory(base, modules, rounds)
        print(
            f"[1] one more module in a cache directory of {modules}: installed "
            f"{ours * 1e3:.3f} ms, stdlib re-listing {stock * 1e3:.3f} ms = "
            f"1/{stock / ours:.0f}  "
            + target(
                "m",
                f"one more module in a cache directory of {modules}, installed machinery: "
                "stdlib re-listing / modwrite",
                stock / ours,
                20,
                at_most=False,
                detail=f"{stock * 1e3:.3f} ms / {ours * 1e3:.3f} ms",
            )
        )
        n = 500 if args.quick else 2000
        for kind, (o, s) in throughput(base, n, rounds).items():
            ratio = s / o
            print(
                f"[2] import {n} modules, {kind}: modwrite {o * 1e3:.1f} ms, stdlib "
                f"{s * 1e3:.1f} ms = {ratio:.2f}x throughput  "
                + target(
                    "5",
                    f"import throughput, {n} modules, {kind}: modwrite.machinery / stdlib",
                    ratio,
                    0.9,
                    at_most=False,
                    detail=f"{o * 1e3:.1f} ms against {s * 1e3:.1f} ms",
                )
            )
        o, s = startup(20 if args.quick else 60)
        print(
            f"[3] start-up with install(): {o * 1e3:.1f} ms vs {s * 1e3:.1f} ms = "
            f"+{(o - s) * 1e3:.1f} ms  "
            + target(
                "m",
                "interpreter start-up added by modwrite.install()",
                (o - s) * 1e3,
                3,
                unit="ms",
                detail=f"{o * 1e3:.1f} ms against {s * 1e3:.1f} ms",
            )
        )
        write_json(args.json, benchmark="bench_machinery.py", quick=args.quick)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
