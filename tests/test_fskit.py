"""The fskit filesystems are what they claim: coarse, racy for naive imports, and correct.

Needs root. Mount failures fail these tests (RuntimeError), they never skip.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from pathlib import Path

import pytest

from tests.fskit import mount_coarse_ext4, mount_tickfs
from tests.fskit._mounts import find_mount, run
from tests.fskit.fixtures import FAT_TICK_NS, FROZEN_TICK_NS, tickfs_python
from tests.fskit.probes import count_plain_import_misses
from tests.fskit.tickfs_mount import REPO_ROOT

SECOND_NS = 1_000_000_000
IMPORT_ATTEMPTS = 100
#: "Most of the time": the naive write-then-import must miss at least this often.
MIN_MISSES = 50

pytestmark = [pytest.mark.coarse, pytest.mark.timeout(120)]


def _timestamps_ns(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns


def _touch_many(directory: Path, count: int, pause_s: float) -> list[Path]:
    """Create *count* files, *pause_s* seconds apart, so they span clock ticks."""
    paths = []
    for i in range(count):
        path = directory / f"f{i}.txt"
        path.write_bytes(b"x" * i)
        paths.append(path)
        time.sleep(pause_s)
    return paths


def _renameat2(src: Path, dst: Path, flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd = -100
    if libc.renameat2(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(src))


# ------------------------------------------------------------ coarse ext4 --


def test_coarse_ext4_is_a_loop_ext4_with_128_byte_inodes(coarse_ext4_root: Path) -> None:
    entry = find_mount(coarse_ext4_root)
    assert entry is not None and entry.fstype == "ext4", entry
    assert entry.source.startswith("/dev/loop"), entry
    status, output = run(["tune2fs", "-l", entry.source], 30)
    assert status == 0, output
    assert any(
        line.split(":")[0] == "Inode size" and line.split(":")[1].strip() == "128"
        for line in output.splitlines()
    ), output


def test_coarse_ext4_timestamps_are_whole_seconds(coarse_ext4_dir: Path) -> None:
    paths = _touch_many(coarse_ext4_dir, 12, 0.037)
    sub = coarse_ext4_dir / "sub"
    sub.mkdir()
    for path in [*paths, sub, coarse_ext4_dir]:
        for value in _timestamps_ns(path):
            assert value % SECOND_NS == 0, (path, value)
    # Setting sub-second times explicitly is truncated too.
    os.utime(paths[0], ns=(1_700_000_000_123_456_789, 1_700_000_001_987_654_321))
    assert _timestamps_ns(paths[0])[:2] == (1_700_000_000 * SECOND_NS, 1_700_000_001 * SECOND_NS)


def test_coarse_ext4_plain_write_then_import_misses(coarse_ext4_dir: Path) -> None:
    probe = count_plain_import_misses(coarse_ext4_dir, IMPORT_ATTEMPTS)
    print(f"coarse ext4: {probe.misses}/{probe.attempts} misses in {probe.elapsed_s:.3f} s")
    assert probe.misses >= MIN_MISSES, probe


# ---------------------------------------------------------------- tickfs --


def test_fat_tickfs_is_a_fuse_mount(fat_tickfs_root: Path) -> None:
    entry = find_mount(fat_tickfs_root)
    assert entry is not None and entry.fstype == "fuse.tickfs", entry
    assert fat_tickfs_root.stat().st_dev != fat_tickfs_root.parent.stat().st_dev
    assert os.statvfs(fat_tickfs_root).f_blocks > 0


def test_fat_tickfs_timestamps_are_two_second_multiples(fat_dir: Path) -> None:
    paths = _touch_many(fat_dir, 10, 0.25)  # spans >= 2 s: more than one tick
    sub = fat_dir / "sub"
    sub.mkdir()
    mtimes = set()
    for path in [*paths, sub, fat_dir]:
        for value in _timestamps_ns(path):
            assert value % FAT_TICK_NS == 0, (path, value)
        mtimes.add(path.stat().st_mtime_ns)
    assert len(mtimes) >= 2, "the clock never ticked: mtimes are stuck, not coarse"
    os.utime(paths[0], ns=(5_000_000_001, 7_999_999_999))
    assert _timestamps_ns(paths[0])[:2] == (4 * SECOND_NS, 6 * SECOND_NS)
    # The time is stored exactly; only what is reported is floored.
    os.utime(paths[0], ns=(8 * SECOND_NS, 10 * SECOND_NS))
    assert _timestamps_ns(paths[0])[:2] == (8 * SECOND_NS, 10 * SECOND_NS)


def test_fat_tickfs_plain_write_then_import_misses(fat_dir: Path) -> None:
    probe = count_plain_import_misses(fat_dir, IMPORT_ATTEMPTS)
    print(f"fat tickfs (2 s): {probe.misses}/{probe.attempts} misses in {probe.elapsed_s:.3f} s")
    assert probe.misses >= MIN_MISSES, probe


def test_frozen_tickfs_dir_mtime_moves_only_when_set(frozen_dir: Path) -> None:
    frozen = frozen_dir.stat().st_mtime_ns
    time.sleep(0.05)
    (frozen_dir / "new.txt").write_text("new\n")
    (frozen_dir / "sub").mkdir()
    (frozen_dir / "new.txt").rename(frozen_dir / "renamed.txt")
    (frozen_dir / "gone.txt").write_text("gone\n")
    (frozen_dir / "gone.txt").unlink()
    (frozen_dir / "sub").rmdir()
    assert frozen_dir.stat().st_mtime_ns == frozen
    # Files still get fresh mtimes, at the 100 ns tick.
    file_mtime = (frozen_dir / "renamed.txt").stat().st_mtime_ns
    assert file_mtime > frozen and file_mtime % FROZEN_TICK_NS == 0

    before = time.time_ns()
    os.utime(frozen_dir, None)  # "now"
    touched = frozen_dir.stat().st_mtime_ns
    assert touched != frozen
    assert before - SECOND_NS <= touched <= time.time_ns() + SECOND_NS
    (frozen_dir / "after.txt").write_text("after\n")
    assert frozen_dir.stat().st_mtime_ns == touched  # frozen again, at the set value

    os.utime(frozen_dir, ns=(1_000_000_000_123, 2_000_000_000_456))
    assert frozen_dir.stat().st_mtime_ns == 2_000_000_000_400  # floored to the tick
    (frozen_dir / "later.txt").write_text("later\n")
    assert frozen_dir.stat().st_mtime_ns == 2_000_000_000_400


def test_frozen_tickfs_import_misses_even_after_a_sleep(frozen_dir: Path) -> None:
    probe = count_plain_import_misses(frozen_dir, IMPORT_ATTEMPTS)
    print(f"frozen tickfs: {probe.misses}/{probe.attempts} misses in {probe.elapsed_s:.3f} s")
    assert probe.misses == IMPORT_ATTEMPTS, probe
    # Waiting does not help here (it would on a merely coarse filesystem).
    patient = count_plain_import_misses(frozen_dir, 2, pause_s=1.1)
    assert patient.misses == 2, patient


@pytest.mark.parametrize("tick_dir", ["fat_dir", "frozen_dir"])
def test_tickfs_concurrent_atomic_replace_reads_complete_versions(
    tick_dir: str, request: pytest.FixtureRequest
) -> None:
    directory: Path = request.getfixturevalue(tick_dir)
    target = directory / "target.bin"
    rounds = 500

    def version(i: int) -> bytes:
        body = f"version {i:06d}\n".encode() * 1000
        return f"{i:06d}:{len(body):08d}:{zlib.crc32(body):08x}\n".encode() + body

    def replace(i: int) -> None:
        temp = directory / f".target.{i}.tmp"
        with open(temp, "wb") as handle:
            handle.write(version(i))
        temp.replace(target)

    errors: list[str] = []
    seen: list[int] = []

    def writer() -> None:
        try:
            for i in range(1, rounds + 1):
                replace(i)
        except BaseException as exc:
            errors.append(f"writer: {exc!r}")

    def reader() -> None:
        for _ in range(rounds):
            try:
                data = target.read_bytes()
            except BaseException as exc:
                errors.append(f"reader: {exc!r}")
                continue
            header, _, body = data.partition(b"\n")
            try:
                number, length, crc = header.split(b":")
                i = int(number)
            except ValueError:
                errors.append(f"reader: bad header {header[:40]!r} ({len(data)} bytes)")
                continue
            if data != version(i) or int(length) != len(body) or int(crc, 16) != zlib.crc32(body):
                errors.append(f"reader: torn/stale content for version {i} ({len(data)} bytes)")
                continue
            seen.append(i)

    replace(0)
    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)
    elapsed = time.monotonic() - start
    assert not any(thread.is_alive() for thread in threads), "replace/read loop hung"
    print(
        f"{tick_dir}: {rounds} replaces + {rounds} reads in {elapsed:.2f} s, "
        f"{len(set(seen))} distinct versions read, {len(errors)} errors"
    )
    assert errors == []
    assert len(seen) == rounds
    assert seen == sorted(seen), "a read went back to an older version"
    assert target.read_bytes() == version(rounds)
    assert sorted(p.name for p in directory.iterdir()) == ["target.bin"]


@pytest.mark.parametrize("tick_dir", ["fat_dir", "frozen_dir"])
def test_tickfs_directory_renames_unlink_rmdir_chmod(
    tick_dir: str, request: pytest.FixtureRequest
) -> None:
    d: Path = request.getfixturevalue(tick_dir)

    # Rename a populated directory into place.
    staging = d / "staging"
    staging.mkdir()
    (staging / "a.py").write_text("A = 1\n")
    staging.rename(d / "pkg")
    assert not staging.exists()
    assert (d / "pkg" / "a.py").read_text() == "A = 1\n"

    # Replace an existing empty directory; a non-empty one refuses.
    staging2 = d / "staging2"
    staging2.mkdir()
    (staging2 / "b.py").write_text("B = 2\n")
    (d / "empty").mkdir()
    staging2.replace(d / "empty")
    assert [p.name for p in (d / "empty").iterdir()] == ["b.py"]
    with pytest.raises(OSError) as refused:
        (d / "empty").replace(d / "pkg")
    assert refused.value.errno in (errno.ENOTEMPTY, errno.EEXIST)

    # Move a directory under another parent, keep using it, rename the parent.
    (d / "outer").mkdir()
    (d / "pkg").rename(d / "outer" / "pkg")
    (d / "outer" / "pkg" / "c.py").write_text("C = 3\n")
    with open(d / "outer" / "pkg" / "a.py") as still_open:
        (d / "outer").rename(d / "outer2")
        assert still_open.read() == "A = 1\n"
    assert (d / "outer2" / "pkg" / "a.py").read_text() == "A = 1\n"
    assert (d / "outer2" / "pkg" / "c.py").read_text() == "C = 3\n"
    assert sorted(p.name for p in d.iterdir()) == ["empty", "outer2"]

    # Replace a file over an existing one; RENAME_NOREPLACE / RENAME_EXCHANGE.
    (d / "x.txt").write_text("x")
    (d / "y.txt").write_text("y")
    with pytest.raises(FileExistsError):
        _renameat2(d / "x.txt", d / "y.txt", 1)  # RENAME_NOREPLACE
    _renameat2(d / "x.txt", d / "y.txt", 2)  # RENAME_EXCHANGE
    assert ((d / "x.txt").read_text(), (d / "y.txt").read_text()) == ("y", "x")
    (d / "x.txt").replace(d / "y.txt")
    assert (d / "y.txt").read_text() == "y" and not (d / "x.txt").exists()

    # Symlink, hard link, unlink while open, rmdir.
    (d / "link").symlink_to("y.txt")
    assert str((d / "link").readlink()) == "y.txt" and (d / "link").read_text() == "y"
    (d / "link").unlink()
    os.link(d / "y.txt", d / "z.txt")
    assert (d / "y.txt").stat().st_nlink == 2
    assert (d / "y.txt").stat().st_ino == (d / "z.txt").stat().st_ino
    with open(d / "y.txt", "rb") as handle:
        (d / "y.txt").unlink()
        (d / "z.txt").unlink()
        assert os.fstat(handle.fileno()).st_nlink == 0
        assert handle.read() == b"y"
    assert not (d / "y.txt").exists()
    with pytest.raises(OSError) as not_empty:
        (d / "empty").rmdir()
    assert not_empty.value.errno == errno.ENOTEMPTY
    (d / "empty" / "b.py").unlink()
    (d / "empty").rmdir()
    assert sorted(p.name for p in d.iterdir()) == ["outer2"]

    # chmod, truncate and utime are reflected at once.
    path = d / "mode.txt"
    path.write_text("0123456789")
    for mode in (0o600, 0o755, 0o444):
        path.chmod(mode)
        assert stat.S_IMODE(path.stat().st_mode) == mode
    path.chmod(0o644)
    (d / "outer2").chmod(0o700)
    assert stat.S_IMODE((d / "outer2").stat().st_mode) == 0o700
    os.truncate(path, 4)
    assert path.read_text() == "0123"
    with open(path, "r+") as handle:
        handle.truncate(2)
    assert path.stat().st_size == 2


# ---------------------------------------------------- case-insensitive tickfs --


def test_tickfs_is_case_sensitive_by_default(frozen_dir: Path) -> None:
    (frozen_dir / "mod.py").write_text("lower\n")
    assert not (frozen_dir / "Mod.py").exists()
    (frozen_dir / "Mod.py").write_text("upper\n")
    assert sorted(os.listdir(frozen_dir)) == ["Mod.py", "mod.py"]
    assert (frozen_dir / "mod.py").read_text() == "lower\n"


def test_case_insensitive_tickfs_matches_names_case_insensitively(
    case_insensitive_dir: Path,
) -> None:
    d = case_insensitive_dir
    entry = find_mount(d.parent)
    assert entry is not None and entry.fstype == "fuse.tickfs", entry

    # Lookups find the entry whatever the case; the listing keeps the stored case.
    (d / "mod.py").write_text("X = 1\n")
    assert (d / "Mod.py").read_text() == "X = 1\n"
    assert (d / "MOD.PY").stat().st_ino == (d / "mod.py").stat().st_ino
    assert os.listdir(d) == ["mod.py"]

    # Creating a case variant finds the existing file: O_EXCL fails, a plain
    # O_CREAT opens (and O_TRUNC truncates) it, and its name stays as it was.
    with pytest.raises(FileExistsError):
        os.open(d / "Mod.py", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with open(d / "MOD.py", "a") as handle:
        handle.write("Y = 2\n")
    assert (d / "mod.py").read_text() == "X = 1\nY = 2\n"
    (d / "mOD.py").write_text("Z = 3\n")
    assert os.listdir(d) == ["mod.py"]
    assert (d / "mod.py").read_text() == "Z = 3\n"

    # Directories, and paths through them.
    (d / "Pkg").mkdir()
    with pytest.raises(FileExistsError):
        (d / "pkg").mkdir()
    (d / "PKG" / "__init__.py").write_text("")
    assert sorted(os.listdir(d)) == ["Pkg", "mod.py"]
    assert os.listdir(d / "pkg") == ["__init__.py"]
    assert (d / "pkg" / "__INIT__.PY").is_file()

    # Every other way of making a name refuses a case variant of an existing one.
    with pytest.raises(FileExistsError):
        os.symlink("mod.py", d / "MOD.py")
    with pytest.raises(FileExistsError):
        os.link(d / "mod.py", d / "Mod.PY")
    with pytest.raises(FileExistsError):
        os.mkfifo(d / "pKG")

    # Non-ASCII names fold with str.casefold (full case folding: ß ~ SS).
    (d / "Ärger.txt").write_text("ä")
    (d / "Straße.txt").write_text("ß")
    assert (d / "äRGER.TXT").read_text() == "ä"
    assert (d / "STRASSE.TXT").read_text() == "ß"
    assert sorted(os.listdir(d)) == ["Pkg", "Straße.txt", "mod.py", "Ärger.txt"]

    # unlink and rmdir of a case variant remove the stored entry.
    (d / "ärger.TXT").unlink()
    (d / "strasse.txt").unlink()
    (d / "pkg" / "__Init__.py").unlink()
    (d / "pKg").rmdir()
    (d / "MOD.PY").unlink()
    assert os.listdir(d) == []
    assert not (d / "mod.py").exists()


def test_case_insensitive_tickfs_renames(case_insensitive_dir: Path) -> None:
    d = case_insensitive_dir
    (d / "mod.py").write_text("X = 1\n")
    inode = (d / "mod.py").stat().st_ino

    # A case-only rename(2) never reaches the filesystem: the target's lookup
    # yields the source's own inode and the kernel's vfs_rename() returns 0
    # at once. It is the same on vfat (and any in-kernel case-insensitive
    # filesystem): it succeeds and changes nothing.
    os.rename(d / "mod.py", d / "Mod.py")
    assert os.listdir(d) == ["mod.py"]
    # Changing case through a temporary name works, as on vfat.
    os.rename(d / "mod.py", d / "mod.py.tmp")
    os.rename(d / "MOD.PY.TMP", d / "Mod.py")
    assert os.listdir(d) == ["Mod.py"]
    assert (d / "mod.py").stat().st_ino == inode
    assert (d / "mod.py").read_text() == "X = 1\n"

    # Directories, populated, the same way.
    (d / "pkg").mkdir()
    (d / "pkg" / "a.py").write_text("A = 1\n")
    os.rename(d / "pkg", d / "pkg.tmp")
    os.rename(d / "Pkg.Tmp", d / "Pkg")
    assert sorted(os.listdir(d)) == ["Mod.py", "Pkg"]
    assert (d / "PKG" / "A.PY").read_text() == "A = 1\n"

    # Renaming onto a case variant of another entry replaces that entry; the
    # result is spelled as the caller spelled the new name (NTFS, APFS).
    (d / "other.py").write_text("O = 1\n")
    os.replace(d / "other.py", d / "MOD.PY")
    assert sorted(os.listdir(d)) == ["MOD.PY", "Pkg"]
    assert (d / "mod.py").read_text() == "O = 1\n"
    (d / "staging").mkdir()
    (d / "staging" / "b.py").write_text("B = 2\n")
    (d / "Empty").mkdir()
    os.replace(d / "staging", d / "EMPTY")
    assert sorted(os.listdir(d)) == ["EMPTY", "MOD.PY", "Pkg"]
    assert os.listdir(d / "empty") == ["b.py"]
    with pytest.raises(OSError) as refused:
        os.replace(d / "empty", d / "pKG")  # a non-empty directory is not replaced
    assert refused.value.errno in (errno.ENOTEMPTY, errno.EEXIST)

    # RENAME_NOREPLACE sees the variant; RENAME_EXCHANGE swaps with it, names kept.
    (d / "x.txt").write_text("x")
    (d / "y.txt").write_text("y")
    with pytest.raises(FileExistsError):
        _renameat2(d / "x.txt", d / "Y.TXT", 1)  # RENAME_NOREPLACE
    _renameat2(d / "X.TXT", d / "Y.txt", 2)  # RENAME_EXCHANGE
    assert ((d / "x.txt").read_text(), (d / "y.txt").read_text()) == ("y", "x")
    assert sorted(os.listdir(d)) == ["EMPTY", "MOD.PY", "Pkg", "x.txt", "y.txt"]


def test_case_insensitive_tickfs_rename_handler_changes_case(tmp_path: Path) -> None:
    """The kernel never forwards a case-only rename (see above), but the
    daemon's handler implements one, as the filesystem's own semantics:
    drive it directly, without a mount, under the daemon's interpreter."""
    backing = tmp_path / "backing"
    backing.mkdir()
    (backing / "mod.py").write_text("X = 1\n")
    (backing / "pkg").mkdir()
    (backing / "pkg" / "a.py").write_text("A = 1\n")
    (backing / "keep.txt").write_text("k")
    script = textwrap.dedent(
        """
        import sys

        import pyfuse3
        import trio

        from tests.fskit.tickfs import RENAME_EXCHANGE, RENAME_NOREPLACE, TickFS

        fs = TickFS(sys.argv[1], 1, False, case_insensitive=True)
        root = pyfuse3.ROOT_INODE

        async def main():
            await fs.rename(root, b"MOD.py", root, b"Mod.py", 0, None)
            await fs.rename(root, b"PKG", root, b"Pkg", RENAME_NOREPLACE, None)
            await fs.rename(root, b"KEEP.TXT", root, b"Keep.txt", RENAME_EXCHANGE, None)
            await fs.rename(root, b"keep.txt", root, b"keep.txt", 0, None)

        trio.run(main)
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [tickfs_python(), "-c", script, str(backing)],
        cwd=str(REPO_ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Case changed in place; an exchange of an entry with itself changes nothing.
    assert sorted(os.listdir(backing)) == ["Mod.py", "Pkg", "keep.txt"]
    assert (backing / "Mod.py").read_text() == "X = 1\n"
    assert (backing / "Pkg" / "a.py").read_text() == "A = 1\n"


# ------------------------------------------------------- failure handling --


def test_coarse_ext4_failure_raises_and_cleans_up(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match=r"mkfs\.ext4"),
        mount_coarse_ext4(tmp_path / "work", size_mb=0),
    ):
        pass  # pragma: no cover
    assert list((tmp_path / "work").iterdir()) == []


def test_tickfs_mount_failure_raises_with_daemon_output(tmp_path: Path) -> None:
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho 'fake interpreter refuses to mount' >&2\nexit 3\n")
    fake.chmod(0o755)
    (tmp_path / "backing").mkdir()
    with (
        pytest.raises(RuntimeError, match="fake interpreter refuses to mount"),
        mount_tickfs(tmp_path / "backing", tmp_path / "mnt", FAT_TICK_NS, python=str(fake)),
    ):
        pass  # pragma: no cover
    assert find_mount(tmp_path / "mnt") is None
    with (
        pytest.raises(RuntimeError, match="does not exist"),
        mount_tickfs(tmp_path / "missing", tmp_path / "mnt", FAT_TICK_NS),
    ):
        pass  # pragma: no cover
    with (
        pytest.raises(RuntimeError, match="cannot start"),
        mount_tickfs(
            tmp_path / "backing", tmp_path / "mnt", FAT_TICK_NS, python=str(tmp_path / "nope")
        ),
    ):
        pass  # pragma: no cover


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_tickfs_teardown_leaves_no_mount_or_daemon(tmp_path: Path) -> None:
    backing = tmp_path / "backing"
    backing.mkdir()
    mountpoint = tmp_path / "mnt"
    with mount_tickfs(backing, mountpoint, 20_000_000, python=tickfs_python()) as root:
        assert find_mount(root) is not None
        daemons = _processes_mentioning(str(mountpoint))
        assert len(daemons) == 1, daemons
        (root / "hello.txt").write_text("hello\n")
        assert (root / "hello.txt").stat().st_mtime_ns % 20_000_000 == 0
    assert find_mount(mountpoint) is None
    assert _processes_mentioning(str(mountpoint)) == []
    assert (backing / "hello.txt").read_text() == "hello\n"


def test_interpreter_report() -> None:
    """Not a check: records which interpreters ran (test process vs daemon)."""
    print(f"test process: {sys.version.split()[0]} ({sys.executable}); daemon: {tickfs_python()}")
