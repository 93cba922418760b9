"""modwrite benchmarks: the design's first four targets, as ratios measured
side by side in one run, with the naive anchors next to them.

Run as root from the repository (it mounts a 1-second ext4 image)::

    python benchmarks/bench.py            # full sizes
    python benchmarks/bench.py --quick    # smaller sizes, same ratios

Targets (../shared/design.md, "Performance targets"):

1. 1000 write+import cycles, visibility="process", on a 1-second filesystem:
   <= 1.5x the same loop on a fine-grained filesystem.
2. 1000 modules in one batch(), default visibility, on the 1-second
   filesystem: <= 1.5x bare atomic writes + one tick.
3. One write_module(visibility="process") on a fine-grained filesystem (no
   fsync): <= 2x a bare temporary write + os.replace.
4. invalidate_caches(path) vs importlib.invalidate_caches(): the call >= 20x
   cheaper with 500 sys.path directories and flat in their number, measured
   cold (after a write and an import, as programs call it) and, for
   reference, hot (the same call repeated); the next import after it >= 10x
   cheaper with 50 directories of 2000 modules.

The end-to-end write+import figures (bytecode writing on) are in
benchmarks/bench_import.py.

Each figure is the median of several rounds; within a round, the compared
loops run one after the other, so drift of the machine hits both.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.machinery
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(HERE / "src"), str(HERE)]

from tests.fskit.coarse_ext4 import mount_coarse_ext4, mount_fine_ext4  # noqa: E402

import modwrite  # noqa: E402
from _report import (  # noqa: E402
    add_json_option,
    figure,
    medians_side_by_side,
    target,
    write_json,
)

_counter = iter(range(10**9))


def fresh_dir(base: Path) -> Path:
    d = base / f"b{next(_counter)}"
    d.mkdir()
    return d


@contextmanager
def on_path(*dirs: Path) -> Iterator[None]:
    saved = list(sys.path), dict(sys.path_importer_cache), set(sys.modules)
    sys.path[:0] = [str(d) for d in dirs]
    try:
        yield
    finally:
        sys.path[:] = saved[0]
        sys.path_importer_cache.clear()
        sys.path_importer_cache.update(saved[1])
        for name in set(sys.modules) - saved[2]:
            del sys.modules[name]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bare_atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def measure_tick(directory: Path) -> float:
    from modwrite._probe import measure_tick as probe_tick

    return probe_tick(str(directory)) / 1e9


# -- target 1 -------------------------------------------------------------------


def write_import_loop(base: Path, n: int, writer: str) -> float:
    d = fresh_dir(base)
    with on_path(d):
        prefix = f"t1_{next(_counter)}_"
        modwrite.write_module(prefix + "warm", "", root=d, visibility="process")
        importlib.import_module(prefix + "warm")

        def loop() -> None:
            for i in range(n):
                name = f"{prefix}{i}"
                if writer == "modwrite":
                    modwrite.write_module(name, f"X = {i}\n", root=d, visibility="process")
                else:  # the naive anchor: plain write + global invalidation
                    with open(d / f"{name}.py", "w") as f:
                        f.write(f"X = {i}\n")
                    importlib.invalidate_caches()
                importlib.import_module(name)

        return timed(loop)


def sleep_workaround_per_cycle(base: Path, tick: float, n: int = 3) -> float:
    d = fresh_dir(base)
    with on_path(d):
        importlib.import_module(modwrite.write_module("t1s_warm", "", root=d).stem)

        def loop() -> None:
            for i in range(n):
                time.sleep(tick)  # so that the write lands in a later tick
                with open(d / f"t1s_{i}.py", "w") as f:
                    f.write("")
                importlib.import_module(f"t1s_{i}")

        return timed(loop) / n


# -- target 2 -------------------------------------------------------------------


def batch_of(base: Path, n: int) -> float:
    d = fresh_dir(base)

    def run() -> None:
        with modwrite.batch():
            for i in range(n):
                modwrite.write_module(f"t2_{i}", f"X = {i}\n", root=d)

    return timed(run)


def bare_writes(base: Path, n: int) -> float:
    d = fresh_dir(base)
    return timed(
        lambda: [bare_atomic_write(str(d / f"t2_{i}.py"), b"X = %d\n" % i) for i in range(n)]
    )


def single_system_writes(base: Path, n: int) -> float:
    d = fresh_dir(base)
    return timed(lambda: [modwrite.write_module(f"t2s_{i}", "", root=d) for i in range(n)]) / n


# -- target 3 -------------------------------------------------------------------


def one_write(base: Path, n: int, how: str) -> float:
    d = fresh_dir(base)
    names = [f"t3_{i}" for i in range(n)]
    if how == "modwrite":
        return (
            timed(
                lambda: [
                    modwrite.write_module(m, "X = 1\n", root=d, visibility="process")
                    for m in names
                ]
            )
            / n
        )
    return timed(lambda: [bare_atomic_write(str(d / f"{m}.py"), b"X = 1\n") for m in names]) / n


def one_rewrite(base: Path, n: int, how: str) -> float:
    d = fresh_dir(base)
    if how == "modwrite":
        return (
            timed(
                lambda: [
                    modwrite.write_module("t3r", f"X = {i % 10}\n", root=d, visibility="process")
                    for i in range(n)
                ]
            )
            / n
        )
    return (
        timed(
            lambda: [
                bare_atomic_write(str(d / "t3r.py"), b"X = %d\n" % (i % 10)) for i in range(n)
            ]
        )
        / n
    )


# -- target 4 -------------------------------------------------------------------


def invalidate_call(base: Path, dirs: int, calls: int) -> tuple[float, float]:
    entries = [fresh_dir(base) for _ in range(dirs)]
    with on_path(*entries):
        for d in entries:  # a FileFinder per entry, as after a real start-up
            sys.path_importer_cache[str(d)] = importlib.machinery.FileFinder(
                str(d), (importlib.machinery.SourceFileLoader, [".py"])
            )
        target = str(entries[dirs // 2] / "new.py")
        modwrite.invalidate_caches(target)  # index build, paid once
        targeted = timed(lambda: [modwrite.invalidate_caches(target) for _ in range(calls)])
        global_ = timed(lambda: [importlib.invalidate_caches() for _ in range(calls)])
    return targeted / calls, global_ / calls


def _nothing(path: str) -> None:
    """The floor of the cold measurement: a Python call that does nothing."""


def invalidate_cold(base: Path, dirs: int, calls: int) -> tuple[float, float, float]:
    """One call timed cold, as users call it: each iteration writes a new
    module into one of the sys.path directories (rotating among them),
    imports another, already existing module (so the import system does its
    usual work in between), then times one invalidation of the new file.
    The targeted call, the global call and, as the floor, a call of a
    function that does nothing run in three loops of the same scenario, one
    after the other; each figure is the median of its loop's calls."""
    entries = [fresh_dir(base) for _ in range(dirs)]
    tag = next(_counter)
    stride = 7 if dirs % 7 else 11  # rotate through every directory, not in order
    loops = {"t": modwrite.invalidate_caches, "g": importlib.invalidate_caches, "0": _nothing}
    old = {how: [f"c{tag}_{how}_old_{i}" for i in range(calls)] for how in loops}
    for names in old.values():
        for i, name in enumerate(names):  # the module imported before the call
            (entries[(i * stride + dirs // 2) % dirs] / f"{name}.py").write_bytes(b"")
    results: dict[str, list[float]] = {how: [] for how in loops}
    perf_counter = time.perf_counter
    with on_path(*entries):
        for d in entries:  # a FileFinder per entry, as after a real start-up
            sys.path_importer_cache[str(d)] = importlib.machinery.FileFinder(
                str(d), (importlib.machinery.SourceFileLoader, [".py"])
            )
        for how, call in loops.items():
            for i in range(calls):
                new = str(entries[(i * stride) % dirs] / f"c{tag}_{how}_new_{i}.py")
                with open(new, "wb"):
                    pass
                importlib.import_module(old[how][i])
                if how == "g":
                    t0 = perf_counter()
                    call()
                    t1 = perf_counter()
                else:
                    t0 = perf_counter()
                    call(new)
                    t1 = perf_counter()
                results[how].append(t1 - t0)
    t, g, floor = (statistics.median(results[how]) for how in loops)
    return t, g, floor


def calls_per_cold_call(base: Path, dirs: int) -> int:
    """How many Python and C functions one targeted call makes in the cold
    scenario of :func:`invalidate_cold` (``sys.setprofile``): the work done,
    apart from how cold the memory it touches is."""
    entries = [fresh_dir(base) for _ in range(dirs)]
    tag = next(_counter)
    old, new = entries[dirs // 3] / f"w{tag}_old.py", str(entries[dirs // 2] / f"w{tag}_new.py")
    old.write_bytes(b"")
    events = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal events
        events += event in ("call", "c_call")

    with on_path(*entries):
        for d in entries:
            sys.path_importer_cache[str(d)] = importlib.machinery.FileFinder(
                str(d), (importlib.machinery.SourceFileLoader, [".py"])
            )
        modwrite.invalidate_caches(str(entries[0] / "warm.py"))  # the index, built once
        with open(new, "wb"):
            pass
        importlib.import_module(old.stem)
        sys.setprofile(count)
        try:
            modwrite.invalidate_caches(new)
        finally:
            sys.setprofile(None)
    return events - 1  # setprofile(None) itself


def next_import(base: Path, dirs: int, modules: int, rounds: int) -> tuple[float, float]:
    entries = [fresh_dir(base) for _ in range(dirs)]
    for k, d in enumerate(entries):
        for i in range(modules):
            (d / f"m{k}_{i}.py").write_bytes(b"")
    results = {"targeted": [], "global": []}
    with on_path(*entries):
        for k in range(dirs):
            importlib.import_module(f"m{k}_0")  # every directory listed and cached
        last = entries[-1]
        for r in range(rounds):
            for how in ("targeted", "global"):
                name = f"new_{how}_{r}"
                (last / f"{name}.py").write_bytes(b"")
                if how == "targeted":
                    modwrite.invalidate_caches(last / f"{name}.py")
                else:
                    importlib.invalidate_caches()
                results[how].append(timed(lambda name=name: importlib.import_module(name)))
    return statistics.median(results["targeted"]), statistics.median(results["global"])


# -- report ---------------------------------------------------------------------


def median_of(rounds: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(rounds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--workdir", default=None, help="where to put the image and dirs")
    parser.add_argument(
        "--ext4-in-ram",
        action="store_true",
        help="the fine-grained filesystem is an ext4 image kept on /dev/shm: ext4's costs "
        "without a loaded disk's swings",
    )
    add_json_option(parser)
    args = parser.parse_args()
    if args.ext4_in_ram:
        ram = Path(tempfile.mkdtemp(prefix="modwrite-bench-ext4-", dir="/dev/shm"))
        try:
            with mount_fine_ext4(ram) as root:
                return run(args, root)
        finally:
            # Empty once unmounted; never removed recursively (it may still
            # hold a mount that failed to go).
            with contextlib.suppress(OSError):
                ram.rmdir()
    return run(args, None)


def run(args: argparse.Namespace, fine_root: Path | None) -> int:
    """The benchmarks; on *fine_root* as the fine-grained filesystem when
    given, else in the working directory."""
    warnings.simplefilter("error", modwrite.VisibilityWarning)
    sys.dont_write_bytecode = True  # measure the write path, not pyc writing
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="modwrite-bench-"))
    fine = (fine_root or workdir) / "fine"
    fine.mkdir(exist_ok=True)
    try:
        status = measure(args, workdir, fine)
        write_json(args.json, benchmark="bench.py", quick=args.quick)
    finally:
        shutil.rmtree(fine, ignore_errors=True)
    if args.workdir is None:  # made here, and its image is unmounted: remove it
        shutil.rmtree(workdir, ignore_errors=True)
    return status


def measure(args: argparse.Namespace, workdir: Path, fine: Path) -> int:
    """Print the targets' figures: the 1-second image is mounted in
    *workdir*, *fine* is a directory on the fine-grained filesystem."""
    n = 200 if args.quick else 1000
    rounds = 3 if args.quick else 5
    print(
        f"modwrite {modwrite.__version__} benchmarks, Python {sys.version.split()[0]}, "
        f"{'quick' if args.quick else 'full'} sizes"
    )
    with mount_coarse_ext4(workdir, size_mb=256) as coarse:
        tick = measure_tick(coarse)
        print(
            f"1-second filesystem: ext4 image with 128-byte inodes, measured tick {tick:g} s; "
            f"fine-grained: {fine}"
        )
        print()

        fine_t, coarse_t = medians_side_by_side(
            rounds,
            lambda: write_import_loop(fine, n, "modwrite"),
            lambda: write_import_loop(coarse, n, "modwrite"),
        )
        naive_t = median_of(rounds, lambda: write_import_loop(coarse, n, "naive"))
        sleep_t = sleep_workaround_per_cycle(coarse, tick)
        r1 = coarse_t / fine_t
        print(f"[1] {n} write+import cycles, visibility='process'")
        print(
            f"    1-second fs {coarse_t:.3f} s / fine-grained fs {fine_t:.3f} s = {r1:.2f}x  "
            + target(
                "1",
                f"{n} write+import cycles, visibility='process': 1-second fs / fine fs",
                r1,
                1.5,
                detail=f"{coarse_t:.3f} s / {fine_t:.3f} s",
            )
        )
        figure(
            "1",
            f"anchor: the sleep workaround on the 1-second fs, {n} cycles",
            sleep_t * n,
            "s",
            detail=f"plain write + importlib.invalidate_caches(): {naive_t:.3f} s (stale-prone)",
        )
        print(
            f"    anchors on the 1-second fs: plain write + importlib.invalidate_caches() "
            f"{naive_t:.3f} s; sleep workaround {sleep_t:.3f} s per cycle "
            f"(= {sleep_t * n:.0f} s for {n})"
        )
        print()

        batch_t, bare_t = medians_side_by_side(
            rounds, lambda: batch_of(coarse, n), lambda: bare_writes(coarse, n)
        )
        r2 = batch_t / (bare_t + tick)
        single = single_system_writes(coarse, 3)
        print(f"[2] {n} modules in one batch(), visibility='system', 1-second fs")
        print(
            f"    batch {batch_t:.3f} s / (bare atomic writes {bare_t:.3f} s + one tick "
            f"{tick:g} s) = {r2:.2f}x  "
            + target(
                "2",
                f"{n} modules in one batch(), 1-second fs: / (bare atomic writes + one tick)",
                r2,
                1.5,
                detail=f"{batch_t:.3f} s / ({bare_t:.3f} s + {tick:g} s)",
            )
        )
        print(
            f"    one default-visibility write outside a batch: {single:.3f} s "
            f"(<= one tick, {tick:g} s: {'yes' if single <= tick + 0.05 else 'NO'})"
        )
        print()

    m = 3000 if args.quick else 20000
    ours, bare = medians_side_by_side(
        rounds, lambda: one_write(fine, m, "modwrite"), lambda: one_write(fine, m, "bare")
    )
    ours_r, bare_r = medians_side_by_side(
        rounds, lambda: one_rewrite(fine, m, "modwrite"), lambda: one_rewrite(fine, m, "bare")
    )
    r3, r3r = ours / bare, ours_r / bare_r
    print(
        f"[3] one write_module(visibility='process'), fine-grained fs, no fsync "
        f"({m} writes into one new directory, average per write)"
    )
    print(
        f"    new module: {ours * 1e6:.1f} us / bare temp write + os.replace "
        f"{bare * 1e6:.1f} us = {r3:.2f}x  "
        + target(
            "3",
            "one write_module(visibility='process') of a new module, fine fs, no fsync: "
            "/ bare temporary write + os.replace",
            r3,
            2,
            detail=f"{ours * 1e6:.1f} us / {bare * 1e6:.1f} us",
        )
    )
    print(
        f"    rewrite of one module: {ours_r * 1e6:.1f} us / {bare_r * 1e6:.1f} us "
        f"= {r3r:.2f}x  "
        + target(
            "3",
            "the same, a rewrite of one module",
            r3r,
            2,
            detail=f"{ours_r * 1e6:.1f} us / {bare_r * 1e6:.1f} us",
        )
    )
    print()

    print("[4] invalidate_caches(path) vs importlib.invalidate_caches()")
    print("    hot (same path, repeated):")
    calls = 2000
    per_dirs = {}
    for dirs in (50, 500, 5000):
        per_dirs[dirs] = min(
            (invalidate_call(fine, dirs, calls) for _ in range(rounds)), key=lambda p: p[0]
        )
        t, g = per_dirs[dirs]
        print(
            f"    {dirs:5d} sys.path dirs: targeted {t * 1e6:7.2f} us, global "
            f"{g * 1e6:9.2f} us = {g / t:7.1f}x cheaper"
        )
    t500, g500 = per_dirs[500]
    print(
        f"    call, 500 dirs: {g500 / t500:.1f}x  "
        + target(
            "4",
            "invalidate_caches(path) hot (repeated), 500 sys.path dirs: "
            "importlib.invalidate_caches() / targeted",
            g500 / t500,
            20,
            at_most=False,
            detail=f"{g500 * 1e6:.2f} us / {t500 * 1e6:.2f} us",
        )
        + "; "
        f"flat: 5000 dirs / 50 dirs = {per_dirs[5000][0] / per_dirs[50][0]:.2f}x"
    )
    print("    cold (after a write and an import, as users call it):")
    cold_calls = 100 if args.quick else 200
    cold = {}
    for dirs in (50, 500, 5000):
        figures = [invalidate_cold(fine, dirs, cold_calls) for _ in range(rounds)]
        cold[dirs] = tuple(statistics.median(f[k] for f in figures) for k in range(3))
        t, g, floor = cold[dirs]
        print(
            f"    {dirs:5d} sys.path dirs: targeted {t * 1e6:7.2f} us, global "
            f"{g * 1e6:9.2f} us = {g / t:7.1f}x cheaper  (an empty call: {floor * 1e6:.2f} us)"
        )
    t500, g500, _ = cold[500]
    print(
        f"    cold call, 500 dirs: {g500 / t500:.1f}x  "
        + target(
            "4",
            "invalidate_caches(path) cold (after a write and an import), 500 sys.path dirs: "
            "importlib.invalidate_caches() / targeted",
            g500 / t500,
            20,
            at_most=False,
            detail=f"{g500 * 1e6:.2f} us / {t500 * 1e6:.2f} us",
        )
        + "; "
        f"flat: 5000 dirs / 50 dirs = {cold[5000][0] / cold[50][0]:.2f}x "
        f"(an empty call: {cold[5000][2] / cold[50][2]:.2f}x)"
    )
    figure(
        "4",
        "flatness: the cold targeted call at 5000 sys.path dirs / at 50",
        cold[5000][0] / cold[50][0],
        "x",
        detail=f"an empty Python call grows {cold[5000][2] / cold[50][2]:.2f}x alike",
    )
    work = {dirs: calls_per_cold_call(fine, dirs) for dirs in (50, 500, 5000)}
    print(
        "    work of a cold call (Python and C function calls): "
        + ", ".join(f"{dirs} dirs {n}" for dirs, n in work.items())
        + (
            "  (the same: what grows above is the cost of cold memory)"
            if len(set(work.values())) == 1
            else "  GROWS with sys.path"
        )
    )
    dirs, modules = (50, 400) if args.quick else (50, 2000)
    t, g = next_import(fine, dirs, modules, rounds=rounds)
    print(
        f"    next import, {dirs} dirs x {modules} modules: targeted {t * 1e3:.3f} ms, "
        f"global {g * 1e3:.3f} ms = {g / t:.1f}x  "
        + target(
            "4",
            f"the next import after it, {dirs} dirs x {modules} modules: global / targeted",
            g / t,
            10,
            at_most=False,
            detail=f"{g * 1e3:.3f} ms / {t * 1e3:.3f} ms",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
