"""The whole campaign: every scenario, on its filesystems, at a given size."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ..fskit.coarse_ext4 import mount_coarse_ext4, mount_fine_ext4, mount_tiny_ext4
from .cleanloop import run_clean_loop
from .engine import run_kills, run_signals
from .enospc import MARGIN, run_enospc
from .progress import instrument
from .scenarios import (
    WriteScenario,
    batch_scenario,
    clean_scenario,
    module_scenario,
    package_scenario,
    parents_scenario,
)
from .tally import Tally

__all__ = [
    "Sizes",
    "enospc_scenarios",
    "kill_scenarios",
    "run_campaign",
    "signal_scenarios",
    "summary",
]


@dataclass(frozen=True)
class Sizes:
    """How much of each kind of fault.

    :ivar kills: SIGKILLs per kill scenario.
    :ivar signals: SIGINT/SIGTERM per signal scenario.
    :ivar clean_rounds: writes per live writer of the clean loop.
    :ivar enospc_margin: free-space levels tried past what a write uses.
    :ivar calibrations: unharmed writes timed before a scenario's faults.
    """

    kills: int = 1000
    signals: int = 1000
    clean_rounds: int = 1000
    enospc_margin: int = MARGIN
    calibrations: int = 8


def kill_scenarios() -> list[WriteScenario]:
    return [
        module_scenario("fine", "system"),
        module_scenario("fine", "process"),
        # The visibility wait lasts up to a second: many writers at once.
        module_scenario("coarse", "system", parallel=24),
        module_scenario("coarse", "process"),
        package_scenario(fallback=False),
        package_scenario(fallback=True),
        batch_scenario(),
        # Beyond the list: the other commit path (new packages moved
        # in with the module), a write over an earlier crash, clean itself.
        parents_scenario(),
        package_scenario(fallback=False, over_crash=True),
        clean_scenario(),
    ]


def signal_scenarios() -> list[WriteScenario]:
    return [
        module_scenario("fine", "system"),
        package_scenario(fallback=False),
        package_scenario(fallback=True),
        batch_scenario(),
    ]


def enospc_scenarios() -> list[WriteScenario]:
    return signal_scenarios()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text)


def run_campaign(
    workdir: Path,
    sizes: Sizes,
    seed: int,
    *,
    only: list[str] | None = None,
    log: Callable[[str], object] = lambda line: print(line, file=sys.stderr, flush=True),
) -> list[Tally]:
    """Run every scenario whose ``"<fault> <scenario>"`` contains one of
    *only* (all by default), under *workdir* (where the filesystem images
    are made and mounted), with generators seeded from *seed*."""

    def wanted(kind: str, name: str) -> bool:
        return not only or any(o.lower() in f"{kind} {name}".lower() for o in only)

    def rng(kind: str, name: str) -> random.Random:
        return random.Random(f"{seed}/{kind}/{name}")

    def done(tally: Tally) -> Tally:
        log(
            f"  {tally.kind} {tally.scenario}: {tally.trials} trials, "
            f"{tally.violations} violations, {tally.seconds:.1f} s"
            + (f" ({tally.note})" if tally.note else "")
        )
        return tally

    tallies: list[Tally] = []
    saved = sys.dont_write_bytecode
    # Writes and imports with bytecode writing on, as users run them (each
    # scenario's unharmed run proves it); stale bytecode itself is the
    # sweep's and the model's to catch: these versions differ in size.
    sys.dont_write_bytecode = False
    try:
        with ExitStack() as mounts, instrument():
            fine = mounts.enter_context(mount_fine_ext4(workdir / "fine", size_mb=512))
            coarse = mounts.enter_context(mount_coarse_ext4(workdir / "coarse"))
            roots = {"fine": fine, "coarse": coarse}
            timed = (
                ("SIGKILL", "kill", kill_scenarios(), run_kills, sizes.kills),
                ("SIGINT/SIGTERM", "signal", signal_scenarios(), run_signals, sizes.signals),
            )
            for kind, prefix, scenarios, run, trials in timed:
                for scenario in scenarios:
                    if wanted(kind, scenario.name):
                        base = roots[scenario.fs] / f"{prefix}-{_slug(scenario.name)}"
                        rng_of = rng(kind, scenario.name)
                        tally = run(
                            scenario, base, trials, rng_of, calibrations=sizes.calibrations
                        )
                        tallies.append(done(tally))
            if any(wanted("ENOSPC", s.name) for s in enospc_scenarios()):
                tiny = mounts.enter_context(mount_tiny_ext4(workdir / "tiny"))
                for scenario in enospc_scenarios():
                    if wanted("ENOSPC", scenario.name):
                        tallies.append(
                            done(run_enospc(scenario, tiny, margin=sizes.enospc_margin))
                        )
            if wanted("clean loop", "clean beside writers"):
                tallies.append(
                    done(
                        run_clean_loop(
                            fine / "clean", rng("clean", "loop"), rounds=sizes.clean_rounds
                        )
                    )
                )
    finally:
        sys.dont_write_bytecode = saved
    return tallies


def summary(tallies: list[Tally], started: float) -> str:
    kills = sum(t.trials for t in tallies if t.kind == "SIGKILL")
    violations = sum(t.violations for t in tallies)
    return (
        f"{len(tallies)} scenarios, {kills} SIGKILLs, {violations} violations, "
        f"{time.monotonic() - started:.0f} s"
    )
