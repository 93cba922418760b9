"""Benchmark of modwrite.imp against the real imp (issue 9), side by side in
one run, as a legacy plugin host calls it, bytecode writing on.

    python benchmarks/bench_imp.py [--plugins N] [--rounds R] [--workdir DIR]

The real imp is the standard library's up to 3.11 and zombie-imp on 3.12+
(``pip install zombie-imp``).  Each implementation works in its own
directory (default: under /dev/shm) on its own module names:

1. generate a new plugin (``open()`` + write) and ``load_source`` it: the
   first load of a new file, a compile and a ``.pyc`` written by both;
2. regenerate it with a same-size change and ``load_source`` it again at
   once: modwrite.imp compiles the new source, the real imp runs its
   ``.pyc`` of the previous version (how many of its loads ran stale code is
   printed: it is the bug, not a speed-up);
3. ``load_source`` of an unchanged plugin whose files are older than two
   seconds (the ``.pyc`` is used by both);
4. ``reload`` of an unchanged module found on ``sys.path``: modwrite.imp
   invalidates the finder caches of the ``sys.path`` entries first (each
   stock ``FileFinder`` before the module's directory reads its directory
   again), so it is also timed against the real imp's reload preceded by
   ``importlib.invalidate_caches()``, what a careful caller of the real imp
   does, and with modwrite's machinery installed (``modwrite.install()``:
   its finders need no invalidation).

Each figure is the median of R rounds of N operations, the two
implementations alternating within each round.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import itertools
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from types import ModuleType

import modwrite
import modwrite.imp
from _report import add_json_option, figure, medians_side_by_side, write_json
from modwrite import _changes

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import imp as real_imp


def each_round(method: Callable[[int], float]) -> Callable[[], float]:
    """*method* called with the round number (0, 1, ...) at each call."""
    rounds = itertools.count()
    return lambda: method(next(rounds))


def side_by_side(
    rounds: int, first: Callable[[int], float], second: Callable[[int], float]
) -> tuple[float, float]:
    return medians_side_by_side(rounds, each_round(first), each_round(second))


class Host:
    """A plugin host on one imp implementation, in its own directory."""

    def __init__(self, imp: ModuleType, directory: str, tag: str, plugins: int) -> None:
        self.imp = imp
        self.directory = directory
        self.tag = tag
        self.plugins = plugins
        self.stale = 0
        self.loads = 0
        os.makedirs(directory)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name + ".py")

    def generate(self, name: str, version: int) -> str:
        path = self.path(name)
        with open(path, "w") as f:
            f.write(f"VERSION = {version:8d}\ndef run():\n    return VERSION\n")
        return path

    def new_plugins(self, r: int) -> float:
        """Scenario 1: N new plugins, generated and loaded."""
        start = time.perf_counter()
        for i in range(self.plugins):
            name = f"new_{self.tag}_{r}_{i}"
            self.imp.load_source(name, self.generate(name, i))
        return (time.perf_counter() - start) / self.plugins

    def regenerate(self, r: int, *, remove_pyc: bool = False) -> float:
        """Scenario 2: N plugins regenerated (same size) and loaded again."""
        start = time.perf_counter()
        for i in range(self.plugins):
            name = f"re_{self.tag}_{i}"
            version = r * 1000 + i
            path = self.generate(name, version)
            if remove_pyc:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(importlib.util.cache_from_source(path))
            module = self.imp.load_source(name, path)
            self.loads += 1
            self.stale += version != module.VERSION
        return (time.perf_counter() - start) / self.plugins

    def regenerate_removing_the_pyc(self, r: int) -> float:
        return self.regenerate(r, remove_pyc=True)

    def settled(self, r: int) -> float:
        """Scenario 3: N unchanged, settled plugins loaded again."""
        start = time.perf_counter()
        for i in range(self.plugins):
            name = f"old_{self.tag}_{i}"
            self.imp.load_source(name, self.path(name))
        return (time.perf_counter() - start) / self.plugins

    def reload(self, r: int, *, invalidate_first: bool = False) -> float:
        """Scenario 4: N reloads of an unchanged module on sys.path."""
        module = sys.modules[f"old_{self.tag}_0"]
        sys.path[0] = self.directory  # each host's directory first, in turn
        start = time.perf_counter()
        for _ in range(self.plugins):
            if invalidate_first:
                importlib.invalidate_caches()
            self.imp.reload(module)
        return (time.perf_counter() - start) / self.plugins

    def reload_after_invalidate_caches(self, r: int) -> float:
        return self.reload(r, invalidate_first=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugins", type=int, default=50, help="operations per round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    parser.add_argument("--quick", action="store_true", help="10 operations, 3 rounds")
    add_json_option(parser)
    options = parser.parse_args()
    if options.quick:
        options.plugins, options.rounds = 10, 3
    sys.dont_write_bytecode = False
    workdir = tempfile.mkdtemp(prefix="modwrite-bench-imp-", dir=options.workdir)
    try:
        hosts = [
            Host(modwrite.imp, os.path.join(workdir, "modwrite"), "m", options.plugins),
            Host(real_imp, os.path.join(workdir, "real"), "r", options.plugins),
        ]
        print(
            f"CPython {sys.version.split()[0]}, real imp: {real_imp.__file__}, "
            f"{options.plugins} operations x {options.rounds} rounds in {workdir}"
        )
        print(f"bytecode writing on: {not sys.dont_write_bytecode}")

        def report(label: str, ours: float, real: float) -> None:
            print(
                f"{label}: modwrite.imp {ours * 1e6:8.1f} us, real imp {real * 1e6:8.1f} us "
                f"({ours / real:.2f}x)"
            )
            figure(
                "imp",
                f"{label.lstrip('[1234] ')}: modwrite.imp / the real imp",
                ours / real,
                "x",
                detail=f"{ours * 1e6:.1f} us / {real * 1e6:.1f} us",
            )

        ours, real = side_by_side(options.rounds, hosts[0].new_plugins, hosts[1].new_plugins)
        report("[1] generate + load_source, new plugin", ours, real)

        ours, real = side_by_side(options.rounds, hosts[0].regenerate, hosts[1].regenerate)
        report("[2] regenerate (same size) + load_source", ours, real)
        for host in hosts:
            print(f"    {host.tag}: {host.stale} of {host.loads} loads ran the previous version")
            host.stale = host.loads = 0
        ours, real = side_by_side(
            options.rounds, hosts[0].regenerate, hosts[1].regenerate_removing_the_pyc
        )
        report("    against the real imp with the .pyc removed first", ours, real)
        print(f"    r: {hosts[1].stale} of {hosts[1].loads} loads ran the previous version")

        sys.path.insert(0, "")  # the place of the reloading host's directory in [4]
        for host in hosts:
            sys.path.insert(1, host.directory)
            for i in range(options.plugins):
                name = f"old_{host.tag}_{i}"
                host.imp.load_source(name, host.generate(name, i))
        wait_until_settled(
            [host.path(f"old_{host.tag}_{i}") for host in hosts for i in range(options.plugins)]
        )
        for host in hosts:  # the first load after settling rewrites modwrite.imp's .pyc
            for i in range(options.plugins):
                host.imp.load_source(f"old_{host.tag}_{i}", host.path(f"old_{host.tag}_{i}"))
        ours, real = side_by_side(options.rounds, hosts[0].settled, hosts[1].settled)
        report("[3] load_source, unchanged settled plugin", ours, real)

        for host in hosts:
            sys.path.remove(host.directory)
        entries = len(sys.path)
        ours, real = side_by_side(options.rounds, hosts[0].reload, hosts[1].reload)
        report(f"[4] reload, unchanged ({entries} sys.path entries)", ours, real)
        ours, real = side_by_side(
            options.rounds, hosts[0].reload, hosts[1].reload_after_invalidate_caches
        )
        report("    against importlib.invalidate_caches() + the real reload", ours, real)
        with modwrite.install():
            ours, real = side_by_side(options.rounds, hosts[0].reload, hosts[1].reload)
        report("    both with modwrite.install() (modwrite's finders)", ours, real)
        write_json(options.json, benchmark="bench_imp.py", quick=options.quick)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def wait_until_settled(paths: list[str]) -> None:
    """The scenario: files older than two seconds (see the docstring).
    Waits until the newest inode change among *paths* is that old."""
    newest_ns = max(os.stat(p).st_ctime_ns for p in paths)
    while time.time_ns() < newest_ns + _changes._SETTLE_NS:
        time.sleep(0.05)


if __name__ == "__main__":
    main()
