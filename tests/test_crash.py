"""G4: a writer killed (SIGKILL) at any point leaves the old or the new
version, plus at most temporary entries that cannot be imported and that
``modwrite clean`` removes (or, for a parked package, puts back)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modwrite import _cli

from .conftest import child_env, leftovers

# The child lands a new version and kills itself (SIGKILL: no cleanup runs)
# at the named point; the patches only decide *where* it dies.
_CHILD = """
import os, signal, sys
from unittest import mock
import modwrite
from modwrite import _lock, _package, _write

root, point = sys.argv[1], sys.argv[2]
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
real_replace, real_rename = os.replace, os.rename
renames = []

def replace_then_die(*a, **k):
    real_replace(*a, **k)
    die()

def second_rename_dies(*a, **k):
    renames.append(a)
    if len(renames) == 2:
        die()
    return real_rename(*a, **k)

if point == "module-before-rename":
    mock.patch.object(_lock.LockedDirectory, "replace", side_effect=die).start()
elif point == "module-after-rename":
    mock.patch.object(_lock.os, "replace", side_effect=replace_then_die).start()
elif point == "package-before-swap":
    mock.patch.object(_write, "swap_in", side_effect=die).start()
elif point == "package-between-fallback-renames":
    mock.patch.object(_package, "exchange", return_value=False).start()
    mock.patch.object(_package.os, "rename", side_effect=second_rename_dies).start()
if point.startswith("module"):
    modwrite.write_module("m", "V = 'new'\\n", root=root)
else:
    modwrite.write_package("pkg", {"__init__": "V = 'new'\\n"}, root=root)
"""


@pytest.mark.parametrize(
    "point",
    [
        "module-before-rename",
        "module-after-rename",
        "package-before-swap",
        "package-between-fallback-renames",
    ],
)
def test_a_killed_writer_leaves_old_or_new_and_clean_tidies(root: Path, point: str) -> None:
    import modwrite

    modwrite.write_module("m", "V = 'old'\n", root=root)
    modwrite.write_package("pkg", {"__init__": "V = 'old'\n"}, root=root)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), point],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert _cli.main(["clean", str(root)]) == 0  # the writer's pid is dead
    assert leftovers(root) == []
    module = (root / "m.py").read_text()
    package = (root / "pkg" / "__init__.py").read_text()
    assert module in ("V = 'old'\n", "V = 'new'\n")
    assert package in ("V = 'old'\n", "V = 'new'\n")
    if point == "module-after-rename":
        assert module == "V = 'new'\n"
    if point == "package-between-fallback-renames":
        assert package == "V = 'old'\n"  # put back by clean
