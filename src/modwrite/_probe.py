"""``modwrite probe``: measure a directory's hazards, and modwrite against them.

Each check runs in a fresh interpreter (``sys.executable``) with bytecode
writing forced on (``PYTHONDONTWRITEBYTECODE`` removed; the child reports
``sys.dont_write_bytecode`` so the report proves it), in a scratch directory
under the probed one that is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ._tempnames import temporary_name

__all__ = ["ProbeReport", "measure_tick", "probe"]

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Shared by both checks: argv is (scratch directory, trials); {setup} imports
# modwrite where the check uses it.
_PRELUDE = """
import importlib, importlib.util, os, sys, time
def put(path, text):
    with open(path, "w") as f:
        f.write(text)
{setup}
d = sys.argv[1]; n = int(sys.argv[2])
sys.path.insert(0, d)
"""

# Write m<i>.py (plainly or through modwrite) and import it at once.
_DIRECTORY_RACE = (
    _PRELUDE
    + """
put(os.path.join(d, "warm.py"), "")
importlib.invalidate_caches()
import warm
misses = 0
t0 = time.perf_counter()
for i in range(n):
    name = "m%d" % i
    {write}
    try:
        importlib.import_module(name)
    except ImportError:
        misses += 1
print(misses, (time.perf_counter() - t0) / n, sys.dont_write_bytecode)
"""
)

# A same-size rewrite in the same second, then reload().
_STALE_BYTECODE = (
    _PRELUDE
    + """
stale = trials = attempt = 0
t0 = time.perf_counter()
while trials < n:
    attempt += 1
    name = "b%d" % attempt
    path = os.path.join(d, name + ".py")
    {write_v1}
    importlib.invalidate_caches()
    mod = importlib.import_module(name)
    first = int(os.stat(path).st_mtime)
    {write_v2}
    if int(os.stat(path).st_mtime) != first and {require_same_second}:
        continue  # the second rolled over: not a same-second rewrite
    assert os.path.exists(importlib.util.cache_from_source(path)), "no pyc was written"
    importlib.reload(mod)
    stale += mod.X == 1
    trials += 1
print(stale, (time.perf_counter() - t0) / n, sys.dont_write_bytecode)
"""
)

_MODWRITE_SETUP = "import modwrite, warnings; warnings.simplefilter('ignore')"


@dataclass
class Check:
    """One measured loop: how many of *trials* failed, and the mean time of
    one iteration in seconds."""

    trials: int
    failures: int
    seconds_per_trial: float
    bytecode_writing_on: bool


@dataclass
class ProbeReport:
    """What ``modwrite probe`` measured (all times in seconds)."""

    directory: str
    tick_ns: int
    dir_mtime_follows_entries: bool
    plain_import_misses: Check
    plain_stale_bytecode: Check
    modwrite_import_misses: Check
    modwrite_process_import_misses: Check
    modwrite_stale_bytecode: Check
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def measure_tick(directory: str, *, budget: float = 6.0) -> int:
    """The filesystem's timestamp tick in nanoseconds, measured in *directory*.

    Reads the filesystem clock (``os.utime`` + ``os.stat`` on a scratch file)
    until it has changed twice and returns the smallest step seen; gives up
    after *budget* seconds and returns the budget (a clock that did not move).
    """
    probe = os.path.join(directory, temporary_name("probe"))
    with open(probe, "xb"):
        pass
    try:
        readings: list[int] = []
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            os.utime(probe)
            reading = os.stat(probe).st_mtime_ns
            if not readings or reading != readings[-1]:
                readings.append(reading)
                if len(readings) == 3:
                    break
            time.sleep(0.0005)
        steps = [b - a for a, b in zip(readings, readings[1:])]
        return min(steps[1:] or steps) if steps else int(budget * 1e9)
    finally:
        os.unlink(probe)


def _dir_mtime_follows_entries(directory: str) -> bool:
    scratch = os.path.join(directory, temporary_name("probe"))
    os.mkdir(scratch)
    try:
        inner_before = os.stat(scratch).st_mtime_ns
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            name = os.path.join(scratch, "x")
            with open(name, "w"):
                pass
            os.unlink(name)
            if os.stat(scratch).st_mtime_ns != inner_before:
                return True
            time.sleep(0.05)
        return False
    finally:
        shutil.rmtree(scratch)


def _run(script: str, directory: str, trials: int) -> Check:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p
    )
    scratch = os.path.join(directory, temporary_name("probe"))
    os.mkdir(scratch)
    try:
        out = subprocess.run(
            [sys.executable, "-c", script, scratch, str(trials)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        ).stdout.split()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Check(trials, int(out[0]), float(out[1]), out[2] == "False")


#: The steps of :func:`probe`, in order, as its *progress* callback names them.
STEPS = (
    "timestamp tick",
    "directory mtime follows its entries",
    "plain write, then import",
    "plain same-size rewrite in the same second, then import",
    "write_module(), then import",
    "write_module(visibility='process'), then import",
    "write_module() same-size rewrite, then import",
)


def probe(
    directory: str,
    *,
    trials: int = 50,
    progress: Callable[[int, str, float | None], object] | None = None,
) -> ProbeReport:
    """Run every check of ``modwrite probe`` in *directory*.

    :param trials: iterations of each of the five import checks.
    :param progress: called as ``progress(step, name, seconds)`` when each of
        the :data:`STEPS` starts (``seconds`` is ``None``; *step* counts from
        1) and when it ends (the seconds it took).
    :raises OSError: *directory* is missing or not writable.
    :raises subprocess.CalledProcessError: a check's interpreter failed.
    """
    directory = os.path.abspath(directory)
    plain_write = 'put(os.path.join(d, name + ".py"), "X = %d\\n" % i)'
    mw_write = 'modwrite.write_module(name, "X = %d\\n" % i, root=d)'
    mw_process = 'modwrite.write_module(name, "X = %d\\n" % i, root=d, visibility="process")'
    v1_plain = 'put(path, "X = 1\\n")'
    v2_plain = 'put(path, "X = 2\\n")'
    races = {
        key: textwrap.dedent(_DIRECTORY_RACE).format(setup=setup, write=write)
        for key, setup, write in (
            ("plain", "", plain_write),
            ("system", _MODWRITE_SETUP, mw_write),
            ("process", _MODWRITE_SETUP, mw_process),
        )
    }
    stale = {
        key: textwrap.dedent(_STALE_BYTECODE).format(
            setup=setup, write_v1=v1, write_v2=v2, require_same_second=same
        )
        for key, setup, v1, v2, same in (
            ("plain", "", v1_plain, v2_plain, "True"),
            (
                "modwrite",
                _MODWRITE_SETUP,
                'modwrite.write_module(name, "X = 1\\n", root=d, visibility="process")',
                'modwrite.write_module(name, "X = 2\\n", root=d, visibility="process")',
                "False",
            ),
        )
    }
    steps = iter(range(1, len(STEPS) + 1))

    def step(run: Callable[[], Any]) -> Any:
        number = next(steps)
        if progress is not None:
            progress(number, STEPS[number - 1], None)
        started = time.monotonic()
        result = run()
        if progress is not None:
            progress(number, STEPS[number - 1], time.monotonic() - started)
        return result

    report = ProbeReport(
        directory=directory,
        tick_ns=step(lambda: measure_tick(directory)),
        dir_mtime_follows_entries=step(lambda: _dir_mtime_follows_entries(directory)),
        plain_import_misses=step(lambda: _run(races["plain"], directory, trials)),
        plain_stale_bytecode=step(lambda: _run(stale["plain"], directory, trials)),
        modwrite_import_misses=step(lambda: _run(races["system"], directory, trials)),
        modwrite_process_import_misses=step(lambda: _run(races["process"], directory, trials)),
        modwrite_stale_bytecode=step(lambda: _run(stale["modwrite"], directory, trials)),
    )
    if not report.dir_mtime_follows_entries:
        report.notes.append(
            "directory mtimes do not move when entries change: stock finders never "
            "see new modules without importlib.invalidate_caches()"
        )
    return report


def format_report(report: ProbeReport) -> str:
    """The plain-text report ``modwrite probe`` prints."""

    def line(label: str, check: Check, what: str) -> str:
        return (
            f"  {label:<44} {check.failures:>4} of {check.trials} {what}"
            f"   ({check.seconds_per_trial * 1e3:8.3f} ms each)"
        )

    tick = report.tick_ns
    tick_text = f"{tick / 1e9:g} s" if tick >= 10**8 else f"{tick / 1e6:g} ms"
    out = [
        f"modwrite probe: {report.directory}",
        f"  filesystem clock step (timestamp tick)       {tick_text}",
        f"  directory mtime follows new entries          "
        f"{'yes' if report.dir_mtime_follows_entries else 'NO'}",
        "plain writes (open + write), stock import system, bytecode writing on:",
        line("write then import: import missed the module", report.plain_import_misses, "missed"),
        line(
            "same-size same-second rewrite: stale code ran", report.plain_stale_bytecode, "stale"
        ),
        "modwrite writes:",
        line("write_module() then import: missed", report.modwrite_import_misses, "missed"),
        line(
            "write_module(visibility='process'): missed",
            report.modwrite_process_import_misses,
            "missed",
        ),
        line(
            "same-size same-second rewrite: stale code ran",
            report.modwrite_stale_bytecode,
            "stale",
        ),
    ]
    checks = (
        report.plain_import_misses,
        report.plain_stale_bytecode,
        report.modwrite_import_misses,
        report.modwrite_stale_bytecode,
    )
    if not all(c.bytecode_writing_on for c in checks):  # pragma: no cover - defensive
        out.append("  WARNING: bytecode writing was off in a check")
    out.extend(f"note: {n}" for n in report.notes)
    return "\n".join(out)


def as_dict(report: ProbeReport) -> dict[str, Any]:
    """The report as plain data (the ``--json`` output)."""
    return asdict(report)
