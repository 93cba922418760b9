"""``modwrite clean`` in a loop beside live writers, and writers dying.

Under one root, at the same time:

* live writers (forked), each writing its own module, package and a
  :func:`~modwrite.batch` of two modules in a subpackage, round after
  round, every write checked at once in the writer by an import of what it
  wrote (by content);  one writer's packages go through the exchange, the
  other's through the two-rename fallback;
* writers killed (SIGKILL) at random moments of their write, forked one
  after another by the parent, each writing a module or a package (fallback
  for every other one), so that the root always holds a dead writer's
  temporary files, staging trees, trash and parked packages;
* a cleaner (forked) running ``modwrite.clean`` on the root in a loop, the
  API and the CLI (``modwrite clean ROOT``) in turn.

Rules: no live writer's write fails or imports anything but what it wrote
(``clean`` never took a live writer's temporary entry or staging tree);
``clean`` reports no failure; at the end, after a last ``clean``, nothing is
left over, every live writer's last version stands, and each killed
writer's module or package is its old or its new version (a parked package
put back), all checked by a fresh import.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import select
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import modwrite
from modwrite import _clean, _cli

from ..faults import CommitPointViolation, leftovers
from .engine import fork, read_to_eof
from .progress import Progress, arm_kill, write_returns, write_starts
from .scenarios import (
    PREFIX,
    no_exchange,
    package_files,
    package_versions,
    source,
    verify_import,
)
from .tally import KEEP_MESSAGES, Tally

__all__ = ["run_clean_loop"]


def _writer_names(w: int) -> tuple[str, str, str]:
    return f"{PREFIX}w{w}_m", f"{PREFIX}w{w}_p", f"{PREFIX}w{w}_s"


def _live_writer(root: Path, w: int, rounds: int, out: int) -> int:
    """Write, round after round, and check each write by an import."""
    module, package, sub = _writer_names(w)
    problems: list[str] = []
    writes = failures = 0
    with no_exchange() if w % 2 else contextlib.nullcontext():
        for i in range(rounds):
            version = f"v{i}"
            kind = i % 3
            try:
                if kind == 0:
                    modwrite.write_module(module, source(module, version, 100 + 7 * i), root=root)
                    expected: dict[str, str | None] = {module: version}
                elif kind == 1:
                    odd = bool(i % 2)
                    modwrite.write_package(
                        package, package_files(package, version, odd), root=root
                    )
                    expected = package_versions(package, version, odd)
                else:
                    with modwrite.batch():
                        for leaf in ("a", "b"):
                            name = f"{sub}.{leaf}"
                            text = source(name, version, 50 + 11 * i)
                            modwrite.write_module(name, text, root=root, parents=True)
                    expected = {f"{sub}.a": version, f"{sub}.b": version}
                writes += 1
                verify_import(root, expected, keep_finders=True)
            except Exception as exc:
                failures += 1
                if len(problems) < KEEP_MESSAGES:  # the report fits the pipe's buffer
                    problems.append(f"writer {w} round {i}: {exc!r}")
    report = {"writes": writes, "failures": failures, "problems": problems}
    os.write(out, json.dumps(report).encode())
    return 0


def _cleaner(root: Path, stop: int, out: int, wrap: Callable[[], Any]) -> int:
    """``clean`` the root in a loop (the API, then the CLI) until *stop*
    becomes readable."""
    runs = removed = restored = 0
    failed: list[str] = []
    with wrap():
        while not select.select([stop], [], [], 0)[0]:
            if runs % 2:
                printed, errors = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
                    code = _cli.main(["clean", str(root)])
                if code != 0:
                    failed.append(f"modwrite clean exited {code}: {errors.getvalue()[-500:]}")
                lines = printed.getvalue().splitlines()
                removed += sum(line.startswith("removed ") for line in lines)
                restored += sum(line.startswith("restored ") for line in lines)
            else:
                try:
                    report = _clean.clean(root)
                except OSError as exc:
                    failed.append(f"clean raised {exc!r}")
                else:
                    removed += len(report.removed)
                    restored += len(report.restored)
                    failed.extend(f"{path}: {exc!r}" for path, exc in report.failed)
            runs += 1
            del failed[100:]
    report_json = {"runs": runs, "removed": removed, "restored": restored, "failed": failed}
    os.write(out, json.dumps(report_json).encode())
    return 0


def _dying_writer(
    root: Path, name: str, package: bool, fallback: bool, delay: float, progress: Progress
) -> int:
    progress.use(0)
    arm_kill(delay)
    write_starts()
    if package:
        with no_exchange() if fallback else contextlib.nullcontext():
            modwrite.write_package(name, package_files(name, "new", True), root=root)
    else:
        modwrite.write_module(name, source(name, "new", 1500), root=root)
    write_returns()
    while True:
        signal.pause()


def _read_all(fd: int) -> Any:
    """The JSON report read from the pipe *fd* (closed), ``None`` if empty."""
    reported = read_to_eof(fd)
    os.close(fd)
    return json.loads(reported or b"null")


def _kill_writers_while(
    live: dict[int, int], root: Path, rng: random.Random, tally: Tally
) -> tuple[list[Any], dict[str, bool]]:
    """Fork writers killed at random moments, one after another, as long as
    the *live* writers run; collect the live writers' reports as they end
    (``None``: a writer that ended without one).  Returns those and the
    killed writers' names (-> is a package)."""
    progress = Progress(1)
    dead: dict[str, bool] = {}  # name -> is a package
    reports: list[Any] = []
    dying = True
    while live:
        if dying:
            dying = _one_dying_writer(len(dead), root, rng, progress, dead, tally)
            ended = [pid for pid in live if os.waitpid(pid, os.WNOHANG)[0]]
        else:  # no more dying writers: wait for the live ones
            ended = [os.waitpid(next(iter(live)), 0)[0]]
        for pid in ended:
            reports.append(_read_all(live.pop(pid)))
    return reports, dead


def _one_dying_writer(
    index: int,
    root: Path,
    rng: random.Random,
    progress: Progress,
    dead: dict[str, bool],
    tally: Tally,
) -> bool:
    """Write the old version of a module or package, then fork a writer of
    the new one and kill it at a random moment.  Returns ``False`` (no
    more) when the old version could not be written."""
    package = index % 2 == 1
    name = f"{PREFIX}c{index}"
    try:
        if package:
            files = package_files(name, "old", False)
            modwrite.write_package(name, files, root=root, visibility="process")
        else:
            modwrite.write_module(name, source(name, "old", 100), root=root, visibility="process")
    except modwrite.ModwriteError as exc:
        tally.violation(f"writing the old {name} beside the cleaner: {exc!r}")
        return False
    dead[name] = package
    progress.reset(0)
    delay = rng.uniform(0.0, 0.015 if package else 0.004)
    fallback = index % 4 == 3
    pid = fork(_dying_writer, root, name, package, fallback, delay, progress)
    _, status = os.waitpid(pid, 0)
    tally.where[progress.read(0).where] += 1
    if os.waitstatus_to_exitcode(status) != -signal.SIGKILL:
        tally.violation(f"writer of {name} exited {os.waitstatus_to_exitcode(status)}")
    return True


def run_clean_loop(
    base: Path,
    rng: random.Random,
    *,
    writers: int = 2,
    rounds: int = 150,
    cleaner_wrap: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Tally:
    """Run the loop (see the module's docstring): *writers* live writers of
    *rounds* writes each, writers killed one after another as long as they
    run, one cleaner.  ``trials`` counts the live writers' writes; ``where``
    and ``outcome`` the killed writers'; ``cleaned`` what the cleaner (and
    the last ``clean``) removed or put back.  *cleaner_wrap* is a context
    the cleaner runs in (a test breaks ``clean`` with it)."""
    tally = Tally(f"clean beside {writers} writers", "clean loop")
    started = time.monotonic()
    root = base / "cleanloop"
    root.mkdir(parents=True)
    live: dict[int, int] = {}  # pid -> read end of its report
    for w in range(writers):
        read_end, write_end = os.pipe()
        live[fork(_live_writer, root, w, rounds, write_end)] = read_end
        os.close(write_end)
    stop_read, stop_write = os.pipe()
    clean_read, clean_write = os.pipe()
    cleaner = fork(_cleaner, root, stop_read, clean_write, cleaner_wrap)
    os.close(clean_write)
    os.close(stop_read)

    try:
        reports, dead = _kill_writers_while(live, root, rng, tally)
    finally:
        os.write(stop_write, b"s")  # (the cleaner holds a copy of stop_write: no EOF)
        os.close(stop_write)
        for pid in live:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    cleaned = _read_all(clean_read)
    os.waitpid(cleaner, 0)

    for report in filter(None, reports):
        tally.trials += report["writes"]
        for problem in report["problems"]:
            tally.violation(problem)
        for _ in range(report["failures"] - len(report["problems"])):
            tally.violation("(a live writer's failure beyond those it reported)")
    missing = writers - len(list(filter(None, reports)))
    if missing:
        tally.violation(f"{missing} live writers did not report")
    if cleaned is None:
        tally.violation("the cleaner did not report")
    else:
        tally.cleaned += cleaned["removed"] + cleaned["restored"]
        for failure in cleaned["failed"]:
            tally.violation(f"clean failed: {failure}")
    last = _clean.clean(root)
    tally.cleaned += len(last.removed) + len(last.restored)
    if last.failed or leftovers(root):
        tally.violation(f"the last clean: failed {last.failed}, left {leftovers(root)}")
    try:
        for w in range(writers):
            module, package_name, sub = _writer_names(w)
            final = {0: "", 1: "", 2: ""}
            for i in range(rounds):
                final[i % 3] = f"v{i}"
            verify_import(root, {module: final[0]})
            last_package = max(i for i in range(rounds) if i % 3 == 1)
            verify_import(root, package_versions(package_name, final[1], bool(last_package % 2)))
            verify_import(root, {f"{sub}.a": final[2], f"{sub}.b": final[2]})
    except CommitPointViolation as exc:
        tally.violation(f"a live writer's last version: {exc}")
    for name, package in dead.items():
        found = None
        for version, odd in (("old", False), ("new", True)):
            expected = package_versions(name, version, odd) if package else {name: version}
            try:
                verify_import(root, expected)
                found = version
                break
            except CommitPointViolation:
                continue
        if found is None:
            tally.violation(f"killed writer's {name} is neither old nor new")
        else:
            tally.outcome[found] += 1
    tally.seconds = time.monotonic() - started
    runs = cleaned["runs"] if cleaned else 0
    tally.note = f"{runs} clean runs, {len(dead)} writers killed"
    return tally
