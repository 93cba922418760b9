"""The random fault campaign (:mod:`tests.faultsim`) at a small size, and
proof that its checks can fail.

The long campaign (1000 SIGKILLs per kill scenario) runs on demand::

    python -m tests.faultsim

Here every scenario runs with a few dozen faults: no violation, and the
faults really landed inside the writes (before, at and after the commit
point), so that a writer that is not atomic would be caught.  Then writers
and a cleaner broken on purpose go through the same engine, which must
report violations.  The seed is random, printed, and can be pinned with
``MODWRITE_FAULTSIM_SEED``.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest

import modwrite
from modwrite import _clean

from .faultsim.campaign import Sizes, run_campaign
from .faultsim.cleanloop import run_clean_loop
from .faultsim.engine import run_kills, run_signals
from .faultsim.enospc import run_enospc
from .faultsim.progress import commit_begins, commit_ends, instrument
from .faultsim.scenarios import MODULE, WriteScenario, source
from .faultsim.tally import Tally, table
from .fskit.coarse_ext4 import mount_tiny_ext4

SEED = int(os.environ.get("MODWRITE_FAULTSIM_SEED") or random.SystemRandom().randrange(2**32))
SMALL = Sizes(kills=25, signals=15, clean_rounds=30, enospc_margin=2, calibrations=5)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> list[Tally]:
    tallies = run_campaign(tmp_path_factory.mktemp("faultsim"), SMALL, SEED, log=lambda _: None)
    print(f"faultsim seed {SEED}\n{table(tallies)}")
    return tallies


def _of(campaign: list[Tally], kind: str) -> list[Tally]:
    found = [t for t in campaign if t.kind == kind]
    assert found, kind
    return found


def test_no_trial_breaks_the_commit_point_rule(campaign: list[Tally]) -> None:
    assert len(campaign) == 10 + 4 + 4 + 1
    for tally in campaign:
        assert tally.violations == 0, (SEED, tally.scenario, tally.messages)


def test_kills_landed_before_and_after_the_commit_point(campaign: list[Tally]) -> None:
    """The campaign could catch a writer that is not atomic: in every kill
    scenario writers died before the commit point and the old version was
    found afterwards; in most, the new one too; over all of them, a good
    share of the kills fell inside a commit point or after it with the write
    not yet returned."""
    inside_or_after = landed_in = scenarios = 0
    for tally in _of(campaign, "SIGKILL"):
        where = (SEED, tally.scenario, tally.where, tally.outcome)
        assert tally.trials == SMALL.kills
        assert tally.where["before"] >= 2, where
        if tally.scenario.startswith("modwrite clean"):  # it has no commit point
            assert tally.outcome["old"] == SMALL.kills and tally.cleaned > 0, where
            continue
        assert tally.outcome["old"] >= 2, where
        # Per scenario, a machine slowed down by other work can push every
        # kill of a small campaign before the commit point: both sides are
        # required over all the scenarios together.
        scenarios += 1
        landed_in += tally.outcome["mid"] + tally.outcome["new"] > 0  # mid: a batch's first
        inside_or_after += tally.where["inside"] + tally.where["after"]
    assert landed_in >= scenarios // 2, (SEED, landed_in, scenarios)
    assert inside_or_after >= 0.1 * 9 * SMALL.kills, (SEED, inside_or_after)


def test_signals_landed_in_writes_and_surfaced(campaign: list[Tally]) -> None:
    """Signals were sent while the writes ran, and their exceptions came out
    of the writes (the outcomes: see the rule test)."""
    for tally in _of(campaign, "SIGINT/SIGTERM"):
        where = (SEED, tally.scenario, tally.where, tally.outcome)
        assert tally.trials == SMALL.signals
        in_write = tally.where["before"] + tally.where["inside"] + tally.where["after"]
        assert in_write >= 5 and tally.raised >= 5, where


def test_enospc_at_every_level_raises_or_lands(campaign: list[Tally]) -> None:
    for tally in _of(campaign, "ENOSPC"):
        assert tally.raised >= 2 and tally.outcome["new"] >= 2, tally
        assert "gaps" not in tally.note, tally.note
        assert "blocks free 0-" in tally.note and "inodes free 0-" in tally.note, tally.note


def test_clean_ran_beside_writers_and_had_work(campaign: list[Tally]) -> None:
    (tally,) = _of(campaign, "clean loop")
    assert tally.trials == 2 * SMALL.clean_rounds
    assert tally.cleaned > 0 and sum(tally.where.values()) > 0, tally


# -- the checks can fail ---------------------------------------------------------------


def _write_in_place(root: Path, text: str) -> None:
    """A writer that is not atomic: it truncates the module and writes it in
    small pieces.  It calls all of that its commit."""
    commit_begins()
    with open(root / f"{MODULE}.py", "w") as f:
        for start in range(0, len(text), 4):
            f.write(text[start : start + 4])
            f.flush()
    commit_ends()


def _write_beside(root: Path, text: str) -> None:
    """Atomic, but through a temporary name ``clean`` does not know: a
    crash leaves it."""
    temp = root / f"{MODULE}.py.tmp"
    temp.write_text(text)
    commit_begins()
    os.replace(temp, root / f"{MODULE}.py")
    commit_ends()


def _broken(write: object, name: str) -> WriteScenario:
    old, new = source(MODULE, "old", 100), source(MODULE, "new", 1500)
    return WriteScenario(
        name=name,
        fs="fine",
        setup=lambda r: modwrite.write_module(MODULE, old, root=r, visibility="process"),
        steps=(lambda r: write(r, new),),  # type: ignore[operator]
        versions=({MODULE: "old"}, {MODULE: "new"}),
    )


@contextmanager
def _instrumented() -> Iterator[None]:
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        with instrument():
            yield
    finally:
        sys.dont_write_bytecode = saved


@pytest.mark.parametrize("write", [_write_in_place, _write_beside], ids=lambda w: w.__name__)
def test_kills_catch_a_broken_writer(tmp_path: Path, write: object) -> None:
    with _instrumented():
        tally = run_kills(_broken(write, "broken"), tmp_path, 40, random.Random(SEED))
    assert tally.violations > 0, (SEED, tally)


def test_signals_catch_a_writer_that_does_not_hold_them_back(tmp_path: Path) -> None:
    with _instrumented():
        tally = run_signals(_broken(_write_in_place, "broken"), tmp_path, 40, random.Random(SEED))
    assert tally.violations > 0, (SEED, tally)


def test_enospc_catches_a_writer_that_writes_in_place(tmp_path: Path) -> None:
    with _instrumented(), mount_tiny_ext4(tmp_path / "tiny") as fs:
        tally = run_enospc(_broken(_write_in_place, "broken"), fs, margin=2)
    assert tally.violations > 0, tally


@contextmanager
def _every_writer_gone() -> Iterator[None]:
    """A ``clean`` that takes every writer for dead."""
    with mock.patch.object(_clean, "_writer_gone", return_value=True):
        yield


def test_the_clean_loop_catches_a_clean_that_takes_live_writers_work(tmp_path: Path) -> None:
    with _instrumented():
        tally = run_clean_loop(
            tmp_path, random.Random(SEED), rounds=60, cleaner_wrap=_every_writer_gone
        )
    assert tally.violations > 0, tally
