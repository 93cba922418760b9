"""``modwrite clean``: what interrupted writes leave, removed only when its
writer is gone, the newest parked package put back, failures reported."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

import modwrite
from modwrite import _clean, _cli, _lock, _tempnames
from modwrite._tempnames import PARKED_MARKER, TEMP_MARKER, TRASH_MARKER

from .conftest import child_env, leftovers
from .faults import crash_between_the_fallback_renames, run_in_child


def _name_of(leaf: str, marker: str, *, pid: int, start: str, created_ns: int) -> str:
    """An entry name as a writer with *pid* and *start* on this host makes it."""
    node = _tempnames.this_writer().node
    return f".{leaf}.{node}-{pid}-{start}-{created_ns:x}-0{marker}"


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.fixture
def live_writer(tmp_path: Path) -> Iterator[int]:
    """A child process that stays alive for the test: its pid."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


# -- item 8: a live writer's entries are never touched ------------------------------


def test_a_live_writers_entries_are_never_touched_however_old(
    root: Path, live_writer: int
) -> None:
    """[issue 6.8] the age was the entry's mtime, and a swapped-out package
    keeps its old directory's mtime: a package last written over an hour ago
    looked old at once."""
    start = _tempnames.start_time(live_writer)
    assert start is not None
    now = time.time_ns()
    staging = root / _name_of("pkg", TEMP_MARKER, pid=live_writer, start=start, created_ns=now)
    (staging / "sub").mkdir(parents=True)
    temp_file = root / _name_of("m.py", TEMP_MARKER, pid=live_writer, start=start, created_ns=now)
    temp_file.write_text("in progress")
    for entry in (staging, staging / "sub", temp_file):
        _age(entry, 7200)
    report = modwrite.clean(root, min_age=0)
    assert report.removed == [] and report.restored == [] and report.failed == []
    assert staging.exists() and temp_file.exists()


def test_a_reused_pid_does_not_keep_a_dead_writers_entries(root: Path, live_writer: int) -> None:
    """[issue 6.8] pid liveness alone is not enough: pids are reused."""
    other_start = "zzzzzz"  # the live process with that pid started at another time
    assert _tempnames.start_time(live_writer) != other_start
    name = _name_of(
        "m.py", TEMP_MARKER, pid=live_writer, start=other_start, created_ns=time.time_ns()
    )
    (root / name).write_text("partial")
    assert modwrite.clean(root).removed == [str(root / name)]
    assert leftovers(root) == []


def test_entries_of_another_host_go_by_the_age_in_their_name(root: Path) -> None:
    """Another host (NFS) or PID namespace: the pid means nothing here, the
    creation time in the name decides, not the mtime."""
    young = root / f".m.py.0badc0de-1-abc-{time.time_ns():x}-0{TEMP_MARKER}"
    old = root / f".n.py.0badc0de-1-abc-{time.time_ns() - 7200 * 10**9:x}-1{TEMP_MARKER}"
    for entry in (young, old):
        entry.write_text("")
    _age(young, 7200)  # an old mtime does not make it old
    os.utime(old)  # a new mtime does not make it young
    report = modwrite.clean(root)
    assert report.removed == [str(old)]
    assert young.exists()


def test_trash_goes_at_once_whoever_made_it(root: Path, live_writer: int) -> None:
    start = _tempnames.start_time(live_writer)
    assert start is not None
    trash = root / _name_of(
        "pkg", TRASH_MARKER, pid=live_writer, start=start, created_ns=time.time_ns()
    )
    (trash / "sub").mkdir(parents=True)
    assert modwrite.clean(root).removed == [str(trash)]
    assert leftovers(root) == []


# -- item 1: the newest parked tree wins ---------------------------------------------


def _parked(root: Path, version: str, created_ns: int, pid: int, start: str = "0") -> Path:
    container = root / _name_of("pkg", PARKED_MARKER, pid=pid, start=start, created_ns=created_ns)
    (container / "pkg").mkdir(parents=True)
    (container / "pkg" / "__init__.py").write_text(f"V = {version!r}\n")
    return container


@pytest.mark.parametrize("order", ["older-first", "newer-first"])
def test_the_newest_parked_tree_is_put_back(root: Path, order: str) -> None:
    """[issue 6.1] clean put back whichever parked tree it listed first and
    deleted the other: the older version in 8 of 20 rounds."""
    dead = _dead_pid()
    now = time.time_ns()
    versions = [("A", now - 10**9), ("C", now)]
    for version, created in versions if order == "older-first" else versions[::-1]:
        _parked(root, version, created, dead)
    report = modwrite.clean(root)
    assert [target for _, target in report.restored] == [str(root / "pkg")]
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'C'\n"
    assert leftovers(root) == []


def test_a_parked_tree_beside_its_package_is_removed_not_restored(root: Path) -> None:
    modwrite.write_package("pkg", {"__init__": "V = 'current'\n"}, root=root)
    live = _tempnames.this_writer()
    _parked(root, "older", time.time_ns(), os.getpid(), start=live.start)  # a live writer's
    modwrite.clean(root)
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'current'\n"
    assert leftovers(root) == []


def test_a_crash_between_the_fallback_renames_is_repaired(root: Path) -> None:
    """SIGKILL between the two renames of the fallback (no RENAME_EXCHANGE):
    the package is missing until ``clean`` puts the old one back."""
    modwrite.write_package("pkg", {"__init__": "V = 'old'\n"}, root=root)
    crash_between_the_fallback_renames(root, "pkg")
    assert not (root / "pkg").exists()
    assert _cli.main(["clean", str(root)]) == 0
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'old'\n"
    assert leftovers(root) == []


def test_a_parked_package_of_modwrite_0_1_is_put_back(root: Path) -> None:
    parked = root / f".pkg.{_dead_pid()}-abc{PARKED_MARKER}"
    parked.mkdir()
    (parked / "__init__.py").write_text("KEEP = 1\n")
    assert _cli.main(["clean", str(root)]) == 0
    assert (root / "pkg" / "__init__.py").read_text() == "KEEP = 1\n"
    assert not parked.exists()


# -- item 7: what cannot be removed is reported, with an exit status -------------------


@pytest.fixture
def read_only_view(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A directory and a read-only bind mount of it."""
    source = tmp_path / "rw"
    view = tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    subprocess.run(["mount", "--bind", str(source), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        yield source, view
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_clean_reports_what_it_cannot_remove(
    read_only_view: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """[issue 6.7] clean crashed with a traceback (exit 1) on a read-only
    mount."""
    source, view = read_only_view
    name = f".m.py.{_dead_pid()}-abcd{TEMP_MARKER}"
    (source / name).write_text("partial")
    report = modwrite.clean(view)
    assert [(p, e.errno) for p, e in report.failed] == [(str(view / name), errno.EROFS)]
    assert _cli.main(["clean", str(view)]) == _cli.EXIT_WRITE
    err = capsys.readouterr().err
    assert f"cannot remove {view / name}" in err and "Traceback" not in err
    assert (source / name).exists()


def test_clean_reports_another_users_leftover_in_a_sticky_directory(sticky_dir: Path) -> None:
    """[issue 6.7] a leftover owned by another user in a sticky directory."""
    name = f".m.py.{_dead_pid()}-abcd{TEMP_MARKER}"
    (sticky_dir / name).write_text("partial")

    def as_nobody() -> None:
        os.setgid(65534)
        os.setuid(65534)
        report = modwrite.clean(sticky_dir)
        assert [(p, e.errno) for p, e in report.failed] == [(str(sticky_dir / name), errno.EPERM)]
        sys.exit(_cli.main(["clean", str(sticky_dir)]))

    assert run_in_child(as_nobody) == _cli.EXIT_WRITE
    assert (sticky_dir / name).exists()


def test_dry_run_changes_nothing(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = f".m.py.{_dead_pid()}-abcd{TEMP_MARKER}"
    (root / name).write_text("partial")
    assert _cli.main(["clean", str(root), "--dry-run"]) == 0
    assert "would remove" in capsys.readouterr().out
    assert (root / name).exists()


# -- review: parked trees under the lock, on other hosts, without flock ------------------


def test_a_live_writers_parked_tree_of_a_missing_package_is_put_back_under_the_lock(
    root: Path,
) -> None:
    """After a double fault (neither rename worked) the writer lives on and
    its package is missing: under the directory's flock no writer can be
    between its renames, so clean puts the tree back although its writer is
    alive."""
    start = _tempnames.this_writer().start
    container = root / _name_of(
        "pkg", PARKED_MARKER, pid=os.getpid(), start=start, created_ns=time.time_ns()
    )
    (container / "pkg").mkdir(parents=True)
    (container / "pkg" / "__init__.py").write_text("V = 'parked'\n")
    report = modwrite.clean(root)
    assert report.restored == [(str(container), str(root / "pkg"))]
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'parked'\n"
    assert leftovers(root) == []


def test_a_parked_tree_that_cannot_be_listed_is_kept(root: Path) -> None:
    """[review] found by test_sweep's parked-package sweep: an EIO from the
    listing of a parked container made ``clean`` remove the container, the
    package's only copy inside, and report it as merely removed."""
    modwrite.write_package("pkg", {"__init__": "V = 'old'\n"}, root=root)
    crash_between_the_fallback_renames(root)
    real_listdir = os.listdir

    def listdir(path: str = ".") -> list[str]:
        if os.path.basename(path).endswith(PARKED_MARKER):
            raise OSError(errno.EIO, "Input/output error (injected)", path)
        return real_listdir(path)

    with mock.patch.object(os, "listdir", side_effect=listdir):
        report = modwrite.clean(root)
    ((path, exc),) = report.failed  # reported, not skipped (exit status 5)
    assert path.endswith(PARKED_MARKER) and exc.errno == errno.EIO
    assert modwrite.clean(root).failed == []  # the listing works again
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'old'\n"
    assert leftovers(root) == []


def test_without_flock_a_live_writers_parked_tree_is_left_alone(root: Path) -> None:
    """Where flock is refused (some network filesystems) a live writer may be
    between its two renames: only a gone writer's parked tree is acted on."""
    live = _tempnames.this_writer()
    dead = _dead_pid()
    now = time.time_ns()
    for name in ("live", "dead"):
        (root / name).mkdir()
    mine = _parked(root / "live", "mine", now, os.getpid(), start=live.start)
    gone = _parked(root / "dead", "gone", now, dead)
    refused = OSError(errno.ENOLCK, "No locks available")
    with mock.patch.object(_lock.fcntl, "flock", side_effect=refused):
        with pytest.warns(modwrite.ModwriteWarning, match="within this process only"):
            report = modwrite.clean(root)
    assert report.restored == [(str(gone), str(root / "dead" / "pkg"))]
    assert mine.exists() and not (root / "live" / "pkg").exists()


def test_another_hosts_parked_tree_waits_for_min_age(root: Path) -> None:
    """Another host's writer may hold a flock that is local to it (NFS): its
    parked tree is acted on only once --min-age old, by its name."""
    young = root / f".pkg.0badc0de-1-abc-{time.time_ns():x}-0{PARKED_MARKER}"
    (young / "pkg").mkdir(parents=True)
    assert modwrite.clean(root).restored == []
    assert young.exists()
    old = root / f".pkg.0badc0de-1-abc-{time.time_ns() - 7200 * 10**9:x}-1{PARKED_MARKER}"
    young.rename(old)
    assert modwrite.clean(root).restored == [(str(old), str(root / "pkg"))]


def test_clean_waits_for_a_writer_between_its_renames(root: Path) -> None:
    """A writer holding the directory's lock between the fallback's two
    renames: clean blocks on the lock, and once the writer has moved the new
    tree in, it finds nothing to put back."""
    modwrite.write_package("pkg", {"__init__": "V = 'old'\n"}, root=root)
    staging = root / "staging"
    staging.mkdir()
    (staging / "__init__.py").write_text("V = 'new'\n")
    with _lock.directory_lock(str(root)):
        container = root / _tempnames.temporary_name("pkg", PARKED_MARKER)
        container.mkdir()
        (root / "pkg").rename(container / "pkg")  # the first rename: pkg missing
        cleaner = subprocess.Popen(
            [sys.executable, "-c", f"import modwrite; modwrite.clean({str(root)!r})"],
            env=child_env(),
        )
        _wait_until_blocked_on_a_lock(cleaner.pid)
        staging.rename(root / "pkg")  # the second rename: the commit
        shutil.rmtree(container)
    assert cleaner.wait(timeout=60) == 0
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'new'\n"
    assert leftovers(root) == []


def _wait_until_blocked_on_a_lock(pid: int, timeout: float = 60.0) -> None:
    """Until /proc/locks shows *pid* waiting for a lock (no fixed sleep).

    :raises AssertionError: not within *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "->" in fields and fields[fields.index("->") + 4] == str(pid):
                return
        os.sched_yield()
    raise AssertionError(f"process {pid} never waited for a lock")


def test_an_older_parked_tree_is_not_put_back_over_a_newer_one(root: Path) -> None:
    """Decided again under the lock: a newer parked tree of the package
    appeared since the scan, so the older one is removed, not put back."""
    dead = _dead_pid()
    now = time.time_ns()
    older = _parked(root, "A", now - 10**9, dead)
    (leftover,) = _clean.find_leftovers(str(root))
    assert leftover.restore_to == str(root / "pkg")
    newer = _parked(root, "C", now, dead)
    assert _clean.remove_leftover(leftover) == ("removed", str(older))
    assert modwrite.clean(root).restored == [(str(newer), str(root / "pkg"))]
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'C'\n"


def test_the_report_says_what_was_done_not_what_the_scan_expected(root: Path) -> None:
    dead = _dead_pid()
    container = _parked(root, "A", time.time_ns(), dead)
    (leftover,) = _clean.find_leftovers(str(root))
    assert leftover.restore_to is not None
    modwrite.write_package("pkg", {"__init__": "V = 'written'\n"}, root=root)
    assert not container.exists()  # the write discarded it
    assert _clean.remove_leftover(leftover) is None
    assert (root / "pkg" / "__init__.py").read_text() == "V = 'written'\n"


def test_an_unreaped_killed_writer_is_gone(root: Path) -> None:
    zombie = subprocess.Popen(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    )
    try:
        state = f"/proc/{zombie.pid}/stat"
        while Path(state).read_text().rpartition(")")[2].split()[0] != "Z":
            os.sched_yield()
        name = _name_of("m.py", TEMP_MARKER, pid=zombie.pid, start="1", created_ns=time.time_ns())
        (root / name).write_text("partial")
        assert modwrite.clean(root).removed == [str(root / name)]
    finally:
        zombie.wait()
