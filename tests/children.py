"""Child interpreters the tests start: their environment, and how one
driven over a pipe is ended."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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


class PipedChild:
    """A child interpreter, ``python -m module *args`` from the repository,
    driven over a pipe: one JSON object a line each way.  The first line it
    prints is its greeting (:attr:`hello`); if that never comes, or the
    constructor fails after the start, the process is reaped before the
    error goes on."""

    def __init__(self, name: str, module: str, *args: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=str(REPO_ROOT),
        )
        try:
            self.hello = self.answer()
        except BaseException:
            reap(self.process)
            raise

    def answer(self) -> Any:
        """The next line it printed, decoded."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} exited with status {self.process.wait()}")
        return json.loads(line)

    def send(self, command: dict[str, Any]) -> Any:
        """Send *command*; return its answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.answer()

    def close(self) -> None:
        """Reap the process (see :func:`reap`)."""
        reap(self.process)
