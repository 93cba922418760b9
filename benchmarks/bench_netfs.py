"""What readers on another host see of modules written with modwrite, on a
network filesystem whose clients cache entries and attributes (issue 10).

    python benchmarks/bench_netfs.py [--quick] [--trials N] [--cache 1,3]
        [--tick-ns N] [--workdir DIR]

Needs root and an interpreter with pyfuse3 (``$MODWRITE_TICKFS_PYTHON``, else
``.ci/.venv-tickfs``, as the test fixtures): one backing directory is mounted
twice with tickfs (``tests/fskit/tickfs.py``), each mount with kernel entry,
attribute and negative-lookup timeouts of *cache* seconds, as an NFS client's
``actimeo``: host A (this process) writes with ``modwrite.write_module()``,
host B (one reader process per row) reads.  For every row and every trial,
the reader makes two attempts of its own (its caches as polling leaves
them), a random delay in [0, cache) passes (the write's phase against the
reader's caches), host A writes version 1001 of a module, and the reader
tries again every 10 ms until it sees it:

* *told*: trials in which the reader's first attempt after
  ``write_module()`` returned saw the new version (a reader that is told of
  the write: a barrier, a message);
* *seen after*: median and maximum seconds from ``write_module()``
  returning to the attempt that first saw it (a reader that polls);
* *never*: trials in which it was not seen within ``3 * cache + 1`` s
  (stale "for ever"); *stale after*: attempts that saw an old version again
  after the new one.

Rows: a new module the reader looked for before (``new``), and a loaded
module rewritten with a same-size source (``rewrite``); the reader with the
stock import system or ``modwrite.install()``, with or without an
invalidation call before each attempt.  ``--tick-ns 1000000000`` reports
1-second timestamps (an NFS server exporting ext3, say) and adds a control
row: plain writes (a temporary file and ``os.replace``) to a stock reader.
``--quick``: 4 trials, cache 1 s (about a minute).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(HERE / "src"), str(HERE)]

from tests.fskit.tickfs_mount import PYTHON_ENV  # noqa: E402
from tests.netfs.hosts import (  # noqa: E402
    Reader,
    Scenario,
    Trial,
    fresh_pair,
    run_trial,
    two_hosts,
)

import modwrite  # noqa: E402

SCENARIOS = [
    Scenario("new: stock import", "new", False, "import", "none"),
    Scenario("new: stock, importlib.invalidate_caches()", "new", False, "import", "importlib"),
    Scenario("new: install(), import", "new", True, "import", "none"),
    Scenario("new: install(), modwrite.invalidate_caches(dir)", "new", True, "import", "modwrite"),
    Scenario("rewrite: stock importlib.reload()", "rewrite", False, "importlib.reload", "none"),
    Scenario(
        "rewrite: importlib.invalidate_caches() + reload()",
        "rewrite",
        False,
        "importlib.reload",
        "importlib",
    ),
    Scenario("rewrite: modwrite.reload(module)", "rewrite", False, "reload", "none"),
    Scenario("rewrite: modwrite.reload_changed()", "rewrite", False, "reload_changed", "none"),
    Scenario("rewrite: install(), reload_changed()", "rewrite", True, "reload_changed", "none"),
    Scenario(
        "rewrite: invalidate_caches(dir) + reload_changed()",
        "rewrite",
        False,
        "reload_changed",
        "modwrite",
    ),
]
PLAIN_CONTROL = Scenario(
    "control: plain writes, stock import", "new", False, "import", "none", "plain"
)


def tickfs_python() -> str:
    configured = os.environ.get(PYTHON_ENV)
    if configured:
        return configured
    candidate = HERE / ".ci" / ".venv-tickfs" / "bin" / "python"
    if not candidate.exists():
        raise SystemExit(f"set ${PYTHON_ENV} to an interpreter with pyfuse3 and trio")
    return str(candidate)


def row(scenario: Scenario, trials: list[Trial]) -> str:
    seen = [t.seen_s for t in trials if t.seen_s is not None]
    told = sum(t.told for t in trials)
    never = len(trials) - len(seen)
    stale = sum(t.stale_after for t in trials)
    latency = (
        f"{statistics.median(seen) * 1000:7.0f} {max(seen) * 1000:7.0f}"
        if seen
        else f"{'-':>7} {'-':>7}"
    )
    return f"{scenario.label:52} {told:>3}/{len(trials):<3} {latency} {never:>6} {stale:>6}"


def measure(hosts_dir: Path, cache_s: float, tick_ns: int, trials: int, seed: int) -> None:
    rng = random.Random(seed)
    scenarios = SCENARIOS + ([PLAIN_CONTROL] if tick_ns > 1 else [])
    tick = f", tick {tick_ns / 1e9:g} s" if tick_ns > 1 else ""
    print(f"\ncache (entry/attr/negative timeouts) {cache_s:g} s{tick}, {trials} trials")
    print(f"{'reader':52} {'told':>7} {'median':>7} {'max':>7} {'never':>6} {'stale':>6}")
    print(f"{'':52} {'':>7} {'ms':>7} {'ms':>7} {'':>6} {'after':>6}")
    with two_hosts(hosts_dir, cache_s, tick_ns=tick_ns, python=tickfs_python()) as hosts:
        for number, scenario in enumerate(scenarios):
            writer_dir, reader_dir = fresh_pair(hosts, f"row{number}")
            modwrite.write_module("warm", "V = 0\n", root=writer_dir)
            results = []
            with Reader(reader_dir, install=scenario.install) as reader:
                reader.version("warm")  # the directory is listed and cached
                for i in range(trials):
                    results.append(
                        run_trial(
                            reader,
                            writer_dir,
                            scenario,
                            f"m{i}",
                            cache_s=cache_s,
                            delay_s=rng.uniform(0, cache_s),
                        )
                    )
            print(row(scenario, results), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument(
        "--cache", default="1,3", help="comma-separated cache times in seconds (default 1,3)"
    )
    parser.add_argument("--tick-ns", type=int, default=1, help="timestamp tick (default 1 ns)")
    parser.add_argument("--quick", action="store_true", help="4 trials, cache 1 s")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--workdir", default=None, help="where to mount (default: a temp dir)")
    args = parser.parse_args()
    trials, caches = args.trials, [float(c) for c in args.cache.split(",")]
    if args.quick:
        trials, caches = 4, [1.0]
    # Bytecode writing on in the writer (write_module() writes the pyc the
    # readers' imports use) as in the readers (tests/netfs/_reader.py checks).
    sys.dont_write_bytecode = False
    print(
        f"modwrite {modwrite.__version__} across two hosts, Python {sys.version.split()[0]},"
        f" bytecode writing on; started {time.strftime('%Y-%m-%d %H:%M')}"
    )
    with contextlib.ExitStack() as stack:
        base = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="bench-netfs-", dir=args.workdir)
            )
        )
        for number, cache_s in enumerate(caches):
            measure(base / f"hosts{number}", cache_s, args.tick_ns, trials, args.seed + number)
    return 0


if __name__ == "__main__":
    sys.exit(main())
