"""How modwrite's costs grow with the size of the work, and stay flat in
what the work does not touch (issue 10, "Scale"), each beside its anchor,
with bytecode writing on, in one run.

    python benchmarks/bench_scale.py [--quick] [--workdir DIR] [--plot PNG] [--json FILE]

1. ``write_package()`` of N modules (N = 100, 1000, 10,000), against plain
   writes of the same files into a new directory, renamed into place, and
   ``importlib.invalidate_caches()``: linear in N.
2. ``modwrite.invalidate_caches(path)``, called cold after a plain write
   into one of D directories on ``sys.path`` (D = 10, 100, 1000; the import
   of the new module follows, untimed), against
   ``importlib.invalidate_caches()`` in the same place: modwrite's is flat
   in D, the anchor's grows with D.
3. ``write_module()`` of M new modules inside one ``batch()`` (M = 1000,
   10,000, 100,000), per module, against a bare temporary write +
   ``os.replace`` per module: flat per module.
4. ``changed_modules()`` with K loaded modules (K = 100, 1000, 10,000), all
   settled, nothing changed, against IPython autoreload's stat-and-compare
   loop: linear in K.

``--quick`` takes the two smaller sizes of each (CI runs it).  ``--plot``
draws the four series (log-log) into one PNG (needs matplotlib: ``pip
install modwrite[bench]``); ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import modwrite
from _report import add_json_option, write_json
from _report import series as record_series
from modwrite import _changes

Series = dict[str, list[tuple[int, float]]]


def median_time(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_package_series(work: str, sizes: list[int]) -> Series:
    series: Series = {"modwrite.write_package()": [], "plain writes + rename + invalidate": []}
    for n in sizes:
        files = {f"m{i}": f"X = {i}\n" for i in range(n)}
        files["__init__"] = ""
        root = tempfile.mkdtemp(dir=work)

        def ours(files: dict[str, str] = files, root: str = root) -> None:
            modwrite.write_package("pkg", files, root=root)

        def plain(files: dict[str, str] = files, root: str = root) -> None:
            build = os.path.join(root, "pkg.tmp")
            os.mkdir(build)
            for name, text in files.items():
                with open(os.path.join(build, name + ".py"), "w") as f:
                    f.write(text)
            target = os.path.join(root, "plainpkg")
            if os.path.exists(target):
                shutil.rmtree(target)
            os.rename(build, target)
            importlib.invalidate_caches()

        rounds = 3 if n >= 10_000 else 5
        series["modwrite.write_package()"].append((n, median_time(ours, rounds)))
        series["plain writes + rename + invalidate"].append((n, median_time(plain, rounds)))
        shutil.rmtree(root)
    return series


def invalidate_series(work: str, sizes: list[int]) -> Series:
    series: Series = {
        "modwrite.invalidate_caches(path)": [],
        "importlib.invalidate_caches()": [],
    }
    saved = list(sys.path)
    counter = iter(range(10**9))
    for d in sizes:
        dirs = [tempfile.mkdtemp(dir=work) for _ in range(d)]
        sys.path[:0] = dirs
        importlib.machinery.PathFinder.find_spec("no_such_module_x")  # a finder per directory
        target = dirs[d // 2]

        def cycle(invalidate: Callable[[str], object], target: str = target) -> float:
            name = f"scale_inv_{next(counter)}"
            path = os.path.join(target, name + ".py")
            with open(path, "w") as f:
                f.write("X = 1\n")
            start = time.perf_counter()
            invalidate(path)
            took = time.perf_counter() - start
            importlib.import_module(name)  # as the user goes on (not timed): found
            return took

        ours = [cycle(modwrite.invalidate_caches) for _ in range(31)]
        anchor = [cycle(lambda path: importlib.invalidate_caches()) for _ in range(31)]
        series["modwrite.invalidate_caches(path)"].append((d, statistics.median(ours)))
        series["importlib.invalidate_caches()"].append((d, statistics.median(anchor)))
        sys.path[:] = saved
        for directory in dirs:
            sys.path_importer_cache.pop(directory, None)
            shutil.rmtree(directory)
    return series


def batch_series(work: str, sizes: list[int]) -> Series:
    series: Series = {"write_module() in batch(), per module": [], "bare write + replace": []}
    for m in sizes:
        root = tempfile.mkdtemp(dir=work)
        start = time.perf_counter()
        with modwrite.batch():
            for i in range(m):
                modwrite.write_module(f"b{i}", f"X = {i}\n", root=root)
        series["write_module() in batch(), per module"].append(
            (m, (time.perf_counter() - start) / m)
        )
        bare = tempfile.mkdtemp(dir=work)
        start = time.perf_counter()
        for i in range(m):
            tmp = os.path.join(bare, f".b{i}.tmp")
            with open(tmp, "w") as f:
                f.write(f"X = {i}\n")
            os.replace(tmp, os.path.join(bare, f"b{i}.py"))
        series["bare write + replace"].append((m, (time.perf_counter() - start) / m))
        shutil.rmtree(root)
        shutil.rmtree(bare)
    return series


def changed_modules_series(work: str, sizes: list[int]) -> Series:
    series: Series = {"changed_modules()": [], "IPython autoreload's stat loop": []}
    for k in sizes:
        root = tempfile.mkdtemp(dir=work)
        names = [f"scale_cm_{k}_{i}" for i in range(k)]
        for i, name in enumerate(names):
            with open(os.path.join(root, name + ".py"), "w") as f:
                f.write(f"def f(x):\n    return x + {i}\n")
        sys.path.insert(0, root)
        modules = [importlib.import_module(name) for name in names]
        newest = max(os.stat(m.__file__ or "").st_ctime_ns for m in modules)
        while time.time_ns() < newest + _changes._SETTLE_NS:
            time.sleep(0.05)  # the scenario: files not edited in the last two seconds
        assert modwrite.changed_modules(modules) == []  # first sight, then settled records
        assert modwrite.changed_modules(modules) == []
        mtimes: dict[str, float] = {}

        def anchor(modules: list[Any] = modules, mtimes: dict[str, float] = mtimes) -> list[Any]:
            changed = []
            for module in modules:
                path = module.__file__ or ""
                mtime = os.stat(path).st_mtime
                if mtimes.setdefault(path, mtime) != mtime:
                    changed.append(module)
            return changed

        anchor()
        series["changed_modules()"].append(
            (k, median_time(lambda modules=modules: modwrite.changed_modules(modules), 11))
        )
        series["IPython autoreload's stat loop"].append((k, median_time(anchor, 11)))
        sys.path.remove(root)
        for name in names:
            sys.modules.pop(name, None)
        shutil.rmtree(root)
    return series


PANELS = [
    ("write_package(): seconds against modules in the package", "modules", "s"),
    ("invalidate, cold after a write: seconds against sys.path entries", "sys.path entries", "s"),
    ("batch(): seconds per module against modules in the batch", "modules", "s"),
    ("changed_modules(): seconds against loaded modules", "loaded modules", "s"),
]


def plot(results: list[Series], png: str, machine: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, series, (title, xlabel, ylabel) in zip(axes.flat, results, PANELS):
        for label, points in series.items():
            xs, ys = zip(*points)
            ax.loglog(xs, ys, marker="o", label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(f"modwrite at scale ({machine})", fontsize=10)
    figure.tight_layout()
    figure.savefig(png, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes of each")
    parser.add_argument("--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    parser.add_argument("--plot", metavar="PNG", help="draw the figures into this PNG file")
    add_json_option(parser)
    options = parser.parse_args()
    sys.dont_write_bytecode = False
    sizes = [
        [100, 1000, 10_000],
        [10, 100, 1000],
        [1000, 10_000, 100_000],
        [100, 1000, 10_000],
    ]
    if options.quick:
        sizes = [s[:2] for s in sizes]
    machine = (
        f"CPython {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs, bytecode writing on, {options.workdir or 'tmp'}"
    )
    print(machine)
    work = tempfile.mkdtemp(prefix="modwrite-bench-scale-", dir=options.workdir)
    results: list[Series] = []
    try:
        for run, size, (title, xlabel, _) in zip(
            (write_package_series, invalidate_series, batch_series, changed_modules_series),
            sizes,
            PANELS,
        ):
            series = run(work, size)
            results.append(series)
            points = {k: [(float(n), t) for n, t in v] for k, v in series.items()}
            record_series("scale", title, points, x=xlabel)
            print(title)
            for label, points in series.items():
                figures = ", ".join(f"{n:>6}: {t * 1e3:9.3f} ms" for n, t in points)
                print(f"  {label:<42} {figures}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_json(options.json, benchmark="bench_scale.py", quick=options.quick)
    if options.plot:
        plot(results, options.plot, machine)
        print(f"plot: {options.plot}")


if __name__ == "__main__":
    main()
