"""Child interpreters driven over a pipe by the tests: how one is ended."""

from __future__ import annotations

import subprocess


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
