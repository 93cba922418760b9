"""The commit point of every write: one regression test per defect found on
the failure paths (``test_sweep.py`` checks the rule at every call; these pin
the cases it found, each tagged with its item of issue 6).

The rule: before the commit point, any exception -- ``KeyboardInterrupt``
and ``SystemExit`` included -- leaves the disk as it was: no leftover, no new
parent package, the old tree in place.  After it, the new version stands and
no exception claims otherwise.
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import modwrite
from modwrite import _lock, _package

from . import faults
from .conftest import leftovers
from .faults import (
    Injection,
    call_index,
    count_calls,
    crash_between_the_fallback_renames,
    inject,
    open_fds,
    run_in_child,
    snapshot,
)


def _package_files(version: str) -> dict[str, object]:
    return {"__init__": f"V = {version!r}\n", "sub": {"m.py": f"M = {version!r}\n"}}


def _package_version(root: Path, name: str = "pkg") -> str:
    text = (root / name / "__init__.py").read_text()
    return text.split("=")[1].strip().strip("'")


def _old_package(root: Path) -> None:
    modwrite.write_package("pkg", _package_files("old"), root=root)


def _new_package(root: Path) -> None:
    modwrite.write_package("pkg", _package_files("new"), root=root)


def _old_module(root: Path) -> None:
    modwrite.write_module("m", "V = 'old'\n", root=root)


def _new_module(root: Path) -> None:
    modwrite.write_module("m", "V = 'new!'\n", root=root)


@pytest.fixture
def no_exchange() -> Iterator[None]:
    """The two-rename fallback of systems without RENAME_EXCHANGE."""
    with faults.no_exchange():
        yield


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """Where the calls of a write are counted (beside the test's root)."""
    return tmp_path / "scratch"


# -- item 2: a FileNotFoundError under the package lock ------------------------


def test_file_not_found_while_holding_the_package_lock_is_a_write_error(
    root: Path, scratch: Path
) -> None:
    """[issue 6.2] was ``RuntimeError: generator didn't stop after throw()``."""
    _old_package(root)
    calls = count_calls(scratch, _old_package, _new_package)
    with pytest.raises(modwrite.ModuleWriteError) as info:
        with inject(Injection("oserror", call_index(calls, "mkdir"), errno.ENOENT)):
            _new_package(root)
    assert info.value.errno == errno.ENOENT
    assert _package_version(root) == "old"
    assert leftovers(root) == []


# -- item 3: interrupted between the fallback's two renames --------------------


def test_interrupt_between_the_fallback_renames_keeps_the_package(
    root: Path, scratch: Path, no_exchange: None
) -> None:
    """[issue 6.3] the old package was renamed away and not put back while
    the writer lived."""
    _old_package(root)
    calls = count_calls(scratch, _old_package, _new_package)
    with pytest.raises(KeyboardInterrupt):
        with inject(Injection("signal", call_index(calls, "rename"))):
            _new_package(root)
    assert _package_version(root) in ("old", "new")
    assert leftovers(root) == []


# -- item 4: nothing left behind while the writer lives -------------------------


def test_interrupt_during_an_open_leaves_no_file_nor_descriptor(root: Path, scratch: Path) -> None:
    """[issue 6.4] a temporary file and its descriptor were left."""
    calls = count_calls(scratch, _old_module, _new_module)
    opens = [i for i, c in enumerate(calls) if c in ("open", "io.open")]
    assert opens
    for at in opens:
        run = root / str(at)
        run.mkdir()
        _old_module(run)
        gc.collect()
        fds = open_fds()
        with pytest.raises(KeyboardInterrupt):
            with inject(Injection("signal", at)):
                _new_module(run)
        gc.collect()
        assert open_fds() == fds, at
        assert leftovers(run) == [], at


def test_interrupt_right_after_the_staging_directory_is_made_leaves_nothing(
    root: Path, scratch: Path
) -> None:
    """[issue 6.4] an empty staging directory was left."""
    _old_package(root)
    calls = count_calls(scratch, _old_package, _new_package)
    with pytest.raises(KeyboardInterrupt):
        with inject(Injection("signal", call_index(calls, "mkdir"))):
            _new_package(root)
    assert leftovers(root) == []
    assert _package_version(root) in ("old", "new")


def test_interrupt_after_the_swap_leaves_no_old_tree_for_clean_to_skip(
    root: Path, scratch: Path
) -> None:
    """[issue 6.4] the swapped-out tree stayed under a temporary name, which
    ``clean`` skips while its writer lives."""
    _old_package(root)
    calls = count_calls(scratch, _old_package, _new_package)
    with pytest.raises(KeyboardInterrupt):
        with inject(Injection("signal", call_index(calls, "renameat2"))):
            _new_package(root)
    assert _package_version(root) == "new"
    modwrite.clean(root)  # the writer (this process) is alive
    assert leftovers(root) == []


def test_an_old_tree_that_cannot_be_removed_is_a_warning_and_clean_removes_it(
    root: Path,
) -> None:
    """[issue 6.4] an OSError after the swap left the old tree for an hour,
    and the write reported success without a word."""
    _old_package(root)
    real_unlink = os.unlink

    def unlink(path: object, *args: object, **kwargs: object) -> None:
        if kwargs.get("dir_fd") is not None:  # shutil.rmtree's
            raise PermissionError(errno.EACCES, "injected", path)
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(os, "unlink", side_effect=unlink):
        with pytest.warns(modwrite.PostCommitWarning, match="old tree"):
            _new_package(root)
    assert _package_version(root) == "new"
    assert leftovers(root) != []
    report = modwrite.clean(root)  # the writer (this process) lives on
    assert report.failed == []
    assert leftovers(root) == []


def test_a_package_that_was_a_symlink_leaves_no_link_behind(root: Path, tmp_path: Path) -> None:
    """[issue 6.4] the replaced symlink stayed under a temporary name."""
    real = tmp_path / "real_pkg"
    real.mkdir()
    (real / "__init__.py").write_text("V = 'linked'\n")
    (root / "pkg").symlink_to(real, target_is_directory=True)
    _new_package(root)
    assert not (root / "pkg").is_symlink()
    assert _package_version(root) == "new"
    assert leftovers(root) == []
    assert (real / "__init__.py").read_text() == "V = 'linked'\n"  # the target is untouched


# -- item 5: documented exception types ----------------------------------------


@pytest.mark.parametrize("where", ["root", "key"])
def test_nul_in_a_path_is_an_invalid_argument(root: Path, where: str) -> None:
    """[issue 6.5] gave a plain ValueError."""
    before = snapshot(root)
    with pytest.raises(modwrite.InvalidArgument):
        if where == "root":
            modwrite.write_module("m", "", root=f"{root}/a\0b")
        else:
            modwrite.write_package("pkg", {"a\0b/c.py": ""}, root=root)
    assert snapshot(root) == before


def test_failures_after_the_landing_are_not_raised(root: Path, scratch: Path) -> None:
    """[issue 6.5, 6.10] an OSError from a call after the rename (the
    directory ``stat``, the visibility wait, unlocking) escaped although the
    file had landed."""
    calls = count_calls(scratch, lambda r: None, _new_module)
    landed = call_index(calls, "replace")
    assert landed < len(calls) - 1
    for at in range(landed + 1, len(calls)):
        for leftover in [m for m in sys.modules if m == "m"]:
            del sys.modules[leftover]
        (root / "m.py").unlink(missing_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", modwrite.ModwriteWarning)
            with inject(Injection("oserror", at)):
                _new_module(root)
        assert importlib.import_module("m").V == "new!", calls[at]
        assert leftovers(root) == []


def test_failures_in_the_batch_exit_wait_are_not_raised(root: Path, scratch: Path) -> None:
    """[issue 6.5] an OSError from the directory ``stat`` at ``batch()``'s
    exit escaped although the files had landed."""

    def write(r: Path) -> None:
        with modwrite.batch():
            modwrite.write_module("m", "V = 1\n", root=r)

    calls = count_calls(scratch, lambda r: None, write)
    landed = call_index(calls, "replace")
    for at in range(landed + 1, len(calls)):
        (root / "m.py").unlink(missing_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", modwrite.ModwriteWarning)
            with inject(Injection("oserror", at)):
                write(root)
        assert (root / "m.py").read_text() == "V = 1\n"


def test_an_io_error_in_the_conflict_check_is_a_write_error_not_a_conflict(
    root: Path, scratch: Path
) -> None:
    """[issue 6, also] EIO from the conflict check read as a conflict."""
    _old_package(root)
    calls = count_calls(scratch, _old_package, _new_package)
    # The lookups of the conflict checks: up to the walk of the old package
    # (whose lstat os.walk makes itself, taking errors for "not a link").
    checks = [i for i, c in enumerate(calls[: call_index(calls, "scandir")]) if "stat" in c]
    assert len(checks) >= 5
    for at in checks:
        with pytest.raises(modwrite.ModuleWriteError) as info:
            with inject(Injection("oserror", at, errno.EIO)):
                _new_package(root)
        assert not isinstance(info.value, modwrite.ModuleConflictError), calls[at]
        assert info.value.errno == errno.EIO
        assert _package_version(root) == "old"


# -- item 6: parents=True writes nothing when it fails --------------------------


@pytest.mark.parametrize("what", ["module", "package"])
def test_a_failed_parents_write_leaves_no_parent(root: Path, what: str) -> None:
    """[issue 6.6] the new parent packages stayed behind."""
    too_long = "x" * 260
    with pytest.raises(modwrite.ModuleWriteError) as info:
        if what == "module":
            modwrite.write_module(f"a.b.{too_long}", "", root=root, parents=True)
        else:
            modwrite.write_package(f"a.b.{too_long}", {}, root=root, parents=True)
    assert info.value.errno == errno.ENAMETOOLONG
    assert list(root.iterdir()) == []


def test_disk_full_in_a_parents_write_leaves_no_parent(tiny_fs: Path) -> None:
    """[issue 6.6] ENOSPC on the module left the new parent packages."""
    big = "X = 1\n" + "#" * 200_000 + "\n"
    with pytest.raises(modwrite.ModuleWriteError) as info:
        modwrite.write_module("a.b.m", big, root=tiny_fs, parents=True)
    assert info.value.errno == errno.ENOSPC
    assert list(tiny_fs.iterdir()) == []


# -- item 10: an interrupt is not turned into a write error ---------------------


def test_interrupt_right_after_the_commit_rename_is_not_a_write_error(
    root: Path, scratch: Path, no_exchange: None
) -> None:
    """[issue 6.10] the handler tried to put the old tree back and raised
    "could not be put back" while the new package was in place."""
    _old_package(root)
    calls = count_calls(scratch, _old_package, _new_package)
    renames = [i for i, c in enumerate(calls) if c == "rename"]
    for at in renames:
        with pytest.raises(KeyboardInterrupt):
            with inject(Injection("signal", at)):
                modwrite.write_package("pkg", _package_files("newer"), root=root)
        assert _package_version(root) in ("old", "new", "newer")
        modwrite.clean(root)
        assert leftovers(root) == []


def test_the_temporary_files_descriptor_has_one_owner(root: Path) -> None:
    """[issue 6.10] the temporary file's descriptor was closed by the writer
    and again by the file object that owned it: the second close could hit
    an unrelated file that had reused the number.  Now only the file object
    closes it, exactly once, whatever fails (exceptions without the signal
    deferral around it; signals with it, as the write path runs)."""
    from modwrite import _atomic, _interrupts, _lock

    (root / "m.py").write_text("V = 0\n")

    def write(locked: _lock.LockedDirectory) -> None:
        _atomic.write_atomic(locked, "m.py", b"V = 1\n", mode_bits=0o644)

    real_open, real_close = os.open, os.close
    opened: list[int] = []
    closed: list[int] = []

    def open_(*args: Any, **kwargs: Any) -> int:
        fd = real_open(*args, **kwargs)
        opened.append(fd)
        return fd

    def close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    with _lock.directory_lock(str(root)) as locked:
        write(locked)  # the writer's identity is read (from /proc) once
        with inject(None) as recorder:
            write(locked)
        calls = recorder.calls
        assert "chmod" in calls
        for at in range(len(calls)):
            for injection in (Injection("interrupt", at), Injection("oserror", at)):
                opened.clear()
                closed.clear()
                with mock.patch.object(os, "open", open_), mock.patch.object(os, "close", close):
                    try:
                        with inject(injection):
                            write(locked)
                    except (KeyboardInterrupt, OSError):
                        pass
                assert closed == opened, (injection, calls[at])
                assert leftovers(root) == []
            # A real SIGINT after each call: between open(2) returning and the
            # file object taking the descriptor, only the deferral of the
            # write path keeps the KeyboardInterrupt out.
            opened.clear()
            closed.clear()
            with mock.patch.object(os, "open", open_), mock.patch.object(os, "close", close):
                with pytest.raises(KeyboardInterrupt):
                    with _interrupts.deferred_signals(), inject(Injection("signal", at)) as fired:
                        write(locked)
            assert fired.fired, calls[at]
            assert closed == opened, ("signal", calls[at])
            assert leftovers(root) == []


def test_system_exit_from_a_sigterm_handler_keeps_the_commit_point(
    root: Path, scratch: Path
) -> None:
    """A server's SIGTERM handler raises SystemExit: handled as an interrupt."""
    calls = count_calls(scratch, _old_module, _new_module)

    def terminate(signum: int, frame: object) -> None:
        sys.exit(3)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        for at in range(len(calls)):
            run = root / str(at)
            run.mkdir()
            _old_module(run)
            with pytest.raises(SystemExit):
                with inject(Injection("signal", at, signum=signal.SIGTERM)):
                    _new_module(run)
            assert leftovers(run) == [], calls[at]
            assert (run / "m.py").read_text() in ("V = 'old'\n", "V = 'new!'\n")
            assert signal.getsignal(signal.SIGTERM) is terminate
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- item 1 (the write side): a stale parked tree of the target ------------------


def test_a_write_after_a_crashed_fallback_is_not_undone_by_clean(
    root: Path, no_exchange: None
) -> None:
    """[issue 6.1] write_package(C) ignored the parked A of its own target;
    after a second crash ``clean`` could put A back over C (8 of 20 rounds)."""
    _old_package(root)
    real_rename = os.rename

    def crash_between_renames(version: str) -> None:
        def rename(src: str, dst: str) -> None:
            real_rename(src, dst)
            if src == str(root / "pkg"):  # the old tree parked: die before the new one is in
                os.kill(os.getpid(), signal.SIGKILL)

        def child() -> None:
            with mock.patch.object(os, "rename", side_effect=rename):
                modwrite.write_package("pkg", _package_files(version), root=root)

        assert run_in_child(child) == -signal.SIGKILL
        assert not (root / "pkg").exists()

    for _ in range(10):
        crash_between_renames("B")
        modwrite.write_package("pkg", _package_files("C"), root=root)
        assert _package_version(root) == "C"
        crash_between_renames("D")
        modwrite.clean(root)
        assert _package_version(root) == "C"  # the newest parked tree wins
        assert leftovers(root) == []


# -- also: long names, and directories that can be searched but not listed ----------


@pytest.mark.parametrize("length", [223, 240, 252])
def test_long_module_names_fit_in_temporary_names(root: Path, length: int) -> None:
    """[issue 6, also] legal names of 223-252 characters overflowed NAME_MAX
    in temporary names (``ENAMETOOLONG``)."""
    name = "m" * length  # m...m.py is at most 255 bytes
    modwrite.write_module(name, "V = 1\n", root=root)
    modwrite.write_module(name, "V = 22\n", root=root)  # a rewrite: a temporary file
    assert importlib.import_module(name).V == 22
    modwrite.write_package("p" * 250, {"__init__": "V = 1\n"}, root=root)
    modwrite.write_package("p" * 250, {"__init__": "V = 2\n"}, root=root)
    assert leftovers(root) == []


def _as_nobody(fn: object) -> int:
    def run() -> None:
        os.setgid(65534)
        os.setuid(65534)
        fn()  # type: ignore[operator]

    return run_in_child(run)


def test_a_root_that_can_be_searched_but_not_listed_is_written(shared_dir: Path) -> None:
    """[issue 6.5, also] rewriting a package in a root the writer may search
    and write but not list (0333) raised a raw PermissionError from the
    conflict check's listing, and "directory is not writable"."""
    root = shared_dir / "root"
    root.mkdir()
    modwrite.write_package("pkg", _package_files("old"), root=root)
    for path in (root, *root.rglob("*")):
        os.chown(path, 65534, 65534)
    root.chmod(0o333)

    def rewrite() -> None:
        with pytest.warns(modwrite.ModwriteWarning, match="within this process only"):
            modwrite.write_package("pkg", _package_files("new"), root=root)
            modwrite.write_module("m", "V = 1\n", root=root)

    assert _as_nobody(rewrite) == 0
    root.chmod(0o755)
    assert _package_version(root) == "new"
    assert (root / "m.py").read_text() == "V = 1\n"
    assert leftovers(root) == []


def test_a_root_that_cannot_be_written_says_which_step_failed(shared_dir: Path) -> None:
    root = shared_dir / "root"
    root.mkdir()
    modwrite.write_module("m", "V = 1\n", root=root)
    root.chmod(0o711)
    outcome = shared_dir / "outcome"

    def rewrite() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", modwrite.ModwriteWarning)  # no flock here
                modwrite.write_module("m", "V = 2\n", root=root)
        except modwrite.ModuleWriteError as exc:
            outcome.write_text(f"{exc.errno} {exc.strerror}")

    shared_dir.chmod(0o777)
    assert _as_nobody(rewrite) == 0
    code, message = outcome.read_text().split(" ", 1)
    assert int(code) == errno.EACCES
    assert message.startswith("cannot write the new file in the directory")
    assert (root / "m.py").read_text() == "V = 1\n"
    assert leftovers(root) == []


def test_a_bad_key_in_a_parents_write_leaves_no_parent(root: Path) -> None:
    """A guard, not a regression test: bad keys of *files* are refused
    while the arguments are checked, before any parent package is created
    (a check moved after the planning would leave the new parents)."""
    with pytest.raises(modwrite.InvalidArgument):
        modwrite.write_package("a.b.pkg", {"../escape.py": ""}, root=root, parents=True)
    with pytest.raises(modwrite.InvalidModuleName):
        modwrite.write_package("a.b.pkg", {"not a name": ""}, root=root, parents=True)
    assert list(root.iterdir()) == []


def test_a_parents_write_after_a_crashed_swap_puts_the_package_back_first(
    root: Path, no_exchange: None
) -> None:
    """[review] after a crash between the fallback's renames, a
    ``parents=True`` write into the missing package built a skeleton package
    over it, and the next ``clean`` deleted the real one."""
    modwrite.write_package("pkg", {"__init__": "V = 'old'\n", "core": "C = 1\n"}, root=root)
    real_rename = os.rename

    def rename(src: str, dst: str) -> None:
        real_rename(src, dst)
        if src == str(root / "pkg"):
            os.kill(os.getpid(), signal.SIGKILL)

    def child() -> None:
        with mock.patch.object(os, "rename", side_effect=rename):
            modwrite.write_package("pkg", {"__init__": "V = 'new'\n"}, root=root)

    assert run_in_child(child) == -signal.SIGKILL
    assert not (root / "pkg").exists()
    modwrite.write_module("pkg.extra", "E = 1\n", root=root)  # no parents=True needed
    entries = {p.name for p in (root / "pkg").iterdir()} - {"__pycache__"}  # bytecode on
    assert sorted(entries) == ["__init__.py", "core.py", "extra.py"]
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'old'\n"
    modwrite.clean(root)
    assert leftovers(root) == []
    assert (root / "pkg" / "core.py").exists()


def test_a_parents_write_that_cannot_list_the_parked_trees_keeps_the_package(
    root: Path,
) -> None:
    """[review] the case above with one failed listing (EIO) of the parked
    trees under the lock: the write built an empty package over the missing
    one, and the next ``clean`` deleted the parked original.  Refusing the
    write is fine; losing the package is not."""
    modwrite.write_package("pkg", {"__init__": "V = 'old'\n", "core": "C = 1\n"}, root=root)
    crash_between_the_fallback_renames(root)
    real_parked_trees = _package.parked_trees
    failed: list[str] = []

    def parked_trees(directory: str, *args: object, **kwargs: object) -> object:
        if not failed:
            failed.append(directory)
            raise OSError(errno.EIO, "Input/output error (injected)", directory)
        return real_parked_trees(directory, *args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(_package, "parked_trees", side_effect=parked_trees):
        with pytest.raises(modwrite.ModuleWriteError) as raised:
            modwrite.write_module("pkg.extra", "E = 1\n", root=root, parents=True)
    assert raised.value.errno == errno.EIO
    assert failed == [str(root)]
    assert modwrite.clean(root).failed == []
    assert {"__init__.py", "core.py"} <= {p.name for p in (root / "pkg").iterdir()}
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'old'\n"
    assert leftovers(root) == []


@pytest.mark.parametrize("parents", [False, True])
def test_without_flock_a_write_into_a_parked_package_changes_nothing(
    root: Path, parents: bool
) -> None:
    """[review] where ``flock`` is refused (some network filesystems), a
    writer of another process may be between the fallback's two renames: a
    write into the missing package must not put the parked tree back under
    it.  It raises EBUSY, and the disk is as it was."""
    modwrite.write_package("pkg", {"__init__": "V = 'old'\n", "core": "C = 1\n"}, root=root)
    crash_between_the_fallback_renames(root)
    before = snapshot(root)
    refused = OSError(errno.ENOLCK, "No locks available")
    with mock.patch.object(_lock.fcntl, "flock", side_effect=refused) as flock:
        with pytest.warns(modwrite.ModwriteWarning, match="within this process only"):
            with pytest.raises(modwrite.ModuleWriteError) as info:
                modwrite.write_module("pkg.extra", "E = 1\n", root=root, parents=parents)
    assert flock.called
    assert info.value.errno == errno.EBUSY
    assert "parked" in info.value.strerror
    assert snapshot(root) == before


def test_a_new_package_in_a_root_that_cannot_be_listed(shared_dir: Path) -> None:
    """[review] the search for parked trees listed the parent: a new package
    in a 0333 root failed with "cannot read the old package's files"."""
    root = shared_dir / "root"
    root.mkdir()
    os.chown(root, 65534, 65534)
    root.chmod(0o333)

    def write() -> None:
        with pytest.warns(modwrite.ModwriteWarning, match="within this process only"):
            modwrite.write_package("fresh", _package_files("new"), root=root)

    assert _as_nobody(write) == 0
    root.chmod(0o755)
    assert _package_version(root, "fresh") == "new"


def test_a_directory_on_an_unsearchable_path_is_an_error_without_a_lock_warning(
    shared_dir: Path,
) -> None:
    """[review] EACCES on the path itself was taken for an unreadable
    directory: a 'cannot lock' warning came before the real error."""
    locked_out = shared_dir / "private"
    (locked_out / "root").mkdir(parents=True)
    locked_out.chmod(0o700)
    outcome = shared_dir / "outcome"
    shared_dir.chmod(0o777)

    def write() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", modwrite.ModwriteWarning)
            try:
                modwrite.write_module("m", "V = 1\n", root=locked_out / "root")
            except modwrite.ModuleWriteError as exc:
                outcome.write_text(str(exc.errno))

    assert _as_nobody(write) == 0
    assert int(outcome.read_text()) == errno.EACCES
