"""The long part of modwrite's proof, in one command (issue 10): the suites
that try hardest to break the guarantees, at sizes CI has no time for.

    python3 tools/prove_long.py            # every step, under 20 minutes on 2 cores
    python3 tools/prove_long.py --list     # the steps and their commands
    python3 tools/prove_long.py load model # some steps only

Run it as root from a checkout whose ``.venv`` has the test extra
(``python3 -m venv .venv && .venv/bin/pip install -e '.[test]'``): the steps
mount ext4 images and tickfs (pyfuse3 in ``$MODWRITE_TICKFS_PYTHON``; when
it is not set, ``.ci/setup-fskit.sh`` is run to make it, as CI does).
Bytecode writing is on in every step (``PYTHONDONTWRITEBYTECODE`` is
dropped).  Each step's output goes to
``--logs`` (default: a new temporary directory); the summary gives each
step's time and status, and the exit status is 1 when a step failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
PYTEST = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


@dataclass
class Step:
    name: str
    what: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 600


STEPS = [
    Step(
        "load",
        "writer and reader processes, threads and asyncio tasks; 400 writes per writer",
        [*PYTEST, "tests/load"],
        {"MODWRITE_LOAD_WRITES": "400"},
    ),
    Step(
        "model",
        "the hypothesis state machine of two processes on the 1-second ext4, 30 examples",
        [
            *PYTEST,
            "tests/property/test_two_processes.py",
            "-k",
            "TestTwoProcesses",
            "--hypothesis-show-statistics",
            "-s",
        ],
        {"MODWRITE_MODEL_EXAMPLES": "30"},
    ),
    Step(
        "faults",
        "1000 SIGKILLs per scenario at random moments, SIGINT/SIGTERM, ENOSPC at every "
        "free-space level, clean beside live writers; every trial against the commit point",
        [PYTHON, "-m", "tests.faultsim"],
        timeout_s=900,
    ),
    Step(
        "netfs",
        "readers on a second host of two caching tickfs mounts: when they see a write",
        [PYTHON, "benchmarks/bench_netfs.py", "--trials", "6", "--cache", "1,3"],
    ),
]


def run(step: Step, logs: Path) -> tuple[int, float]:
    env = dict(os.environ, **step.env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.monotonic()
    with open(logs / f"{step.name}.log", "w") as log:
        log.write(f"$ {command_line(step)}\n")
        log.flush()
        try:
            status = subprocess.run(
                step.argv,
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=step.timeout_s,
            ).returncode
        except subprocess.TimeoutExpired:
            log.write(f"\n[timed out after {step.timeout_s:g} s]\n")
            status = -1
    return status, time.monotonic() - start


def command_line(step: Step) -> str:
    argv = [a.replace(PYTHON, ".venv/bin/python") for a in step.argv]
    return " ".join([*(f"{k}={v}" for k, v in step.env.items()), *argv])


def tail(path: Path, lines: int = 3) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def summary_rst(
    results: list[tuple[str, int, float]], elapsed: float, steps: dict[str, Step]
) -> str:
    """The summary as a reStructuredText table, with the machine."""
    import platform

    lines = [
        f"One run of ``python3 tools/prove_long.py`` (CPython {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d')}): {elapsed / 60:.1f} minutes.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Step",
        "     - Command",
        "     - Result",
        "     - Time",
    ]
    for name, status, seconds in results:
        lines += [
            f"   * - {name}: {steps[name].what}",
            f"     - ``{command_line(steps[name])}``",
            f"     - {'passed' if status == 0 else '**failed**'}",
            f"     - {seconds / 60:.1f} min",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("steps", nargs="*", help="run these steps only (default: all)")
    parser.add_argument("--list", action="store_true", help="print the steps and exit")
    parser.add_argument("--logs", type=Path, help="where the steps' output goes")
    parser.add_argument(
        "--rst", type=Path, help="also write the summary as a table (docs/results/long.rst)"
    )
    args = parser.parse_args()
    known = {step.name: step for step in STEPS}
    unknown = [name for name in args.steps if name not in known]
    if unknown:
        parser.error(f"no step {', '.join(unknown)}; the steps: {', '.join(known)}")
    if args.list:
        for step in STEPS:
            print(f"{step.name}: {step.what}\n    {command_line(step)}")
        return 0
    if not os.path.exists(PYTHON):
        parser.error(f"no {PYTHON}: make the venv first (see the docstring)")
    if not os.environ.get("MODWRITE_TICKFS_PYTHON"):
        made = subprocess.run(
            ["bash", str(REPO / ".ci" / "setup-fskit.sh")], capture_output=True, text=True
        )
        if made.returncode != 0:
            print(made.stderr, file=sys.stderr)
            return 1
        os.environ["MODWRITE_TICKFS_PYTHON"] = made.stdout.strip().splitlines()[-1]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="modwrite-long-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"logs in {logs}", flush=True)
    results = []
    total = time.monotonic()
    for step in [known[n] for n in args.steps] or STEPS:
        print(f"[{step.name}] {step.what}", flush=True)
        status, seconds = run(step, logs)
        results.append((step.name, status, seconds))
        print(f"[{step.name}] {'ok' if status == 0 else f'FAILED ({status})'} in {seconds:.0f} s")
        print("    " + tail(logs / f"{step.name}.log").replace("\n", "\n    "), flush=True)
    print(f"\n{'step':<10} {'status':<8} {'seconds':>8}")
    for name, status, seconds in results:
        print(f"{name:<10} {'ok' if status == 0 else 'FAILED':<8} {seconds:>8.0f}")
    elapsed = time.monotonic() - total
    print(f"{'total':<10} {'':<8} {elapsed:>8.0f}")
    if args.rst:
        args.rst.write_text(summary_rst(results, elapsed, known))
    return 0 if all(status == 0 for _, status, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
