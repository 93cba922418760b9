"""Child interpreters the tests start: their environment, and how one
driven over a pipe is ended."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """Environment for a child interpreter: bytecode writing on (this
    machine sets ``PYTHONDONTWRITEBYTECODE``), modwrite (this checkout's
    ``src``) and the tests importable."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT / "src"), str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def reap(process: subprocess.Popen[str]) -> None:
    """End *process*: close its stdin (it exits), wait at most 10 s, then
    kill it; close its stdout."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()
