"""write_package(): a package lands whole and replaces the old one whole (G4)."""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from pathlib import Path, PurePosixPath
from unittest import mock

import pytest

import modwrite
from modwrite import _write

from .conftest import leftovers
from .faults import no_exchange


def test_files_mapping_forms(root: Path, unique_name: str) -> None:
    path = modwrite.write_package(
        unique_name,
        {
            "__init__": "A = 1\n",
            "sub.mod": "B = 2\n",
            "other/__init__.py": "",
            "other/data.json": b'{"k": 1}',
            PurePosixPath("other/x.py"): "C = 3\n",
            "nested": {"__init__": "", "deep": {"leaf.py": "D = 4\n"}},
        },
        root=root,
    )
    assert path == root / unique_name
    assert importlib.import_module(unique_name).A == 1
    assert importlib.import_module(f"{unique_name}.sub.mod").B == 2
    assert importlib.import_module(f"{unique_name}.other.x").C == 3
    assert importlib.import_module(f"{unique_name}.nested.deep.leaf").D == 4
    assert (path / "other" / "data.json").read_bytes() == b'{"k": 1}'
    assert leftovers(root) == []


def test_missing_init_is_added(root: Path, unique_name: str) -> None:
    path = modwrite.write_package(unique_name, {"mod": "X = 1\n"}, root=root)
    assert (path / "__init__.py").read_bytes() == b""
    assert importlib.import_module(unique_name).__file__ == str(path / "__init__.py")


def test_replacement_is_whole_and_old_files_are_gone(root: Path, unique_name: str) -> None:
    modwrite.write_package(
        unique_name, {"__init__": "V = 1\n", "old": "", "d/x.txt": "x"}, root=root
    )
    pkg = importlib.import_module(unique_name)
    importlib.import_module(f"{unique_name}.old")
    modwrite.write_package(unique_name, {"__init__": "V = 2\n", "new": ""}, root=root)
    assert importlib.reload(pkg).V == 2
    assert sorted(p.name for p in (root / unique_name).iterdir() if p.name != "__pycache__") == [
        "__init__.py",
        "new.py",
    ]
    sys.modules.pop(f"{unique_name}.old")
    with pytest.raises(ImportError):
        importlib.import_module(f"{unique_name}.old")
    importlib.import_module(f"{unique_name}.new")
    assert leftovers(root) == []


def test_readers_see_one_whole_version(root: Path, unique_name: str) -> None:
    """[package replaced whole] two files that must agree are never seen mixed."""

    def version(i: int) -> dict[str, str]:
        return {"__init__": "", "a.py": f"V = {i}\n", "b.py": f"V = {i}\n"}

    modwrite.write_package(unique_name, version(0), root=root)
    mixed: list[tuple[str, str]] = []
    missing = compared = 0
    done = threading.Event()
    target = str(root / unique_name)

    def read(directory_fd: int, name: str) -> str:
        with open(name, opener=lambda p, f: os.open(p, f, dir_fd=directory_fd)) as f:
            return f.read()

    def reader() -> None:
        nonlocal missing, compared
        while not done.is_set():
            try:
                directory_fd = os.open(target, os.O_RDONLY)
            except FileNotFoundError:
                missing += 1
                continue
            try:
                a, b = read(directory_fd, "a.py"), read(directory_fd, "b.py")
            except FileNotFoundError:
                continue  # this tree was replaced and deleted meanwhile
            finally:
                os.close(directory_fd)
            # The stamp rule may pad one file and move the other's mtime
            # instead: trailing newlines are not part of the version.
            compared += 1
            if a.rstrip("\n") != b.rstrip("\n"):
                mixed.append((a, b))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1, 60):
            modwrite.write_package(unique_name, version(i), root=root, visibility="process")
    finally:
        done.set()
        thread.join()
    assert compared > 0, "the reader never read a whole tree: the check proved nothing"
    assert mixed == []
    assert missing == 0  # RENAME_EXCHANGE: the package path never disappears


def test_fallback_without_exchange_still_replaces(root: Path, unique_name: str) -> None:
    modwrite.write_package(unique_name, {"__init__": "V = 1\n"}, root=root)
    with no_exchange():
        modwrite.write_package(unique_name, {"__init__": "V = 2\n"}, root=root)
    assert importlib.import_module(unique_name).V == 2
    assert leftovers(root) == []


def test_finders_of_old_and_new_directories_are_invalidated(root: Path, unique_name: str) -> None:
    modwrite.write_package(
        unique_name, {"__init__": "", "sub/__init__.py": "", "sub/a.py": ""}, root=root
    )
    importlib.import_module(f"{unique_name}.sub.a")
    modwrite.write_package(
        unique_name, {"__init__": "", "sub/__init__.py": "", "sub/b.py": "B = 1\n"}, root=root
    )
    assert importlib.import_module(f"{unique_name}.sub.b").B == 1


@pytest.mark.parametrize(
    ("files", "match"),
    [
        pytest.param({"a": "", "a.py": ""}, "twice", id="duplicate"),
        pytest.param({"a.py": "", "a.py/b.py": ""}, "both a file and a directory", id="file-dir"),
        pytest.param({"/abs.py": ""}, "relative", id="absolute"),
        pytest.param({"../up.py": ""}, "relative", id="parent"),
        pytest.param({"x/../../y.py": ""}, "relative", id="inner-parent"),
    ],
)
def test_clashing_or_escaping_entries_are_refused(root: Path, files: dict, match: str) -> None:
    with pytest.raises(modwrite.InvalidArgument, match=match):
        modwrite.write_package("pkg", files, root=root)
    assert list(root.iterdir()) == []


def test_invalid_module_keys_and_contents_are_refused(root: Path) -> None:
    with pytest.raises(modwrite.InvalidModuleName):
        modwrite.write_package("pkg", {"not-valid": ""}, root=root)
    with pytest.raises(modwrite.ModuleSyntaxError) as info:
        modwrite.write_package("pkg", {"sub.bad": "def f(:\n"}, root=root)
    assert info.value.module == "pkg.sub.bad"
    with pytest.raises(modwrite.ArgumentTypeError):
        modwrite.write_package("pkg", {"data.bin": 3}, root=root)  # type: ignore[dict-item]
    with pytest.raises(modwrite.ArgumentTypeError):
        modwrite.write_package("pkg", ["__init__"], root=root)  # type: ignore[arg-type]
    with pytest.raises(modwrite.ArgumentTypeError):
        modwrite.write_package("pkg", {3: ""}, root=root)  # type: ignore[dict-item]
    assert list(root.iterdir()) == []


def test_conflicts(root: Path) -> None:
    (root / "mod.py").write_text("")
    with pytest.raises(modwrite.ModuleConflictError, match="module file"):
        modwrite.write_package("mod", {}, root=root)
    (root / "afile").write_text("")
    with pytest.raises(modwrite.ModuleConflictError, match="not a directory"):
        modwrite.write_package("afile", {}, root=root)
    assert sorted(p.name for p in root.iterdir()) == ["afile", "mod.py"]


def test_subpackage_with_parents(root: Path, unique_name: str) -> None:
    modwrite.write_package(
        f"{unique_name}.inner", {"__init__": "I = 1\n"}, root=root, parents=True
    )
    assert importlib.import_module(f"{unique_name}.inner").I == 1


def test_stamp_rule_applies_to_each_file(root: Path, unique_name: str) -> None:
    from modwrite._stamp import stamp_of

    first = modwrite.write_package(unique_name, {"__init__": "V = 1\n"}, root=root)
    before = stamp_of((first / "__init__.py").stat())
    modwrite.write_package(unique_name, {"__init__": "V = 2\n"}, root=root)
    assert stamp_of((first / "__init__.py").stat()) > before


def test_data_files_stay_byte_exact_over_fast_rewrites(root: Path, unique_name: str) -> None:
    payload = bytes(range(16))
    for _ in range(6):
        path = modwrite.write_package(
            unique_name, {"__init__": "", PurePosixPath("data.bin"): payload}, root=root
        )
    assert (path / "data.bin").read_bytes() == payload


def test_a_source_dropped_then_readded_gets_a_fresh_stamp(root: Path, unique_name: str) -> None:
    """[dropped and re-added] a pyc of the first version kept under
    sys.pycache_prefix must not match the re-added one."""
    from modwrite._stamp import stamp_of

    first = modwrite.write_package(unique_name, {"__init__": "", "a": "V = 1\n"}, root=root)
    stamp_v1 = stamp_of((first / "a.py").stat())
    modwrite.write_package(unique_name, {"__init__": ""}, root=root)
    modwrite.write_package(unique_name, {"__init__": "", "a": "V = 2\n"}, root=root)
    assert stamp_of((first / "a.py").stat()) > stamp_v1


def test_old_directory_mtimes_are_floors_of_the_settle(root: Path, unique_name: str) -> None:
    """[package replaced] stock finders cached the *old* directories' mtimes
    for these paths: the new ones must end past those too."""
    from modwrite import _settle

    target = modwrite.write_package(
        unique_name, {"__init__": "", "sub/__init__.py": ""}, root=root
    )
    future = (int(time.time()) + 30) * 10**9
    os.utime(target / "sub", ns=(future, future))
    with mock.patch.object(_settle, "settle", wraps=_settle.settle) as settle:
        modwrite.write_package(unique_name, {"__init__": "", "sub/__init__.py": ""}, root=root)
    floors = settle.call_args.kwargs["floors"]
    assert floors[str(target / "sub")] == future / 1e9
    assert (target / "sub").stat().st_mtime > future / 1e9


def test_module_write_waiting_on_a_swapped_package_lands_in_the_new_one(
    root: Path, unique_name: str
) -> None:
    """[package swapped while waiting] the lock is re-taken on the directory
    the path names once locked."""
    from modwrite import _lock

    modwrite.write_package(unique_name, {"__init__": "", "old": ""}, root=root)
    real_flock = _lock.fcntl.flock
    swapped = []

    def flock(fd: int, op: int) -> None:
        if not swapped and op == _lock.fcntl.LOCK_EX:
            swapped.append(True)  # the package is replaced between open and lock
            modwrite.write_package(unique_name, {"__init__": "", "new": ""}, root=root)
        real_flock(fd, op)

    with mock.patch.object(_lock.fcntl, "flock", side_effect=flock):
        modwrite.write_module(f"{unique_name}.added", "A = 1\n", root=root)
    assert swapped
    entries = {p.name for p in (root / unique_name).iterdir()} - {"__pycache__"}  # bytecode on
    assert sorted(entries) == ["__init__.py", "added.py", "new.py"]


def test_clean_puts_back_a_parked_package(root: Path) -> None:
    """[crash between the fallback's two renames] the old package is parked
    under .modwrite-old and restored by clean, not deleted."""
    from modwrite import _cli

    parked = root / ".pkg.999999-abc.modwrite-old"
    parked.mkdir()
    (parked / "__init__.py").write_text("KEEP = 1\n")
    assert _cli.main(["clean", str(root), "--min-age", "0"]) == 0
    assert (root / "pkg" / "__init__.py").read_text() == "KEEP = 1\n"
    assert not parked.exists()


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("visibility", "everyone", modwrite.InvalidArgument),
        ("visibility_timeout", -1, modwrite.InvalidArgument),
        ("visibility_timeout", "1", modwrite.ArgumentTypeError),
    ],
)
def test_bad_input_keeps_the_old_package(
    root: Path, unique_name: str, option: str, value: object, error: type[Exception]
) -> None:
    """[G8] rejected before anything is written: the old tree stays whole."""
    modwrite.write_package(unique_name, {"__init__": "V = 1\n", "a": ""}, root=root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    with pytest.raises(error):
        modwrite.write_package(unique_name, {"__init__": "V = 2\n"}, root=root, **{option: value})
    with pytest.raises(modwrite.ModuleSyntaxError):
        modwrite.write_package(unique_name, {"__init__": "V = (\n"}, root=root)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert (root / unique_name / "__init__.py").read_text() == "V = 1\n"


def test_a_module_write_into_a_subpackage_being_replaced_lands_in_the_new_tree(
    root: Path,
) -> None:
    """[review] write_module("pkg.sub.m") racing write_package("pkg") landed
    in the old ``sub`` (only ``pkg``'s own lock was taken) and returned a
    path that no longer existed."""
    from .test_clean import _wait_until_blocked_on_a_lock

    modwrite.write_package("pkg", {"__init__": "", "sub": {"__init__.py": ""}}, root=root)
    staged, resume = threading.Event(), threading.Event()
    real_stage = _write.stage

    def stage_then_wait(*args: object, **kwargs: object) -> str:
        path = real_stage(*args, **kwargs)  # type: ignore[arg-type]
        staged.set()
        assert resume.wait(30)
        return path

    package = threading.Thread(
        target=modwrite.write_package,
        args=("pkg", {"__init__": "", "sub": {"__init__.py": "NEW = 1\n"}}),
        kwargs={"root": root, "visibility": "process"},
    )
    module = threading.Thread(
        target=modwrite.write_module,
        args=("pkg.sub.m", "M = 1\n"),
        kwargs={"root": root, "visibility": "process"},
    )
    with mock.patch.object(_write, "stage", side_effect=stage_then_wait):
        package.start()
        assert staged.wait(30)  # the package writer holds its locks
        module.start()
        while module.is_alive():
            try:
                _wait_until_blocked_on_a_lock(os.getpid(), timeout=0.2)
                break
            except AssertionError:
                continue
        resume.set()
        package.join(30)
        module.join(30)
    assert (root / "pkg" / "sub" / "__init__.py").read_text() == "NEW = 1\n"
    assert (root / "pkg" / "sub" / "m.py").read_text() == "M = 1\n"
