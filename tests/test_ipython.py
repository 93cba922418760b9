"""[issue 8] The IPython extension (``%load_ext modwrite.ipython``), in a real
IPython shell: an :class:`~IPython.core.interactiveshell.InteractiveShell`
in a child process per test, its cells run one at a time while this process
edits the files between them, as an editor would.

The shells write bytecode (the child's environment drops
PYTHONDONTWRITEBYTECODE), and each test that relies on it proves it: the
pyc of the module exists.  Same-second edits are made certain by setting the
mtime back with ``os.utime``; no test sleeps.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import child_env

_SHELL = r"""
import contextlib, io, json, sys

sys.path.insert(0, sys.argv[1])
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell

config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
answers = sys.stdout
print(json.dumps(sys.dont_write_bytecode), file=answers, flush=True)
for line in sys.stdin:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = shell.run_cell(json.loads(line), store_history=True)
    error = result.error_before_exec or result.error_in_exec
    answer = {
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "error": type(error).__name__ if error is not None else None,
        "result": repr(result.result),
    }
    print(json.dumps(answer), file=answers, flush=True)
"""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

#: A whole-second mtime every version of a module is given: its edits are
#: same-second edits, whatever the clock did between them.
SECOND = 1_700_000_000


class Cell:
    """What one cell printed, raised (the exception's class name, or
    ``None``) and evaluated to (``repr``)."""

    def __init__(self, answer: dict[str, str | None]) -> None:
        self.stdout = _ANSI.sub("", answer["stdout"] or "")
        self.stderr = _ANSI.sub("", answer["stderr"] or "")
        self.error = answer["error"]
        self.result = answer["result"]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Shell:
    """An IPython shell in a child process, with *directory* first on its
    ``sys.path``."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        env["IPYTHONDIR"] = str(directory.parent / "ipythondir")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SHELL, str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=directory,
        )
        self.dont_write_bytecode = json.loads(self._line())

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the shell exited ({self.process.wait()})"
        return line

    def run(self, code: str) -> Cell:
        """Run *code* as the next cell."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(textwrap.dedent(code)) + "\n")
        self.process.stdin.flush()
        return Cell(json.loads(self._line()))

    def ok(self, code: str) -> Cell:
        """Run *code*; it must not fail."""
        cell = self.run(code)
        assert cell.error is None, cell.output
        return cell

    def close(self) -> None:
        """Reap the process: close stdin, bounded wait, then kill."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdout.close()


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    """A shell with the extension loaded that writes bytecode."""
    directory = tmp_path / "root"
    directory.mkdir()
    shell = Shell(directory, child_env())
    try:
        assert shell.dont_write_bytecode is False
        shell.ok("%load_ext modwrite.ipython")
        yield shell
    finally:
        shell.close()


def put(directory: Path, name: str, source: str) -> Path:
    """Write the module *name* in place, as ``open()`` does, with the mtime
    :data:`SECOND`; return its path."""
    path = directory / f"{name}.py"
    with open(path, "w") as f:
        f.write(textwrap.dedent(source))
    os.utime(path, (SECOND, SECOND))
    return path


def what_the_stock_loader_runs(path: Path) -> object:
    """``X`` as the stock loader would run *path* now: from its bytecode
    cache when the cache's stamp matches the file's mtime and size, as
    ``SourceFileLoader.get_code`` decides."""
    pyc = Path(importlib.util.cache_from_source(str(path)))
    assert pyc.exists(), "no .pyc: bytecode writing was off"
    data = pyc.read_bytes()
    st = path.stat()
    flags = int.from_bytes(data[4:8], "little")
    header = (int.from_bytes(data[8:12], "little"), int.from_bytes(data[12:16], "little"))
    if flags == 0 and header == (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF):
        code = marshal.loads(data[16:])
    else:
        code = compile(path.read_bytes(), str(path), "exec")
    namespace: dict[str, object] = {}
    exec(code, namespace)
    return namespace["X"]


def test_a_same_size_same_second_edit_is_seen_in_the_next_cell(shell: Shell) -> None:
    """[issue 8 proof] With the auto mode on, a same-size edit made between
    two cells within the second of the version that ran (the stale ``.pyc``
    matches it) runs in the next cell."""
    path = put(shell.directory, "mw_ip_edit", "X = 1\n")
    shell.ok("%autoreimport on")
    cell = shell.ok("import mw_ip_edit; mw_ip_edit.X")
    assert cell.result == "1"
    put(shell.directory, "mw_ip_edit", "X = 2\n")
    assert what_the_stock_loader_runs(path) == 1  # the stale pyc

    cell = shell.ok("mw_ip_edit.X")

    assert cell.result == "2"
    assert "modwrite: reloaded mw_ip_edit\n" in cell.stdout
    assert shell.ok("mw_ip_edit.X").stdout.count("reloaded") == 0  # once


def test_the_edit_is_seen_without_bytecode_too(tmp_path: Path) -> None:
    """With bytecode writing off, no cache tells what ran: the cell that
    imported the module learns it when it ends (``post_run_cell``), so an
    edit made before the next cell is still seen."""
    directory = tmp_path / "root"
    directory.mkdir()
    env = child_env()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    shell = Shell(directory, env)
    try:
        assert shell.dont_write_bytecode is True
        put(directory, "mw_ip_nopyc", "X = 1\n")
        shell.ok("%load_ext modwrite.ipython")
        shell.ok("%autoreimport on")
        shell.ok("import mw_ip_nopyc")
        put(directory, "mw_ip_nopyc", "X = 2\n")
        assert shell.ok("mw_ip_nopyc.X").result == "2"
    finally:
        shell.close()


def test_a_failing_edit_keeps_the_old_module_reports_once_then_the_fix_runs(
    shell: Shell,
) -> None:
    """A syntax error saved between cells: the old module stays, one report;
    its fix, same size and same second, runs in the next cell."""
    put(shell.directory, "mw_ip_fail", "X = 1\n")
    shell.ok("%autoreimport on")
    shell.ok("import mw_ip_fail")
    put(shell.directory, "mw_ip_fail", "X = (\n")

    broken = shell.ok("mw_ip_fail.X")
    again = shell.ok("mw_ip_fail.X")

    assert broken.result == again.result == "1"
    assert broken.stderr.count("modwrite: mw_ip_fail kept its old version: SyntaxError") == 1
    assert "Traceback" not in broken.output
    assert again.stderr == "" and "modwrite" not in again.stdout
    put(shell.directory, "mw_ip_fail", "X = 3\n")
    fixed = shell.ok("mw_ip_fail.X")
    assert fixed.result == "3"
    assert "modwrite: reloaded mw_ip_fail" in fixed.stdout


def test_a_module_raising_on_reload_is_reported_with_its_line(shell: Shell) -> None:
    put(shell.directory, "mw_ip_raise", "X = 1\n")
    shell.ok("%autoreimport on\nimport mw_ip_raise")
    put(shell.directory, "mw_ip_raise", "X = 1\n1 / 0\n")

    cell = shell.ok("mw_ip_raise.X")

    assert cell.result == "1"
    assert cell.stderr == (
        "modwrite: mw_ip_raise kept its old version: "
        "ZeroDivisionError: division by zero (mw_ip_raise.py:2)\n"
    )


def test_reimport_reloads_named_modules_now(shell: Shell) -> None:
    path = put(shell.directory, "mw_ip_named", "X = 1\n")
    shell.ok("import mw_ip_named, mw_ip_named as alias")
    put(shell.directory, "mw_ip_named", "X = 2\n")
    assert what_the_stock_loader_runs(path) == 1
    assert shell.ok("mw_ip_named.X").result == "1"  # no auto mode: nothing reloaded

    cell = shell.ok("%reimport mw_ip_named\nmw_ip_named.X")

    assert cell.result == "2"
    assert "modwrite" not in cell.output  # quiet when it works
    put(shell.directory, "mw_ip_named", "X = 3\n")
    assert shell.ok("%reimport alias\nmw_ip_named.X").result == "3"  # a name in the namespace
    put(shell.directory, "mw_ip_named", "X = 4\n")
    cell = shell.ok("%reimport\nmw_ip_named.X")  # no names: whatever changed
    assert cell.result == "4"
    assert "modwrite: reloaded mw_ip_named" in cell.stdout
    assert "modwrite: no module changed" in shell.ok("%reimport").stdout


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            "%reimport mw_ip_nowhere",
            "UsageError: no module named 'mw_ip_nowhere' is loaded (import it first)",
            id="unknown",
        ),
        pytest.param(
            "%reimport sys mw_ip_ok",
            "UsageError: module 'sys' is built-in, not loaded from a file; not reloaded: mw_ip_ok",
            id="built-in",
        ),
        pytest.param(
            "%reimport --fast mw_ip_ok",
            "UsageError: %reimport: unknown option '--fast' (-s, -u)",
            id="option",
        ),
        pytest.param(
            "%autoreimport sometimes",
            "UsageError: %autoreimport takes on, update or off, not 'sometimes'",
            id="mode",
        ),
    ],
)
def test_reimport_usage_errors_are_one_line(shell: Shell, line: str, message: str) -> None:
    """Errors of the caller's making: one line, no traceback."""
    put(shell.directory, "mw_ip_ok", "X = 1\n")
    shell.ok("import mw_ip_ok")

    cell = shell.run(line)

    assert cell.error == "UsageError"
    assert cell.output.strip() == message


def test_reimport_of_a_failing_module_shows_its_frames_not_modwrites(shell: Shell) -> None:
    """The module's own exception, with the module's frames only; the old
    version kept, and the names after it not reloaded."""
    put(shell.directory, "mw_ip_bad", "X = 1\n")
    put(shell.directory, "mw_ip_after", "Y = 1\n")
    shell.ok("import mw_ip_bad, mw_ip_after")
    put(shell.directory, "mw_ip_bad", "X = 2\ndef f():\n    return 1 / 0\nf()\n")
    put(shell.directory, "mw_ip_after", "Y = 2\n")

    cell = shell.run("%reimport mw_ip_bad mw_ip_after")

    assert cell.error == "ZeroDivisionError"
    assert cell.stderr == "modwrite: mw_ip_bad kept its old version; not reloaded: mw_ip_after\n"
    assert "mw_ip_bad.py:4" in cell.stdout and "mw_ip_bad.py:3" in cell.stdout
    assert "modwrite" + os.sep not in cell.stdout  # no frame of modwrite's
    assert "importlib" not in cell.stdout
    assert shell.ok("mw_ip_bad.X, mw_ip_after.Y").result == "(1, 1)"


def test_reimport_of_a_module_that_does_not_compile_shows_the_syntax_error(
    shell: Shell,
) -> None:
    path = put(shell.directory, "mw_ip_syntax", "X = 1\n")
    shell.ok("import mw_ip_syntax")
    put(shell.directory, "mw_ip_syntax", "X = (\n")

    cell = shell.run("%reimport mw_ip_syntax")

    assert cell.error is not None
    assert cell.stderr == "modwrite: mw_ip_syntax kept its old version\n"
    assert cell.stdout.startswith(f'  File "{path}", line 1\n    X = (\n')
    assert "\nSyntaxError: " in cell.stdout
    assert "Traceback" not in cell.stdout and "modwrite" + os.sep not in cell.stdout
    assert shell.ok("mw_ip_syntax.X").result == "1"


def test_update_mode_gives_the_new_code_to_old_objects(shell: Shell) -> None:
    """``%autoreimport update``: a function imported by name elsewhere and an
    instance of the old class run the new code; identities are kept; no heap
    scan (``gc.get_referrers`` raises)."""
    old = """\
        def f():
            return "f1"

        class C:
            def g(self):
                return "g1"

        def make():
            a = 1
            def closure():
                return a
            return closure

        h = make()
    """
    put(shell.directory, "mw_ip_upd", old)
    shell.ok("%autoreimport update")
    shell.ok(
        """\
        import gc
        def _no_heap_scan(*objects):
            raise AssertionError("gc.get_referrers was called")
        gc.get_referrers = _no_heap_scan
        import mw_ip_upd
        from mw_ip_upd import f, C, h
        c = C()
        g = c.g
        """
    )
    put(
        shell.directory,
        "mw_ip_upd",
        old.replace("1", "2").replace("a = 2", "b = 2").replace("return a", "return b"),
    )

    cell = shell.ok(
        "f(), c.g(), g(), h(), mw_ip_upd.f is f, mw_ip_upd.C is C, isinstance(c, mw_ip_upd.C)"
    )

    assert cell.result == "('f2', 'g2', 'g2', 1, True, True, True)"
    assert "Error in callback" not in cell.output
    assert "modwrite: reloaded mw_ip_upd\n" in cell.stdout
    assert cell.stderr == (
        "modwrite: mw_ip_upd.make.<locals>.closure not updated in place: "
        "a closure whose free variables changed\n"
    )
    assert shell.ok("mw_ip_upd.h()").result == "2"  # the module holds the new closure


def test_reimport_update_option(shell: Shell) -> None:
    put(shell.directory, "mw_ip_upd1", "def f():\n    return 1\n")
    shell.ok("from mw_ip_upd1 import f")
    put(shell.directory, "mw_ip_upd1", "def f():\n    return 2\n")

    assert shell.ok("%reimport -u mw_ip_upd1\nf()").result == "2"


def test_reimport_submodules(shell: Shell) -> None:
    package = shell.directory / "mw_ip_pkg"
    package.mkdir()
    put(package, "__init__", "from .sub import X\n")
    put(package, "sub", "X = 1\n")
    shell.ok("import mw_ip_pkg")
    put(package, "sub", "X = 2\n")

    assert shell.ok("%reimport -s mw_ip_pkg\nmw_ip_pkg.X, mw_ip_pkg.sub.X").result == "(2, 2)"


def test_loading_twice_registers_once_and_unloading_removes_everything(shell: Shell) -> None:
    count = (
        "len([c for c in get_ipython().events.callbacks['pre_run_cell'] if 'modwrite' in repr(c)])"
    )
    shell.ok("import modwrite.ipython\nmodwrite.ipython.load_ipython_extension(get_ipython())")
    shell.ok("%autoreimport on")
    shell.ok("%autoreimport update")
    assert shell.ok(count).result == "1"
    assert "already loaded" in shell.ok("%load_ext modwrite.ipython").stdout
    assert shell.ok("%autoreimport").stdout == "autoreimport: update\n"

    shell.ok("%unload_ext modwrite.ipython")
    assert shell.ok(count).result == "0"
    assert shell.run("%reimport").error == "UsageError"  # no such magic

    shell.ok("%load_ext modwrite.ipython")
    assert shell.ok("%autoreimport").stdout == "autoreimport: off\n"
    shell.ok("%reload_ext modwrite.ipython\n%autoreimport on")
    assert shell.ok(count).result == "1"


def test_importing_modwrite_does_not_import_ipython() -> None:
    code = (
        "import sys, modwrite, modwrite._update\n"
        "modwrite.reload_changed()\n"
        "assert 'IPython' not in sys.modules, 'IPython was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=child_env())
