"""What the default visibility costs against the filesystem's timestamp tick
(issue 10, "Publish": visibility wait against filesystem tick), beside the
workarounds a user would write instead, in one run.

    python benchmarks/bench_tick.py [--quick] [--plot PNG] [--json FILE]

For each tick T (20 ms to 2 s), a tickfs mount (``tests/fskit/tickfs.py``:
a FUSE passthrough reporting timestamps truncated to T, as FAT does with
2 s) holds a directory that a stock :class:`importlib.machinery.FileFinder`
has listed and cached.  Each contender writes a new module into it, and the
stock finder is then asked for it *without* any cache invalidation, the way
another process's importer would be (G2):

``modwrite``
    ``write_module()`` with the default visibility (waits until the
    directory's mtime is in a tick later than the landing).
``modwrite, in a batch() of 20``
    the same inside one ``batch()``, per module: the wait is paid once.
``sleep workaround``
    ``time.sleep(T)`` then a plain write (so it lands in a later tick than
    any listing made before it).
``rename dance (Eby, literal)``
    the new file renamed under temporary names until the directory's mtime
    visibly changes, then to its final name.

Each write comes at a random moment within a tick (an untimed random pause
before it, seeded), as a program's writes come after other work; the
figure is the mean time of a write.  Whether the stock finder found the
module is recorded too; the finder found every module in every run of this script
(a plain write without waiting is the control that it does not).  Needs
root and pyfuse3 (``$MODWRITE_TICKFS_PYTHON``, set up by
``.ci/setup-fskit.sh``).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(HERE / "src"), str(HERE)]

from tests.fskit.tickfs_mount import mount_tickfs  # noqa: E402

import modwrite  # noqa: E402
from _report import add_json_option, draw_log_log, figure, series, write_json  # noqa: E402

Writer = Callable[[str, str, str], None]


def stock_finder(directory: str) -> importlib.machinery.FileFinder:
    """A stock FileFinder for *directory*, as ``sys.path_hooks`` makes one."""
    loaders = [
        (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES),
        (importlib.machinery.SourcelessFileLoader, importlib.machinery.BYTECODE_SUFFIXES),
    ]
    return importlib.machinery.FileFinder(directory, *loaders)


def write_modwrite(directory: str, name: str, source: str) -> None:
    modwrite.write_module(name, source, root=directory)


def write_after_sleep(tick: float) -> Writer:
    def write(directory: str, name: str, source: str) -> None:
        time.sleep(tick)  # so that the write lands in a later tick than any listing
        with open(os.path.join(directory, f"{name}.py"), "w") as f:
            f.write(source)

    return write


def write_plainly(directory: str, name: str, source: str) -> None:
    with open(os.path.join(directory, f"{name}.py"), "w") as f:
        f.write(source)


def write_by_rename_dance(directory: str, name: str, source: str) -> None:
    """Eby's dance, literally: rename the new file under temporary names until
    the directory's mtime visibly changes, then to its final name."""
    current = os.path.join(directory, f".{name}.dance0")
    with open(current, "w") as f:
        f.write(source)
    before = os.stat(directory).st_mtime_ns
    step = 0
    while os.stat(directory).st_mtime_ns == before:
        step += 1
        following = os.path.join(directory, f".{name}.dance{step}")
        os.rename(current, following)
        current = following
    os.rename(current, os.path.join(directory, f"{name}.py"))


def trial(
    directory: str, writer: Writer, names: list[str], tick: float, phases: random.Random
) -> tuple[float, int]:
    """Mean seconds per write of *names* by *writer*, each at a random
    moment within a *tick*, and how many of them the stock finder (which
    listed the directory just before) found at once."""
    finder = stock_finder(directory)
    times = []
    found = 0
    for name in names:
        time.sleep(phases.uniform(0, tick))  # the write comes at a random moment
        finder.find_spec("listing_" + name)  # list and cache the directory now
        start = time.perf_counter()
        writer(directory, name, f"NAME = {name!r}\n")
        times.append(time.perf_counter() - start)
        found += finder.find_spec(name) is not None
    return statistics.mean(times), found


def batch_trial(directory: str, names: list[str]) -> tuple[float, int]:
    finder = stock_finder(directory)
    finder.find_spec("listing")
    start = time.perf_counter()
    with modwrite.batch():
        for name in names:
            modwrite.write_module(name, f"NAME = {name!r}\n", root=directory)
    elapsed = time.perf_counter() - start
    return elapsed / len(names), sum(finder.find_spec(n) is not None for n in names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="three ticks, three writes (CI)")
    parser.add_argument("--plot", metavar="PNG", help="draw wait against tick (matplotlib)")
    parser.add_argument("--seed", type=int, default=10, help="of the random moments")
    add_json_option(parser)
    args = parser.parse_args()
    phases = random.Random(args.seed)
    ticks = (0.02, 0.1, 0.5) if args.quick else (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
    sys.dont_write_bytecode = False
    work = Path(tempfile.mkdtemp(prefix="modwrite-bench-tick-"))
    labels = {
        "modwrite": "modwrite.write_module()",
        "batch": "modwrite, in a batch() of 20, per module",
        "sleep": "sleep workaround: sleep(tick) + write",
        "dance": "rename dance (Eby, literal)",
    }
    points: dict[str, list[tuple[float, float]]] = {label: [] for label in labels.values()}
    misses: dict[str, int] = dict.fromkeys(labels, 0)
    plain_found = plain_total = 0
    print(f"modwrite {modwrite.__version__}, Python {sys.version.split()[0]}, tickfs in {work}")
    print(f"{'tick':>8}  " + "  ".join(f"{k:>9}" for k in labels) + "   (seconds per write, mean)")
    try:
        for number, tick in enumerate(ticks):
            backing, mountpoint = work / f"backing{number}", work / f"mnt{number}"
            backing.mkdir()
            with mount_tickfs(backing, mountpoint, int(tick * 1e9)):
                writes = 3 if args.quick else max(6, min(20, round(8 / tick)))
                row = {}
                for key, writer in (
                    ("modwrite", write_modwrite),
                    ("sleep", write_after_sleep(tick)),
                    ("dance", write_by_rename_dance),
                ):
                    d = mountpoint / key
                    d.mkdir()
                    names = [f"{key}_{i}" for i in range(writes)]
                    row[key], found = trial(str(d), writer, names, tick, phases)
                    misses[key] += writes - found
                d = mountpoint / "batch"
                d.mkdir()
                row["batch"], found = batch_trial(str(d), [f"b_{i}" for i in range(20)])
                misses["batch"] += 20 - found
                d = mountpoint / "plain"
                d.mkdir()
                names = [f"plain_{i}" for i in range(writes)]
                _, found = trial(str(d), write_plainly, names, tick, phases)
                plain_found += found
                plain_total += writes
            for key, label in labels.items():
                points[label].append((tick, row[key]))
            print(f"{tick:>7g}s  " + "  ".join(f"{row[k]:>9.4f}" for k in labels))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        "not found by the stock finder at once: "
        + ", ".join(f"{k} {v}" for k, v in misses.items())
        + f"; control, plain writes with no wait: found {plain_found} of {plain_total}"
    )
    series("tick", "time of a write (mean) against the filesystem tick", points, x="tick (s)")
    for key, count in misses.items():
        figure("tick", f"writes the stock finder missed: {labels[key]}", count, "count")
    figure(
        "tick",
        "control: plain writes (no wait) the stock finder found at once",
        plain_found,
        "count",
        detail=f"of {plain_total}",
    )
    write_json(args.json, benchmark="bench_tick.py", quick=args.quick)
    if args.plot:
        draw(args.plot, points)
        print(f"drawn into {args.plot}")
    return 1 if any(misses.values()) else 0


def draw(path: str, points: dict[str, list[tuple[float, float]]]) -> None:
    ticks = sorted({x for pts in points.values() for x, _ in pts})

    def one_tick(ax: Any) -> None:
        ax.plot(ticks, ticks, linestyle=":", color="grey", label="one tick")
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.minorticks_off()

    draw_log_log(
        path,
        points,
        xlabel="filesystem timestamp tick (s)",
        ylabel="mean time of a write, visible to stock finders (s)",
        title="Cross-process visibility: the wait against the tick",
        decorate=one_tick,
    )


if __name__ == "__main__":
    sys.exit(main())
