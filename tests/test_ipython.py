"""The IPython extension, in a real IPython shell (``InteractiveShell``) run
in a child process with bytecode writing on (proven by the pyc the import
writes), and no sleeps: the same-second edits are made certain by putting
the file's mtime back."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import child_env

PRELUDE = """
import importlib.util, os, sys
from IPython.core.interactiveshell import InteractiveShell

assert not sys.dont_write_bytecode
root = sys.argv[1]
sys.path.insert(0, root)
shell = InteractiveShell.instance()


def cell(source):
    result = shell.run_cell(source)
    if result.error_before_exec or result.error_in_exec:
        raise SystemExit(f"cell failed: {source!r}")
    return result.result


def write(name, text, like=None):
    path = os.path.join(root, name + ".py")
    with open(path, "w") as f:
        f.write(text)
    if like is not None:
        os.utime(path, ns=(like.st_atime_ns, like.st_mtime_ns))
    return os.stat(path)


cell("%load_ext modwrite.ipython")
cell("%load_ext modwrite.ipython")  # twice: registered once
"""


def _run(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    root = tmp_path / "root"
    root.mkdir()
    program = PRELUDE + textwrap.dedent(script)
    result = subprocess.run(
        [sys.executable, "-c", program, str(root)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_auto_mode_sees_a_same_size_same_second_edit(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        """
        first = write("edited", "X = 1\\n")
        cell("%autoreimport on")
        cell("import edited")
        edited_path = os.path.join(root, "edited.py")
        assert os.path.exists(importlib.util.cache_from_source(edited_path))
        write("edited", "X = 2\\n", like=first)
        assert os.stat(edited_path).st_mtime_ns == first.st_mtime_ns
        assert cell("edited.X") == 2
        assert cell("edited.X") == 2
        """,
    )
    assert result.stdout.count("modwrite: reloaded edited") == 1


def test_reimport_and_a_failure_then_its_fix(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        """
        first = write("broken", "X = 1\\n")
        cell("import broken")
        write("broken", "X = (\\n")
        cell("%autoreimport on")
        assert cell("broken.X") == 1
        assert cell("broken.X") == 1
        write("broken", "X = 3\\n", like=first)
        assert cell("broken.X") == 3
        cell("%autoreimport off")  # (its own pre_run_cell still ran in auto mode)
        write("broken", "X = 4\\n", like=first)
        assert cell("broken.X") == 3
        cell("%reimport broken")
        assert cell("broken.X") == 4
        cell("%reimport not_imported_anywhere")
        """,
    )
    assert result.stderr.count("kept its old version") == 1
    assert "'not_imported_anywhere' is not imported" in result.stderr


def test_update_mode_updates_old_objects_without_a_heap_scan(tmp_path: Path) -> None:
    _run(
        tmp_path,
        """
        import gc
        def refuse(*args):
            raise AssertionError("gc.get_referrers called")
        gc.get_referrers = refuse
        write("shapes", "class Shape:\\n    def area(self):\\n        return 1\\n"
              "def scale():\\n    return 10\\n")
        cell("from shapes import Shape, scale")
        cell("s = Shape()")
        cell("%autoreimport update")
        write("shapes", "class Shape:\\n    def area(self):\\n        return 2\\n"
              "def scale():\\n    return 20\\n")
        new_shape = "__import__('shapes').Shape"
        assert cell(f"s.area(), scale(), isinstance(s, {new_shape})") == (2, 20, True)
        """,
    )
