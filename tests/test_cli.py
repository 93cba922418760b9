"""The command line: what a Makefile and a person can act on."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modwrite import _cli, _probe, _tempnames

from .conftest import child_env


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modwrite", *args],
        input=stdin.decode(),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_write_from_stdin_prints_the_path(root: Path) -> None:
    result = run("write", "gen.mod", "--root", str(root), "--parents", stdin=b"X = 1\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(root / "gen" / "mod.py")
    assert (root / "gen" / "mod.py").read_text() == "X = 1\n"


def test_write_from_a_file(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "src.py"
    source.write_text("Y = 2\n")
    assert (
        _cli.main(["write", "m", str(source), "--root", str(root), "--visibility", "process"]) == 0
    )
    assert (root / "m.py").read_text() == "Y = 2\n"


def test_package_lands_a_tree_without_caches(root: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "__pycache__").mkdir(parents=True)
    (tree / "__init__.py").write_text("A = 1\n")
    (tree / "sub" / "__init__.py").write_text("")
    (tree / "sub" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (tree / "sub" / "data.txt").write_text("d")
    (tree / "py.typed").write_text("")
    (tree / "README.md").write_text("# not python")
    assert _cli.main(["package", "gen", str(tree), "--root", str(root)]) == 0
    everything = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    # With bytecode writing on, modwrite writes its own caches of what it
    # landed; the tree's junk cache is never copied.
    caches = [p for p in everything if "__pycache__" in p]
    assert not any(p.endswith("x.cpython-311.pyc") for p in caches)
    for cache in caches:
        if cache.endswith(".pyc"):
            source = importlib.util.source_from_cache(str(root / cache))
            assert Path(source).exists()
    landed = [p for p in everything if "__pycache__" not in p]
    assert landed == [
        "gen",
        "gen/README.md",
        "gen/__init__.py",
        "gen/py.typed",
        "gen/sub",
        "gen/sub/__init__.py",
        "gen/sub/data.txt",
    ]


def test_probe_of_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = run("probe", str(tmp_path / "missing"))
    assert result.returncode == 2
    assert "is not a directory" in result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "status", "message"),
    [
        pytest.param(["write", "bad-name"], b"", 3, "invalid module name", id="name"),
        pytest.param(["write", "m"], b"x = = 1\n", 3, "invalid syntax", id="syntax"),
        pytest.param(["write", "m", "--visibility", "x"], b"", 2, "invalid choice", id="usage"),
        pytest.param(["write", "m", "/nonexistent/src.py"], b"", 2, "cannot read", id="no-file"),
        pytest.param(["write", "a.b"], b"", 5, "--parents", id="no-parent"),
    ],
)
def test_errors_have_exit_codes_and_messages(
    root: Path, args: list[str], stdin: bytes, status: int, message: str
) -> None:
    result = run(*args, "--root", str(root), stdin=stdin)
    assert result.returncode == status
    assert message in result.stderr
    assert list(root.iterdir()) == []


def test_conflict_exit_code(root: Path) -> None:
    (root / "m").mkdir()
    (root / "m" / "__init__.py").write_text("")
    result = run("write", "m", "--root", str(root), stdin=b"")
    assert result.returncode == 4
    assert "would shadow" in result.stderr


def test_missing_root_exit_code(tmp_path: Path) -> None:
    result = run("write", "m", "--root", str(tmp_path / "missing"), stdin=b"")
    assert result.returncode == 5
    assert "create_root" in result.stderr


def test_clean_removes_only_dead_writers_leftovers_of_modwrite_0_1(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    (tmp_path / "pkg").mkdir()
    stale_file = tmp_path / "pkg" / f".m.py.{dead_pid}-abcd{_tempnames.TEMP_MARKER}"
    stale_file.write_text("partial")
    stale_dir = tmp_path / f".pkg.{dead_pid}-beef{_tempnames.TEMP_MARKER}"
    (stale_dir / "sub").mkdir(parents=True)
    live = tmp_path / f".m.py.{os.getpid()}-cafe{_tempnames.TEMP_MARKER}"
    live.write_text("in progress")
    keep = tmp_path / "pkg" / "m.py"
    keep.write_text("")
    dry = run("clean", str(tmp_path), "--dry-run")
    assert dry.returncode == 0
    assert stale_file.exists() and stale_dir.exists()
    assert "would remove" in dry.stdout
    assert _cli.main(["clean", str(tmp_path)]) == 0
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and keep.exists()
    assert _cli.main(["clean", str(tmp_path), "--min-age", "0"]) == 0
    assert live.exists()  # a live writer's entry is never touched, however old


def test_probe_json_reports_both_bugs_and_modwrite(tmp_path: Path) -> None:
    result = run("probe", str(tmp_path), "--trials", "5", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["plain_stale_bytecode"]["failures"] == 5  # bug 2 reproduced
    assert report["plain_stale_bytecode"]["bytecode_writing_on"] is True
    assert report["modwrite_stale_bytecode"]["failures"] == 0
    assert report["modwrite_import_misses"]["failures"] == 0
    assert report["tick_ns"] > 0
    assert list(tmp_path.iterdir()) == []


def test_probe_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["probe", str(tmp_path), "--trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "same-size same-second rewrite" in out and "modwrite writes:" in out


def test_probe_shows_each_step_on_stderr_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["probe", str(tmp_path), "--quick", "--progress"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [line.split(" ...")[0] for line in lines] == [
        f"probe [{n}/7] {name}" for n, name in enumerate(_probe.STEPS, 1)
    ]
    assert all(line.endswith(" s") for line in lines)
    assert "10 of 10 stale" in captured.out  # --quick: 10 trials; bug 2 reproduced
    assert "probe [" not in captured.out


def test_probe_is_quiet_on_stderr_when_it_is_not_a_terminal(tmp_path: Path) -> None:
    result = run("probe", str(tmp_path), "--trials", "2")  # stderr is a pipe here
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "2 of 2 stale" in result.stdout


def test_help_for_every_command() -> None:
    for command in ("probe", "write", "package", "clean"):
        result = run(command, "--help")
        assert result.returncode == 0 and "usage: modwrite" in result.stdout


def test_console_script_entry_point() -> None:
    from importlib.metadata import entry_points

    scripts = (
        entry_points(group="console_scripts")
        if sys.version_info >= (3, 10)
        else entry_points()["console_scripts"]
    )  # type: ignore[index]
    assert any(e.name == "modwrite" and e.value == "modwrite._cli:main" for e in scripts)
