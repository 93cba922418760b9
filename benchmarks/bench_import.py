"""Benchmarks of write-then-import with CPython's bytecode writing ON, as
ratios measured side by side in one run, with the naive anchors next to them.

    python benchmarks/bench_import.py [--quick] [--workdir DIR | --ext4-in-ram] [--profile]

Everything runs on a fine-grained filesystem (a temporary directory under
/tmp, or --workdir) with ``sys.dont_write_bytecode = False`` in this process
and without PYTHONDONTWRITEBYTECODE in the child processes, as a user's
program runs; each section prints proof that pycs were written.

A. End-to-end write+import of a NEW generated module (DSL-compiler-like code)
   of 8, 200 and 2000 lines: ``modwrite.write_and_import(...,
   visibility="process")`` against a temporary write + os.replace,
   importlib.invalidate_caches() and importlib.import_module() (targets:
   8 lines <= 1.1x, 200 and 2000 lines <= 1.0x).  Then the same for a
   rewrite of an existing module, reloaded (informational).
B. First import, in a fresh process, of a module written by
   ``modwrite.write_module()`` against a stock import of the same source
   written plainly (no pyc yet): time of the import, and whether the import
   compiled the module (target: the modwrite-written one is not compiled).
C. One ``write_module(visibility="process")`` of a small new module against
   a bare temporary write + os.replace, with bytecode writing on and off
   (target with it off: <= 1.5x).  The bare write's cost sets the ratio:
   modwrite's overhead is mostly fixed CPU, so a slow or busy filesystem
   dilutes it (hence the absolute difference next to it, and the
   filesystem's type in the header).

Each figure is a median; within a round the two contenders run one after the
other, in alternating order, so drift of the machine hits both.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import fcntl
import importlib
import importlib.util
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import TypedDict

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "src"))

import modwrite  # noqa: E402
from _report import add_json_option, draw_log_log, figure, series, target, write_json  # noqa: E402

# -- generated modules ----------------------------------------------------------


def generate_source(lines: int, revision: int, min_size: int = 0) -> str:
    """A module of exactly *lines* lines, as a DSL compiler would emit it:
    string constants, a table, small functions.  *revision* changes the
    content; *min_size* pads the comment line until the source has more
    bytes (a rewrite of the same size in the same second would let the stock
    importer reuse the old pyc)."""
    head = [
        f'"""Generated from rules.dsl (revision {revision}). Do not edit."""',
        f"REVISION = {revision}",
        "# ",
    ]
    tail = [f"SEED = {revision * 7919 % 1000003}"]
    body: list[str] = []
    budget = lines - len(head) - len(tail)
    k = 0
    while True:
        a, b = (revision + 3 * k) % 97 + 1, (revision * 31 + k) % 1009
        block = [
            "",
            f'RULE_{k}_PATTERN = "^(?P<field_{k}>[a-z_]+)\\\\s*(==|!=)\\\\s*{b}$"',
            f"RULE_{k}_LIMITS = {{'low': {a}, 'high': {a + b}, 'name': 'rule_{k}'}}",
            "",
            "",
            f"def rule_{k}(ctx, value):",
            f'    """Compiled from rules.dsl, rule {k} (revision {revision})."""',
            "    if value is None:",
            f"        return ctx.get('default_{k}', {b})",
            f"    acc = value * {a} + {b}",
            f"    if acc > RULE_{k}_LIMITS['high']:",
            f"        return {{'rule': 'rule_{k}', 'action': 'reject', 'score': acc}}",
            f"    return {{'rule': 'rule_{k}', 'action': 'accept', 'score': acc - {a}}}",
        ]
        if len(body) + len(block) > budget:
            break
        body += block
        k += 1
    fillers = (  # single lines: a string constant, a table, a function
        "MESSAGE_{i} = 'rule set {r}: message {i} for the operator'",
        "TABLE_{i} = {{'id': {i}, 'revision': {r}, 'kind': 'lookup', 'next': 'MESSAGE_{i}'}}",
        "def check_{i}(value): return value is not None and value % {m} == {i} % {m}",
    )
    while len(body) < budget:
        i = len(body)
        filler = fillers[i % len(fillers)]
        body.append(filler.format(i=i, r=revision, m=revision % 13 + 2))
    source = "\n".join(head + body + tail) + "\n"
    if len(source) < min_size:
        source = source.replace("\n# ", "\n# " + "." * (min_size - len(source)), 1)
    assert source.count("\n") == lines, (lines, source.count("\n"))
    return source


# -- helpers --------------------------------------------------------------------

_counter = iter(range(10**9))


def fresh_dir(base: Path, label: str) -> Path:
    d = base / f"{label}{next(_counter)}"
    d.mkdir()
    return d


def bare_atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def pyc_of(directory: Path, name: str) -> str:
    path = importlib.util.cache_from_source(str(directory / f"{name}.py"))
    assert path is not None
    return path


def filesystem_of(path: Path) -> str:
    """The type of the filesystem *path* is on, from /proc/mounts ("?"
    elsewhere)."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                fields = line.split()
                mount = fields[1].replace("\\040", " ")
                inside = str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        pass
    return kind


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


# -- A: end-to-end write+import in this process -----------------------------------


class Tally:
    """Per contender: seconds of each round, pycs found after the import,
    and imports that returned another revision than the one written."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.pycs = 0
        self.stale = 0

    def record(self, seconds: float, module: ModuleType, revision: int, pyc: str) -> None:
        self.times.append(seconds)
        self.pycs += os.path.exists(pyc)
        self.stale += revision != module.REVISION

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def proof(self) -> str:
        return f"pyc {self.pycs}/{len(self.times)}, stale {self.stale}"


def new_module_rounds(
    directory: Path, lines: int, rounds: int, contenders: tuple[str, ...] = ("naive", "modwrite")
) -> dict[str, Tally]:
    """Write and import a new module per round and contender."""
    tallies = {how: Tally() for how in contenders}
    for r in range(-1, rounds):  # round -1 warms up, untimed
        order = contenders if r % 2 == 0 else contenders[::-1]
        for how in order:
            revision = next(_counter)
            name = f"gen_{how}_{lines}_{revision}"
            source = generate_source(lines, revision)
            t, module = write_and_import_timed(how, directory, name, source, None)
            if r >= 0:
                tallies[how].record(t, module, revision, pyc_of(directory, name))
            del sys.modules[name]
    return tallies


def write_and_import_timed(
    how: str, directory: Path, name: str, source: str, previous: ModuleType | None
) -> tuple[float, ModuleType]:
    """One timed write + import (a reload of *previous* when given) by *how*:
    the naive anchor, the naive anchor validating the source with compile()
    first ("validated": a second compile, as modwrite 0.1 did), or modwrite.
    Returns (seconds, module)."""
    if how in ("naive", "validated"):
        path = str(directory / f"{name}.py")
        data = source.encode()
        t0 = time.perf_counter()
        if how == "validated":
            compile(data, path, "exec", dont_inherit=True)
        bare_atomic_write(path, data)
        importlib.invalidate_caches()
        module = importlib.reload(previous) if previous else importlib.import_module(name)
        return time.perf_counter() - t0, module
    t0 = time.perf_counter()
    module = modwrite.write_and_import(name, source, root=directory, visibility="process")
    return time.perf_counter() - t0, module


def rewrite_rounds(directory: Path, lines: int, rounds: int) -> dict[str, Tally]:
    """Rewrite one module per contender each round, and reload it."""
    tallies = {"naive": Tally(), "modwrite": Tally()}
    names = {how: f"re_{how}_{lines}_{next(_counter)}" for how in tallies}
    modules: dict[str, ModuleType] = {}
    sizes = dict.fromkeys(tallies, 0)
    for r in range(-1, rounds):  # round -1 writes and imports the first version
        order = ("naive", "modwrite") if r % 2 == 0 else ("modwrite", "naive")
        for how in order:
            name = names[how]
            revision = r + 1
            source = generate_source(lines, revision, min_size=sizes[how] + 1)
            sizes[how] = len(source)
            previous = modules.get(how) if r >= 0 else None
            t, module = write_and_import_timed(how, directory, name, source, previous)
            modules[how] = module
            if r >= 0:
                tallies[how].record(t, module, revision, pyc_of(directory, name))
    for name in names.values():
        del sys.modules[name]
    return tallies


# -- B: first import in a fresh process -----------------------------------------

_CHILD = r"""
import importlib, importlib.machinery, importlib.util, json, os, sys, time
directory, name = sys.argv[1], sys.argv[2]
sys.path.insert(0, directory)
compiles = []
_source_to_code = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiles.append(path)
    return _source_to_code(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
pyc = importlib.util.cache_from_source(os.path.join(directory, name + ".py"))
def state():
    try:
        st = os.stat(pyc)
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]
before = state()
t0 = time.perf_counter()
importlib.import_module(name)
seconds = time.perf_counter() - t0
after = state()
print(json.dumps({
    "seconds": seconds, "before": before, "after": after, "compiles": len(compiles),
    "dont_write_bytecode": sys.dont_write_bytecode,
}))
"""


class ChildResult(TypedDict):
    """What the child of [B] prints: the import's seconds, the pyc's
    (inode, mtime_ns, size) before and after it (``None``: absent), how often
    the loader compiled source, and the child's sys.dont_write_bytecode."""

    seconds: float
    before: list[int] | None
    after: list[int] | None
    compiles: int
    dont_write_bytecode: bool


def first_import(directory: Path, name: str) -> ChildResult:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(directory), name],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    result: ChildResult = json.loads(out.stdout)
    return result


def compiled(result: ChildResult) -> bool:
    """Whether the child's import compiled the module: the loader compiled
    it, or the pyc was missing, or it was rewritten during the import."""
    return (
        bool(result["compiles"]) or result["before"] is None or result["before"] != result["after"]
    )


def fresh_process_rounds(directory: Path, lines: int, rounds: int) -> dict[str, list[ChildResult]]:
    results: dict[str, list[ChildResult]] = {"stock": [], "modwrite": []}
    for r in range(rounds):
        order = ("stock", "modwrite") if r % 2 == 0 else ("modwrite", "stock")
        for how in order:
            revision = next(_counter)
            name = f"first_{how}_{lines}_{revision}"
            source = generate_source(lines, revision)
            if how == "stock":
                (directory / f"{name}.py").write_text(source)
            else:
                modwrite.write_module(name, source, root=directory)
            results[how].append(first_import(directory, name))
    return results


# -- C: one small write ---------------------------------------------------------


def _recorder(signum: int, frame: object) -> None:
    """Stands in for the program's SIGINT handler in :func:`floor_write`."""


def floor_write(directory: str, leaf: str, data: bytes) -> None:
    """The compile and the system calls of one write_module() of a new
    module into *directory*, with none of modwrite's code around them: no
    checks, no listing, no invalidation, no atomicwrites.  What the write's
    guarantees cost at the least, with this design."""
    path = os.path.join(directory, leaf)
    compile(data, path, "exec", dont_inherit=True)  # validate (G8)
    handler = signal.signal(signal.SIGINT, _recorder)  # hold signals back
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the writers' lock
        os.fstat(fd)  # the directory before
        os.stat(directory)  # the path still names the locked directory
        os.access(leaf, os.F_OK, dir_fd=fd)  # the stamp rule's lookup
        temp = f".{leaf}.{os.getpid()}.tmp"
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666, dir_fd=fd)
        try:
            os.write(out, data)
            os.fstat(out)  # the landed file's identity
        finally:
            os.close(out)
        os.replace(temp, leaf, src_dir_fd=fd, dst_dir_fd=fd)
        os.fstat(fd)  # the directory after
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
        signal.signal(signal.SIGINT, handler)


def small_writes(base: Path, writes: int, how: str) -> float:
    d = fresh_dir(base, "c")
    names = [f"small_{i}" for i in range(writes)]
    t0 = time.perf_counter()
    if how == "modwrite":
        for m in names:
            modwrite.write_module(m, "X = 1\n", root=d, visibility="process")
    elif how == "floor":
        for m in names:
            floor_write(str(d), f"{m}.py", b"X = 1\n")
    else:
        for m in names:
            bare_atomic_write(str(d / f"{m}.py"), b"X = 1\n")
    t = time.perf_counter() - t0
    shutil.rmtree(d)
    return t / writes


def small_write_medians(base: Path, writes: int, rounds: int) -> dict[str, float]:
    """Seconds per write, median of *rounds*, of modwrite, the bare write and
    the floor (:func:`floor_write`), interleaved in rotating order."""
    hows = ["modwrite", "bare", "floor"]
    times: dict[str, list[float]] = {how: [] for how in hows}
    for r in range(rounds):
        for how in hows[r % 3 :] + hows[: r % 3]:
            times[how].append(small_writes(base, writes, how))
    return {how: statistics.median(t) for how, t in times.items()}


# -- profile --------------------------------------------------------------------


def profile_write_and_import(base: Path, lines: int) -> None:
    d = fresh_dir(base, "p")
    sys.path.insert(0, str(d))
    try:
        modwrite.write_and_import("prof_warm", "", root=d, visibility="process")
        profiler = cProfile.Profile()
        source = generate_source(lines, next(_counter))
        profiler.runcall(
            modwrite.write_and_import, "prof_once", source, root=d, visibility="process"
        )
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(12)
    finally:
        sys.path.remove(str(d))


# -- report ---------------------------------------------------------------------


def print_ratio(
    lines: int, tallies: dict[str, Tally], limit: float | None, *, rewrite: bool = False
) -> None:
    """One line of [A]: modwrite against the naive anchor, with the verdict
    when there is a target (*limit*)."""
    n, m = tallies["naive"], tallies["modwrite"]
    ratio = m.median / n.median
    # Each round times the two back to back: the median of the rounds' own
    # ratios is not moved by load that drifts between rounds.
    paired = statistics.median(a / b for a, b in zip(m.times, n.times))
    judged = ""
    if limit is not None:
        what = f"write_and_import() of a new {lines}-line module / temp write + os.replace + "
        judged = (
            target(
                "6",
                what + "importlib.invalidate_caches() + import, bytecode writing on",
                ratio,
                limit,
                detail=f"{m.median * 1e3:.3f} ms / {n.median * 1e3:.3f} ms",
            )
            + "  "
        )
    else:
        figure(
            "6",
            f"{'rewrite + reload' if rewrite else 'write + import'} of a {lines}-line module: "
            "modwrite / naive",
            ratio,
            "x",
            detail=f"{m.median * 1e3:.3f} ms / {n.median * 1e3:.3f} ms",
        )
    print(
        f"    {lines:4d} lines: modwrite {m.median * 1e3:7.3f} ms, naive "
        f"{n.median * 1e3:7.3f} ms = {ratio:.3f}x (per round: {paired:.3f}x)  {judged}"
        f"[modwrite {m.proof()}; naive {n.proof()}]"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--workdir", default=None, help="where to put the directories")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile one 200-line write_and_import"
    )
    parser.add_argument(
        "--ext4-in-ram",
        action="store_true",
        help="measure on an ext4 image (nanosecond timestamps) kept on /dev/shm: ext4's "
        "costs without a loaded disk's swings (needs root)",
    )
    parser.add_argument(
        "--plot", metavar="PNG", help="draw write+import time against module size (matplotlib)"
    )
    add_json_option(parser)
    args = parser.parse_args()
    if args.ext4_in_ram:
        sys.path.append(str(HERE))  # the test kit's mounts
        from tests.fskit.coarse_ext4 import mount_fine_ext4

        ram = Path(tempfile.mkdtemp(prefix="modwrite-bench-ext4-", dir="/dev/shm"))
        try:
            with mount_fine_ext4(ram) as root:
                return run(args, str(root))
        finally:
            # Empty once unmounted; never removed recursively (it may still
            # hold a mount that failed to go).
            with contextlib.suppress(OSError):
                ram.rmdir()
    return run(args, args.workdir)


def run(args: argparse.Namespace, workdir: str | None) -> int:
    rounds_a = 15 if args.quick else 60
    rounds_b = 5 if args.quick else 15
    sys.dont_write_bytecode = False  # as a user's program runs, whatever the environment says
    base = Path(tempfile.mkdtemp(prefix="modwrite-bench-import-", dir=workdir))
    from modwrite._probe import measure_tick

    print(
        f"modwrite {modwrite.__version__} write+import benchmarks, Python "
        f"{sys.version.split()[0]}, {'quick' if args.quick else 'full'} rounds"
    )
    print(
        f"directory {base} ({filesystem_of(base.resolve())}), measured timestamp tick "
        f"{measure_tick(str(base)) / 1e9:g} s; "
        f"sys.dont_write_bytecode={sys.dont_write_bytecode} (environment "
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE')!r}, "
        f"dropped for child processes); sys.path has {len(sys.path)} entries behind ours"
    )
    try:
        print()
        print(
            f"[A] write+import of a new module, visibility='process', median of {rounds_a}: "
            "modwrite.write_and_import / (temp write + os.replace + "
            "importlib.invalidate_caches() + import_module)"
        )
        directory = fresh_dir(base, "a")
        sys.path.insert(0, str(directory))
        try:
            for lines, limit in ((8, 1.1), (200, 1.0), (2000, 1.0)):
                print_ratio(lines, new_module_rounds(directory, lines, rounds_a), limit)
            print(
                "    rewrite + reload of an existing module (informational): modwrite "
                "write_and_import / (temp write + os.replace + invalidate_caches() + reload)"
            )
            for lines in (8, 200, 2000):
                print_ratio(lines, rewrite_rounds(directory, lines, rounds_a), None, rewrite=True)
        finally:
            sys.path.remove(str(directory))
        print()

        print(
            f"[B] first import in a fresh process (stock importer), median of {rounds_b} "
            "processes: module written by modwrite.write_module() / same source written "
            "plainly, no pyc"
        )
        directory = fresh_dir(base, "b")
        for lines in (200, 2000):
            res = fresh_process_rounds(directory, lines, rounds_b)
            med = {how: statistics.median(x["seconds"] for x in v) for how, v in res.items()}
            ratio = med["modwrite"] / med["stock"]
            summary = {}
            for how, v in res.items():
                yes = sum(compiled(x) for x in v)
                pycs = sum(x["after"] is not None for x in v)
                flags = {x["dont_write_bytecode"] for x in v}
                summary[how] = (
                    f"compiled during import: {'yes' if yes else 'no'} ({yes}/{len(v)}), "
                    f"pyc after import {pycs}/{len(v)}, child dont_write_bytecode="
                    f"{'/'.join(map(str, sorted(flags)))}"
                )
            mw_compiled = any(compiled(x) for x in res["modwrite"])
            print(
                f"    {lines:4d} lines: modwrite-written {med['modwrite'] * 1e3:7.3f} ms, "
                f"stock {med['stock'] * 1e3:7.3f} ms = {ratio:.2f}x"
            )
            print(f"      stock:    {summary['stock']}")
            print(f"      modwrite: {summary['modwrite']}")
            print(
                f"      modwrite-written module compiled on first import: "
                f"{'yes' if mw_compiled else 'no'}  "
                f"{'MISSES' if mw_compiled else 'meets'} target (no)"
            )
            figure(
                "10",
                f"compiles on the first import in a fresh process of a {lines}-line module "
                "write_module() wrote (target: 0)",
                sum(compiled(x) for x in res["modwrite"]),
                "count",
                detail=f"of {len(res['modwrite'])} processes; {med['modwrite'] * 1e3:.2f} ms "
                f"against {med['stock'] * 1e3:.2f} ms for a stock import that compiles",
            )
        print()

        writes = 500 if args.quick else 2000
        rounds_c = 5 if args.quick else 9
        print(
            f"[C] one write_module(visibility='process') of a new 1-line module / bare temp "
            f"write + os.replace, {writes} writes, median of {rounds_c}"
        )
        for label, off in (("bytecode writing on ", False), ("bytecode writing off", True)):
            sys.dont_write_bytecode = off
            medians = small_write_medians(base, writes, rounds_c)
            ours, bare, floor = medians["modwrite"], medians["bare"], medians["floor"]
            ratio = ours / bare
            judged = "  (informational)"
            if off:
                judged = "  " + target(
                    "3",
                    "one small write_module(visibility='process'), bytecode writing off: "
                    "/ bare temp write + os.replace (issue 7's 1.5x)",
                    ratio,
                    1.5,
                    detail=f"{ours * 1e6:.1f} us / {bare * 1e6:.1f} us",
                )
            print(
                f"    {label}: modwrite {ours * 1e6:6.1f} us, bare {bare * 1e6:6.1f} us "
                f"= {ratio:.2f}x (+{(ours - bare) * 1e6:.1f} us){judged}"
            )
        print(
            f"    its floor, the same compile and system calls with no code around them "
            f"(bytecode off): {floor * 1e6:6.1f} us = {floor / bare:.2f}x the bare write"
        )
        sys.dont_write_bytecode = False

        print()
        size_sweep(base, args)

        if args.profile:
            print()
            print("[profile] one 200-line write_and_import(visibility='process'), bytecode on")
            profile_write_and_import(base, 200)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    write_json(args.json, benchmark="bench_import.py", quick=args.quick)
    return 0


def size_sweep(base: Path, args: argparse.Namespace) -> None:
    """[D]: write+import time of a new module against its size, for modwrite,
    the naive anchor, and the naive anchor that validates with compile()
    first; recorded as a series, drawn with --plot."""
    sizes = (10, 100, 1000, 10000) if args.quick else (10, 30, 100, 300, 1000, 3000, 10000)
    rounds = 5 if args.quick else 21
    contenders = ("modwrite", "naive", "validated")
    print(
        f"[D] write+import of a new module against its size (lines), median of {rounds}, "
        "bytecode writing on"
    )
    directory = fresh_dir(base, "d")
    sys.path.insert(0, str(directory))
    points: dict[str, list[tuple[float, float]]] = {how: [] for how in contenders}
    try:
        for lines in sizes:
            tallies = new_module_rounds(directory, lines, rounds, contenders)
            for how in contenders:
                points[how].append((lines, tallies[how].median))
            print(
                f"    {lines:5d} lines: "
                + ", ".join(f"{how} {tallies[how].median * 1e3:8.3f} ms" for how in contenders)
                + f"  [{', '.join(f'{how} {tallies[how].proof()}' for how in contenders)}]"
            )
    finally:
        sys.path.remove(str(directory))
    labels = {
        "modwrite": "modwrite.write_and_import()",
        "naive": "temp write + os.replace + invalidate_caches() + import",
        "validated": "the same, validated with compile() first",
    }
    series(
        "6",
        "write+import time (s) of a new module against its size (lines)",
        {labels[how]: points[how] for how in contenders},
        x="lines",
    )
    if args.plot:
        draw_sizes(args.plot, {labels[how]: points[how] for how in contenders})
        print(f"    drawn into {args.plot}")


def draw_sizes(path: str, points: dict[str, list[tuple[float, float]]]) -> None:
    draw_log_log(
        path,
        points,
        xlabel="module size (lines of generated code)",
        ylabel="write + import (ms, median)",
        title="Write and import a new module, bytecode writing on",
        y_scale=1e3,
    )


if __name__ == "__main__":
    sys.exit(main())
