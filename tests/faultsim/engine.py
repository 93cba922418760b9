"""The fork server: writers forked from a parent that has imported modwrite,
killed (SIGKILL) or signalled (SIGINT, SIGTERM) at random moments of their
write, and every outcome checked against the commit-point rule.

Timing.  Unharmed writes run among the trials and are timed (controls):
how long from the call to the start of the first commit point, to the end
of the last one, and to the return.  Each trial's delay is drawn, from the
campaign's seeded generator, over those spans: a third uniformly up to 1.25
x the first commit's start, a third up to 1.25 x the last commit's end (the
part where atomicity is at stake; a batch commits once per write), a third
up to 1.3 x the write's duration (third quartile: this takes in the
visibility wait, up to one tick on a 1-second filesystem, and faults after
the return).  The first writers (in the signal campaign: a few run first,
:func:`calibrate`) and then one in :data:`CONTROL_EVERY` are controls, and
the spans follow the latest of them: a write is slower with others running
beside it, and the campaign's own checks, than alone.  Where each fault
really landed is read from the writer's progress marks (:mod:`.progress`),
never inferred from the delay.  The seed fixes the draws; the moments they
give depend on the timings measured on the machine.
"""

from __future__ import annotations

import gc
import json
import os
import random
import select
import shutil
import signal
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from modwrite import _clean, _tempnames

from ..faults import (
    CommitPointViolation,
    clean_after_kill,
    leftovers,
    removable,
    state_index,
)
from .progress import Mark, Progress, arm_kill, die_with_parent, write_returns, write_starts
from .scenarios import WriteScenario, expected_states, package_parked, verify_import
from .tally import Tally

__all__ = ["Timing", "calibrate", "run_kills", "run_signals"]


def outcome(scenario: WriteScenario, index: int) -> str:
    """``old``, ``new``, or ``mid`` (a batch with some of its writes landed)."""
    found = scenario.versions[index]
    if found == scenario.versions[0]:
        return "old"
    return "new" if found == scenario.versions[-1] else "mid"


@dataclass(frozen=True)
class Timing:
    """Measured spans of an unharmed write, in seconds from its call."""

    first_s: float  # median time to the start of its first commit point
    commit_s: float  # median time to the end of its last commit point
    total_s: float  # time to its return (third quartile)

    def draw(self, rng: random.Random) -> float:
        """A delay: a third up to 1.25 x the first commit's start, a third
        up to 1.25 x the last commit's end, a third up to 1.3 x the write."""
        band = rng.randrange(3)
        span = (1.25 * self.first_s, 1.25 * self.commit_s, 1.3 * self.total_s)[band]
        return rng.uniform(0.0, span)


def fork(child: Callable[..., int], *args: Any) -> int:
    """Fork; the child runs ``child(*args)`` and leaves with its code (70
    and a traceback on an exception), skipping every exit handler."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        die_with_parent(parent)
        # Read once per process: here, not in the middle of the write.
        _tempnames.this_writer()
        code = child(*args)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _wait_any(pids: Iterable[int]) -> tuple[int, int]:
    """Wait for the first of *pids* (children of this process) to end, and
    reap only it: ``os.waitpid(-1)`` would reap any child, the test kit's
    FUSE daemons too, hiding their exit from their ``Popen``."""
    fds = {os.pidfd_open(pid): pid for pid in pids}
    try:
        ready, _, _ = select.select(list(fds), [], [])
        return os.waitpid(fds[ready[0]], 0)
    finally:
        for fd in fds:
            os.close(fd)


def read_to_eof(fd: int) -> bytes:
    """What the pipe *fd* gives until its writers have all closed it."""
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _write_child(
    scenario: WriteScenario, root: Path, progress: Progress, slot: int, delay: float | None
) -> int:
    progress.use(slot)
    if delay is not None:
        arm_kill(delay)
    write_starts()
    scenario.run(root)
    write_returns()
    if delay is not None:
        while True:  # the kill comes
            signal.pause()
    return 0


def check_unharmed(
    scenario: WriteScenario,
    states: list[Any],
    root: Path,
    status: int,
    mark: Mark,
    before: list[str],
) -> None:
    """An unharmed writer returned: the new version, no leftover but those
    *before* it (the damage's).

    :raises CommitPointViolation: not so."""
    if os.waitstatus_to_exitcode(status) != 0 or not mark.returned:
        raise CommitPointViolation(f"unharmed write failed: status {status}")
    if states[state_index(states, root)] != states[-1]:
        raise CommitPointViolation("unharmed write did not land")
    if not set(leftovers(root)) <= set(before):
        raise CommitPointViolation(f"unharmed write left {leftovers(root)} (before: {before})")
    verify_import(root, scenario.versions[-1])


def calibrate(
    scenario: WriteScenario, base: Path, states: list[Any], runs: int, tally: Tally
) -> list[Mark]:
    """Time *runs* unharmed writes in forked writers, one at a time, and
    check each one's outcome."""
    progress = Progress(1)
    marks = []
    for run in range(runs):
        root = base / f"calibrate-{run}"
        root.mkdir()
        scenario.prepare(root)
        marks.append(_control(scenario, root, states, progress, tally, f"calibration {run}"))
    return marks


def _control(
    scenario: WriteScenario,
    root: Path,
    states: list[Any],
    progress: Progress,
    tally: Tally,
    label: str,
) -> Mark:
    """Run one unharmed writer of *scenario* under *root* (prepared), in
    slot 0 of *progress*, and check its outcome (a violation is tallied,
    named *label*); remove *root*; return its marks."""
    before = leftovers(root)
    progress.reset(0)
    pid = fork(_write_child, scenario, root, progress, 0, None)
    _, status = os.waitpid(pid, 0)
    mark = progress.read(0)
    try:
        check_unharmed(scenario, states, root, status, mark, before)
    except CommitPointViolation as exc:
        tally.violation(f"{scenario.name}: {label}: {exc}")
    shutil.rmtree(root, ignore_errors=True)
    return mark


#: One writer in this many runs unharmed, timed (a control).
CONTROL_EVERY = 10
#: How many of the latest controls the spans are taken from.
CONTROL_WINDOW = 15


@dataclass
class _Trial:
    index: int
    slot: int
    root: Path
    delay: float | None  # None: a control
    before: list[str] = field(default_factory=list)  # leftovers before the write


class _Spans:
    """The spans of the latest unharmed writes."""

    def __init__(self, marks: list[Mark]) -> None:
        self.marks = marks

    def add(self, mark: Mark) -> None:
        self.marks = [*self.marks, mark][-CONTROL_WINDOW:]

    def timing(self) -> Timing:
        totals = sorted(m.t_return - m.t_start for m in self.marks)
        total = totals[int(0.75 * (len(totals) - 1) + 0.5)]
        if not all(m.begun for m in self.marks):  # no commit point marked (clean)
            return Timing(total, total, total)
        return Timing(
            statistics.median(m.t_begin - m.t_start for m in self.marks),
            statistics.median(m.t_end - m.t_start for m in self.marks),
            total,
        )


def run_kills(
    scenario: WriteScenario,
    base: Path,
    trials: int,
    rng: random.Random,
    *,
    calibrations: int = 8,
) -> Tally:
    """SIGKILL *trials* writers of *scenario* at random moments, up to
    ``scenario.parallel`` at once, each under its own root in *base*; check
    each outcome (:func:`check_kill`).  The first *calibrations* writers,
    and one in :data:`CONTROL_EVERY` after them, run unharmed and timed."""
    tally = Tally(scenario.name, "SIGKILL")
    started = time.monotonic()
    base.mkdir(parents=True, exist_ok=True)
    states = expected_states(scenario, base / "expected")
    spans = _Spans([])
    progress = Progress(scenario.parallel)
    free = list(range(scenario.parallel))
    in_flight: dict[int, _Trial] = {}
    next_index = 0
    controls = 0

    def kills_launched() -> int:
        return tally.trials + sum(t.delay is not None for t in in_flight.values())

    while kills_launched() < trials or in_flight:
        while free and kills_launched() < trials:
            # The first writers are controls, timed under the same load.
            control = next_index < calibrations or next_index % CONTROL_EVERY == 0
            if not control and not spans.marks:
                break  # no timing yet: wait for a control
            delay = None if control else spans.timing().draw(rng)
            trial = _Trial(next_index, free.pop(), base / f"t{next_index}", delay)
            next_index += 1
            trial.root.mkdir()
            scenario.prepare(trial.root)
            trial.before = leftovers(trial.root) if control else []
            progress.reset(trial.slot)
            pid = fork(_write_child, scenario, trial.root, progress, trial.slot, trial.delay)
            in_flight[pid] = trial
        pid, status = _wait_any(in_flight)
        done = in_flight.pop(pid)
        free.append(done.slot)
        mark = progress.read(done.slot)
        if done.delay is None:
            controls += 1
            spans.add(mark)
            try:
                check_unharmed(scenario, states, done.root, status, mark, done.before)
            except CommitPointViolation as exc:
                tally.violation(f"{scenario.name}: control {done.index}: {exc}")
            shutil.rmtree(done.root, ignore_errors=True)
            continue
        tally.trials += 1
        tally.where[mark.where] += 1
        try:
            code = os.waitstatus_to_exitcode(status)
            if code != -signal.SIGKILL:
                raise CommitPointViolation(f"writer exited {code}, not killed")
            index, cleaned = check_kill(scenario, states, done.root, mark)
            tally.outcome[outcome(scenario, index)] += 1
            tally.cleaned += cleaned
        except Exception as exc:
            tally.violation(
                f"{scenario.name}: trial {done.index} (delay {(done.delay or 0) * 1e3:.3f} ms, "
                f"{mark.where}, {mark}): {exc!r}"
            )
        shutil.rmtree(done.root, ignore_errors=True)
    tally.seconds = time.monotonic() - started
    timing = spans.timing()
    ends = (
        f"its last commit point ends at {timing.commit_s * 1e3:.2f} ms (median), "
        if all(m.begun for m in spans.marks)
        else "no commit point marked, "
    )
    tally.note = (
        f"{controls} unharmed controls; {ends}"
        f"it returns by {timing.total_s * 1e3:.1f} ms (third quartile)"
    )
    return tally


def check_kill(
    scenario: WriteScenario, states: list[Any], root: Path, mark: Mark
) -> tuple[int, int]:
    """The commit-point rule after a writer under *root* was SIGKILLed where
    *mark* says:

    * before ``clean``: the disk, leftovers aside, holds the state of the
      commits made (or, inside a commit, of the one being made); only inside
      the fallback's commit may the package be missing, its tree parked;
      a fresh import sees that state, by content;
    * ``clean`` acts on exactly the leftovers, leaves none, and the state
      is the same one (or, a parked package put back, the old one); a fresh
      import sees it.

    Returns the state's index and how many leftovers ``clean`` acted on.

    :raises CommitPointViolation: a rule is broken.
    """
    allowed = mark.allowed_states()
    try:
        before: int | None = state_index(states, root)
    except CommitPointViolation:
        missing_allowed = (mark.where == "inside" and scenario.parks_inside) or (
            scenario.damage is not None and mark.done == 0
        )
        if not (scenario.package and missing_allowed and package_parked(root, scenario.package)):
            raise
        before = None
    if before is not None:
        if before not in allowed:
            raise CommitPointViolation(f"state {before} on disk, the marks allow {allowed}")
        verify_import(root, scenario.versions[before])
    index, cleaned = clean_after_kill(states, root)
    if index not in allowed or (before is not None and index != before):
        raise CommitPointViolation(f"state {index} after clean ({before} before)")
    verify_import(root, scenario.versions[index])
    return index, cleaned


# -- SIGINT and SIGTERM ----------------------------------------------------------------


#: Seconds after its write a signalled writer waits for the signal.
SIGNAL_LOST_S = 20.0

#: A signal sent this long (seconds) before the write marked its return
#: must have surfaced from the write.  Once ``kill`` returns, the signal is
#: pending and the child runs its C handler before any more of its own code;
#: the Python handler then runs at the next function entry at the latest
#: (``write_returns`` is one).  The margin covers the clock reads.
SIGNAL_LATE_S = 0.001


#: Where the signalled writer's handlers ran (``file:line in function``).
_HANDLED_AT: list[str] = []


def _ran_at(frame: FrameType | None) -> None:
    _HANDLED_AT.append(
        f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        if frame is not None
        else "(no frame: delivered by modwrite)"
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM's handler, as servers install it."""
    _ran_at(frame)
    raise SystemExit(128 + signum)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT's handler: Python's own (:func:`signal.default_int_handler`)."""
    _ran_at(frame)
    signal.default_int_handler(signum, frame)


def _signal_child(
    scenario: WriteScenario,
    root: Path,
    states: list[Any],
    progress: Progress,
    signum: int,
    out: int,
) -> int:
    """A writer that gets *signum* somewhere in or after its write: checks,
    alive, what the signal's exception left, and reports it on *out*."""
    progress.use(0)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _terminate)
    # A reader in this process: the old modules imported, their finders
    # cached (G1: an interrupted write that landed has invalidated them).
    verify_import(root, scenario.versions[0], keep_finders=True)
    sys.path.insert(0, str(root))
    # No cyclic collection during the trial: a finalizer it runs (a Popen's
    # __del__ among the garbage of the pytest process this child was forked
    # from) swallows any exception raised in it, the signal handler's too
    # (CPython prints "Exception ignored in"), and the signal would look lost.
    gc.collect()
    gc.disable()
    raised: BaseException | None = None
    in_write = False  # the exception came out of the write
    try:
        os.write(out, b"r")
        write_starts()
        try:
            scenario.run(root)
        except BaseException:
            in_write = True
            raise
        write_returns()
        # Short sleeps: a signal that arrives just before a sleep starts runs
        # its handler only when the sleep ends (CPython checks for signals
        # between bytecodes, not atomically with the system call).
        deadline = time.monotonic() + SIGNAL_LOST_S
        while time.monotonic() < deadline:
            time.sleep(0.002)
        raise AssertionError(f"no signal in {SIGNAL_LOST_S} s")
    except BaseException as exc:
        raised = exc
    mark = progress.read(0)
    report: dict[str, Any] = {
        "raised": type(raised).__name__,
        "in_write": in_write,
        "problems": [],
    }
    problems: list[str] = report["problems"]
    wanted = KeyboardInterrupt if signum == signal.SIGINT else SystemExit
    if not isinstance(raised, wanted):
        ran = f"its handler ran at {_HANDLED_AT}" if _HANDLED_AT else "its handler never ran"
        problems.append(f"raised {raised!r}, expected {wanted.__name__} ({ran})")
    try:
        index = state_index(states, root)
        report["state"] = index
        if index not in mark.allowed_states():
            problems.append(f"state {index}, the marks allow {mark.allowed_states()}")
        left = leftovers(root)
        if left:
            # The rule for a living writer: nothing left before the commit;
            # after it, only what clean removes while the writer lives.
            may_remove = removable(root)
            if index == 0 or may_remove != left:
                problems.append(f"left {left}, of which clean may remove {may_remove}")
            report["cleaned"] = len(_clean.clean(str(root)).removed)
            if leftovers(root):
                problems.append(f"clean left {leftovers(root)}")
        verify_import(root, scenario.versions[index], keep_finders=True)
    except CommitPointViolation as exc:
        problems.append(str(exc))
    if signal.getsignal(signal.SIGTERM) is not _terminate:
        problems.append("SIGTERM's handler not restored")
    os.write(out, json.dumps(report).encode())
    return 0


def _wait_until(deadline: float) -> None:
    """Sleep, then spin, to *deadline* (``time.monotonic``): sleeps alone
    overshoot by tens of microseconds, against writes of about a millisecond."""
    remaining = deadline - time.monotonic()
    if remaining > 0.001:
        time.sleep(remaining - 0.0005)
    while time.monotonic() < deadline:
        pass


def run_signals(
    scenario: WriteScenario, base: Path, trials: int, rng: random.Random, *, calibrations: int = 8
) -> Tally:
    """Send SIGINT or SIGTERM (drawn) to *trials* writers of *scenario*, one
    at a time, at a random moment of the write: the write must land whole or
    not at all, the signal's own exception must surface (when it came before
    the return), and a living writer leaves nothing but what ``clean`` may
    remove.  ``where`` counts where the writer was when the signal was sent."""
    tally = Tally(scenario.name, "SIGINT/SIGTERM")
    started = time.monotonic()
    base.mkdir(parents=True, exist_ok=True)
    states = expected_states(scenario, base / "expected")
    # The first unharmed write warms up: left out of the spans.
    spans = _Spans(calibrate(scenario, base, states, calibrations + 1, tally)[1:])
    progress = Progress(1)
    index = -1
    while tally.trials < trials:
        index += 1
        root = base / f"s{index}"
        root.mkdir()
        scenario.prepare(root)
        progress.reset(0)
        if index % CONTROL_EVERY == CONTROL_EVERY - 1:  # a control: the spans follow the load
            spans.add(_control(scenario, root, states, progress, tally, f"control {index}"))
            continue
        signum = rng.choice((signal.SIGINT, signal.SIGTERM))
        delay = spans.timing().draw(rng)
        read_end, write_end = os.pipe()
        pid = fork(_signal_child, scenario, root, states, progress, signum, write_end)
        os.close(write_end)
        where = "?"
        sent = float("inf")
        try:
            ready = os.read(read_end, 1)
            if ready == b"r":
                _wait_until(time.monotonic() + delay)
                where = progress.read(0).where
                os.kill(pid, signum)
                sent = time.monotonic()
            reported = read_to_eof(read_end)
        finally:
            os.close(read_end)
            _, status = os.waitpid(pid, 0)
        tally.trials += 1
        tally.where[where] += 1
        name = signal.Signals(signum).name
        try:
            code = os.waitstatus_to_exitcode(status)
            if ready != b"r" or code != 0:
                raise CommitPointViolation(f"writer exited {code} before reporting")
            report = json.loads(reported)
            if report["problems"]:
                raise CommitPointViolation("; ".join(report["problems"]))
            returned_at = progress.read(0).t_return
            if report["in_write"]:
                tally.raised += 1
            elif returned_at > sent + SIGNAL_LATE_S:
                raise CommitPointViolation(
                    f"signal sent {(returned_at - sent) * 1e3:.2f} ms before the write "
                    "returned; its exception came after"
                )
            tally.cleaned += report.get("cleaned", 0)
            # The writer gone: clean leaves the same state, a fresh import sees it.
            after, _ = clean_after_kill(states, root)
            if after != report["state"]:
                raise CommitPointViolation(f"state {after} after clean, {report['state']} before")
            verify_import(root, scenario.versions[after])
            tally.outcome[outcome(scenario, after)] += 1
        except Exception as exc:
            tally.violation(
                f"{scenario.name}: {name} trial {index} (delay {delay * 1e3:.3f} ms, {where}): "
                f"{exc!r}"
            )
        shutil.rmtree(root, ignore_errors=True)
    tally.seconds = time.monotonic() - started
    return tally
