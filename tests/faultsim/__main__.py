"""``python -m tests.faultsim``: the long fault campaign, one command.

Run from the repository root, as root (it mounts loop images), with the
package installed (``pip install -e '.[test]'``)::

    python -m tests.faultsim                 # 1000 SIGKILLs per kill scenario
    python -m tests.faultsim --kills 100     # smaller
    python -m tests.faultsim --seed 1234 --only "SIGKILL write_package"

Prints the seed first, each scenario as it ends, then the table of counts;
exits 1 when any trial broke a rule (their messages are printed).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .campaign import Sizes, run_campaign, summary
from .tally import table


def main(argv: list[str] | None = None) -> int:
    defaults = Sizes()
    parser = argparse.ArgumentParser(
        prog="python -m tests.faultsim", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--kills", type=int, default=defaults.kills, help="SIGKILLs per kill scenario"
    )
    parser.add_argument(
        "--signals",
        type=int,
        help="SIGINT/SIGTERMs per signal scenario (default: --kills)",
    )
    parser.add_argument(
        "--clean-rounds",
        type=int,
        help="writes per live writer of the clean loop (default: --kills)",
    )
    parser.add_argument("--enospc-margin", type=int, default=defaults.enospc_margin)
    parser.add_argument("--seed", type=int, help="replay a campaign (default: a random seed)")
    parser.add_argument(
        "--only", action="append", help="run the scenarios whose name contains this"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the images are made (default: a new directory in /dev/shm)",
    )
    parser.add_argument(
        "--rst", action="store_true", help="print the table as list-table rows too"
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    sizes = Sizes(
        kills=args.kills,
        signals=args.signals if args.signals is not None else args.kills,
        clean_rounds=args.clean_rounds if args.clean_rounds is not None else max(3, args.kills),
        enospc_margin=args.enospc_margin,
    )
    print(
        f"faultsim: seed {seed} (replay: --seed {seed}), {sizes}, "
        f"CPython {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}",
        flush=True,
    )
    made = args.workdir is None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="faultsim-", dir="/dev/shm"))
    started = time.monotonic()
    try:
        tallies = run_campaign(workdir, sizes, seed, only=args.only)
    finally:
        if made:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(tallies))
    for tally in tallies:
        for message in tally.messages:
            print(f"VIOLATION {message}")
    if args.rst:
        print(table(tallies, rst=True))
    print(summary(tallies, started), flush=True)
    return 1 if any(t.violations for t in tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
