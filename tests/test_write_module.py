"""write_module(): lands atomically, importable at once, bad input refused."""

from __future__ import annotations

import errno
import importlib
import importlib.machinery
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest

import modwrite
from modwrite import _atomic, _tempnames

from .conftest import leftovers
from .faults import run_in_child


def test_write_then_import_in_process(root: Path, unique_name: str) -> None:
    path = modwrite.write_module(unique_name, "VALUE = 1\n", root=root)
    assert path == root / f"{unique_name}.py"
    assert path.is_absolute()
    assert importlib.import_module(unique_name).VALUE == 1
    assert leftovers(root) == []


def test_new_module_after_directory_was_cached_is_found(root: Path, unique_name: str) -> None:
    """[directory cached] the bpython reproduction: an import from the directory,
    then a new module in it, imported at once."""
    modwrite.write_module(unique_name + "_first", "", root=root)
    importlib.import_module(unique_name + "_first")
    for i in range(50):
        modwrite.write_module(f"{unique_name}_{i}", f"I = {i}\n", root=root, visibility="process")
        assert i == importlib.import_module(f"{unique_name}_{i}").I


def test_rewrite_then_reload_runs_new_code(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    modwrite.write_module(unique_name, "VALUE = 1\n", root=root)
    module = importlib.import_module(unique_name)
    assert Path(importlib.util.cache_from_source(module.__file__)).exists()  # bytecode is on
    for value in range(2, 30):
        modwrite.write_module(unique_name, f"VALUE = {value % 10}\n", root=root)
        assert value % 10 == importlib.reload(module).VALUE


def test_parent_packages_must_exist(root: Path) -> None:
    with pytest.raises(modwrite.ModuleWriteError) as info:
        modwrite.write_module("pkg.sub.mod", "x = 1\n", root=root)
    assert info.value.errno == errno.ENOENT
    assert "parents=True" in str(info.value)
    assert list(root.iterdir()) == []


def test_parents_are_created_as_regular_packages(root: Path, unique_name: str) -> None:
    name = f"{unique_name}.sub.mod"
    path = modwrite.write_module(name, "X = 3\n", root=root, parents=True)
    assert path == root / unique_name / "sub" / "mod.py"
    assert (root / unique_name / "__init__.py").read_bytes() == b""
    assert (root / unique_name / "sub" / "__init__.py").exists()
    assert importlib.import_module(name).X == 3
    assert importlib.import_module(unique_name).__file__ is not None  # regular, not namespace
    assert leftovers(root) == []


def test_existing_namespace_parent_is_accepted(root: Path, unique_name: str) -> None:
    (root / unique_name).mkdir()
    modwrite.write_module(f"{unique_name}.mod", "X = 1\n", root=root)
    assert importlib.import_module(f"{unique_name}.mod").X == 1


def test_parent_that_is_a_file_is_an_error(root: Path) -> None:
    (root / "pkg").write_text("")
    with pytest.raises(modwrite.ModuleWriteError) as info:
        modwrite.write_module("pkg.mod", "", root=root, parents=True)
    assert info.value.errno == errno.ENOTDIR


def test_creating_a_parent_package_over_a_module_is_a_conflict(root: Path) -> None:
    (root / "pkg.py").write_text("")
    with pytest.raises(modwrite.ModuleConflictError):
        modwrite.write_module("pkg.mod", "", root=root, parents=True)
    assert sorted(p.name for p in root.iterdir()) == ["pkg.py"]


def test_a_package_of_the_same_name_is_a_conflict(root: Path) -> None:
    (root / "thing").mkdir()
    (root / "thing" / "__init__.py").write_text("")
    with pytest.raises(modwrite.ModuleConflictError) as info:
        modwrite.write_module("thing", "x = 1\n", root=root)
    assert info.value.errno == errno.EEXIST
    assert info.value.filename == str(root / "thing")
    assert not (root / "thing.py").exists()


def test_a_plain_directory_of_the_same_name_is_no_conflict(root: Path) -> None:
    (root / "thing").mkdir()
    modwrite.write_module("thing", "x = 1\n", root=root)
    assert importlib.import_module("thing").x == 1


@pytest.mark.parametrize("suffix", importlib.machinery.EXTENSION_SUFFIXES)
def test_an_extension_module_of_the_same_name_is_a_conflict(root: Path, suffix: str) -> None:
    (root / f"thing{suffix}").write_bytes(b"")
    with pytest.raises(modwrite.ModuleConflictError, match="extension"):
        modwrite.write_module("thing", "x = 1\n", root=root)
    assert not (root / "thing.py").exists()


def test_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(modwrite.ModuleWriteError) as info:
        modwrite.write_module("m", "", root=tmp_path / "missing")
    assert info.value.errno == errno.ENOENT
    assert "create_root=True" in str(info.value)
    assert not (tmp_path / "missing").exists()


def test_root_is_created_when_asked(tmp_path: Path) -> None:
    path = modwrite.write_module("m", "", root=tmp_path / "a" / "b", create_root=True)
    assert path.exists()


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("keep")
    with pytest.raises(modwrite.ModuleWriteError) as info:
        modwrite.write_module("m", "", root=tmp_path / "file")
    assert info.value.errno == errno.ENOTDIR
    assert (tmp_path / "file").read_text() == "keep"


@pytest.mark.parametrize("root_value", [None, 3, b"/tmp"], ids=repr)
def test_root_type_is_checked(root_value: object) -> None:
    with pytest.raises(modwrite.ArgumentTypeError):
        modwrite.write_module("m", "", root=root_value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("visibility", "everyone", modwrite.InvalidArgument),
        ("visibility_timeout", -1, modwrite.InvalidArgument),
        ("visibility_timeout", float("nan"), modwrite.InvalidArgument),
        ("visibility_timeout", "1", modwrite.ArgumentTypeError),
    ],
)
def test_options_are_checked_before_writing(
    root: Path, option: str, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        modwrite.write_module("m", "", root=root, **{option: value})  # type: ignore[arg-type]
    assert list(root.iterdir()) == []


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory on a read-only bind mount: EROFS even for root (a 0555
    mode would not stop root)."""
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "keep.py").write_text("KEEP = 1\n")
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(directory)], check=True)
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def test_read_only_root_is_refused_before_writing(read_only_dir: Path) -> None:
    with pytest.raises(modwrite.ModuleWriteError) as info:
        modwrite.write_module("keep", "KEEP = 2\n", root=read_only_dir)
    assert info.value.errno in (errno.EROFS, errno.EACCES)
    assert (read_only_dir / "keep.py").read_text() == "KEEP = 1\n"


def test_disk_full_keeps_the_old_file_and_leaves_no_temporary(tiny_fs: Path) -> None:
    modwrite.write_module("m", "OLD = 1\n", root=tiny_fs)
    big = "X = 1\n" + "#" * 200_000 + "\n"
    with pytest.raises(modwrite.ModuleWriteError) as info:
        modwrite.write_module("m", big, root=tiny_fs)
    assert info.value.errno == errno.ENOSPC
    assert (tiny_fs / "m.py").read_text() == "OLD = 1\n"
    assert leftovers(tiny_fs) == []


def test_failed_rename_keeps_the_old_file_and_leaves_no_temporary(root: Path) -> None:
    modwrite.write_module("m", "OLD = 1\n", root=root)
    failure = OSError(errno.EIO, "injected")
    with mock.patch.object(_atomic.os, "replace", side_effect=failure):
        with pytest.raises(modwrite.ModuleWriteError) as info:
            modwrite.write_module("m", "NEW = 1\n", root=root)
    assert info.value.errno == errno.EIO
    assert (root / "m.py").read_text() == "OLD = 1\n"
    assert leftovers(root) == []


def test_new_file_gets_open_permissions_under_the_umask(root: Path) -> None:
    old = os.umask(0o027)
    try:
        path = modwrite.write_module("m", "", root=root)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_replaced_file_keeps_its_permissions(root: Path) -> None:
    path = modwrite.write_module("m", "", root=root)
    path.chmod(0o604)
    modwrite.write_module("m", "x = 1\n", root=root)
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_fsync_only_when_durable(root: Path) -> None:
    with mock.patch.object(_atomic.os, "fsync", wraps=os.fsync) as fsync:
        modwrite.write_module("m", "", root=root)
        assert fsync.call_count == 0
        modwrite.write_module("m", "x = 1\n", root=root, durable=True)
        assert fsync.call_count == 2  # the file, then its directory


def test_temporary_names_are_never_importable_nor_listed(root: Path) -> None:
    import inspect
    import pkgutil

    name = _tempnames.temporary_name("mod.py")
    (root / name).write_text("x = 1\n")
    (root / _tempnames.temporary_name("pkg")).mkdir()
    assert [m.name for m in pkgutil.iter_modules([str(root)])] == []
    assert inspect.getmodulename(name) is None  # no suffix a finder would match


def test_concurrent_writers_of_one_name_never_tear(root: Path, unique_name: str) -> None:
    versions = [f"V = {i!r}\nPAD = {'x' * (i * 37 % 500)!r}\n" for i in range(40)]
    errors: list[BaseException] = []
    seen: set[str] = set()
    done = threading.Event()

    def writer(offset: int) -> None:
        try:
            for v in versions[offset::4]:
                modwrite.write_module(unique_name, v, root=root, visibility="process")
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        while not done.is_set():
            try:
                seen.add((root / f"{unique_name}.py").read_text())
            except FileNotFoundError:
                pass

    modwrite.write_module(unique_name, versions[0], root=root)
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert errors == []
    assert seen, "the reader never read the file: the check proved nothing"
    assert {s.rstrip("\n") + "\n" for s in seen} <= set(versions)
    final = (root / f"{unique_name}.py").read_text()
    assert final.rstrip("\n") + "\n" in {versions[i] for i in (36, 37, 38, 39)}
    assert leftovers(root) == []


_PROCESS_WRITER = """
import sys, modwrite
root, name, worker = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(25):
    modwrite.write_module(name, f"W = {worker}\\nI = {i}\\n", root=root, visibility="process")
    modwrite.write_module(f"{name}_{worker}_{i}", "", root=root, visibility="process")
"""


def test_concurrent_processes_never_tear_nor_lose_writes(root: Path, unique_name: str) -> None:
    from .conftest import child_env

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_WRITER, str(root), unique_name, str(w)],
            env=child_env(),
        )
        for w in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    names = {p.name for p in root.iterdir() if p.name != "__pycache__"}
    assert names == {f"{unique_name}.py"} | {
        f"{unique_name}_{w}_{i}.py" for w in range(3) for i in range(25)
    }
    final = (root / f"{unique_name}.py").read_text()
    assert final.rstrip("\n").endswith("I = 24")


def test_create_root_creates_nothing_when_a_parent_is_missing(tmp_path: Path) -> None:
    with pytest.raises(modwrite.ModuleWriteError):
        modwrite.write_module("a.b", "", root=tmp_path / "new", create_root=True)
    assert not (tmp_path / "new").exists()


def test_the_lock_is_released_even_with_a_forked_child_alive(root: Path) -> None:
    """[fork while locked] the child shares the open file description."""
    import fcntl

    from modwrite._lock import directory_lock

    release_read, release_write = os.pipe()
    with directory_lock(str(root)):
        pid = os.fork()
        if pid == 0:  # the child waits until the parent is done, then exits
            os.close(release_write)
            os.read(release_read, 1)
            os._exit(0)
    os.close(release_read)
    try:
        fd = os.open(root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held
        finally:
            os.close(fd)
    finally:
        os.write(release_write, b"x")
        os.close(release_write)
        os.waitpid(pid, 0)


def _lookups_during(fn: Callable[[], object]) -> list[str]:
    """The entries modwrite's write looks up (``lstat``) while *fn* runs."""
    from modwrite._lock import LockedDirectory

    seen: list[str] = []
    real = LockedDirectory.lookup

    def lookup(self: LockedDirectory, name: str) -> object:
        seen.append(name)
        return real(self, name)

    with mock.patch.object(LockedDirectory, "lookup", lookup):
        fn()
    return seen


def test_a_current_listing_spares_the_conflict_lookups(root: Path, unique_name: str) -> None:
    """[issue 7.2] after an import listed the directory (and nothing changed
    it since), the names that could shadow the new module are looked up in
    that listing, not on disk (nor in a listing of modwrite's own)."""
    from modwrite import _listing

    modwrite.write_and_import(f"{unique_name}_a", "", root=root, visibility="process")
    _listing._known.clear()
    with mock.patch.object(_listing.os, "listdir", side_effect=AssertionError("listed")):
        assert (
            _lookups_during(
                lambda: modwrite.write_module(
                    f"{unique_name}_b", "", root=root, visibility="process"
                )
            )
            == []
        )


def test_an_extension_created_after_the_listing_is_still_a_conflict(
    root: Path, unique_name: str
) -> None:
    """Another tool's change moves the directory's mtime: the listing is no
    longer current, and the lookups find the extension module."""
    modwrite.write_and_import(f"{unique_name}_a", "", root=root, visibility="process")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (root / f"{unique_name}_b{suffix}").write_bytes(b"")
    with pytest.raises(modwrite.ModuleConflictError):
        modwrite.write_module(f"{unique_name}_b", "", root=root, visibility="process")
    assert not (root / f"{unique_name}_b.py").exists()


def test_a_listing_on_a_whole_second_filesystem_is_not_trusted(
    coarse_ext4_dir: Path, unique_name: str
) -> None:
    """On 1-second timestamps a listing made in the second of a later
    change looks current: there the write looks the names up."""
    sys.path.insert(0, str(coarse_ext4_dir))
    modwrite.write_and_import(f"{unique_name}_a", "", root=coarse_ext4_dir, visibility="process")
    lookups = _lookups_during(
        lambda: modwrite.write_module(
            f"{unique_name}_b", "", root=coarse_ext4_dir, visibility="process"
        )
    )
    assert f"{unique_name}_b" in lookups


def test_a_whole_second_stock_listing_is_read_again_after_a_write(
    coarse_ext4_dir: Path, unique_name: str
) -> None:
    """The stock finder's listing is updated in O(1) only where mtimes have
    a sub-second part: on 1-second timestamps a file another tool created in
    the second of the listing keeps the directory's mtime, and only reading
    the directory again (as the write's invalidation did) shows it (review
    of issue 7: it stayed hidden)."""
    sys.path.insert(0, str(coarse_ext4_dir))
    modwrite.write_and_import(f"{unique_name}_a", "", root=coarse_ext4_dir, visibility="process")
    before = os.stat(coarse_ext4_dir)
    (coarse_ext4_dir / f"{unique_name}_other.py").write_text("V = 'other'\n")
    os.utime(coarse_ext4_dir, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same second
    modwrite.write_module(f"{unique_name}_b", "", root=coarse_ext4_dir, visibility="process")
    assert importlib.import_module(f"{unique_name}_other").V == "other"


@pytest.mark.parametrize("bytecode", [True, False], ids=["bytecode-on", "bytecode-off"])
def test_writes_without_imports_keep_their_own_listing(
    root: Path, unique_name: str, bytecode: bool
) -> None:
    """[issue 7.2] a code generator writing many modules and importing none:
    the first write lists the (small) directory, the next ones keep that
    listing current themselves and look nothing up for conflicts (also
    through the ``__pycache__`` the first pyc makes)."""
    from modwrite import _listing

    sys.dont_write_bytecode = not bytecode

    modwrite.write_module(f"{unique_name}_0", "", root=root, visibility="process")
    with mock.patch.object(_listing.os, "listdir", side_effect=AssertionError("listed")):
        for i in range(1, 4):
            assert (
                _lookups_during(
                    lambda i=i: modwrite.write_module(
                        f"{unique_name}_{i}", "", root=root, visibility="process"
                    )
                )
                == []
            )
    assert (root / "__pycache__").is_dir() is bytecode
    # A package directory of the same name, made by another program meanwhile.
    (root / f"{unique_name}_4").mkdir()
    (root / f"{unique_name}_4" / "__init__.py").write_text("")
    with pytest.raises(modwrite.ModuleConflictError):
        modwrite.write_module(f"{unique_name}_4", "", root=root, visibility="process")


def _write_over_a_file_the_listing_missed(root: Path, name: str) -> None:
    """Write module *name* over a file another program created in the
    listing's timestamp tick (the directory's mtime put back, as a coarse
    kernel clock would leave it); assert that the write kept its permission
    bits and landed a stamp above its own."""
    modwrite.write_module(f"{name}_0", "", root=root, visibility="process")
    before = os.stat(root)
    foreign = root / f"{name}_1.py"
    foreign.write_bytes(b"X = 1\n")
    foreign.chmod(0o600)
    os.utime(root, ns=(before.st_atime_ns, before.st_mtime_ns))
    old = os.stat(foreign)
    modwrite.write_module(f"{name}_1", "X = 2\n", root=root, visibility="process")
    new = os.stat(foreign)
    assert stat.S_IMODE(new.st_mode) == 0o600
    assert (new.st_mtime_ns // 10**9, new.st_size) > (old.st_mtime_ns // 10**9, old.st_size)


def test_a_file_the_listing_missed_still_gets_the_stamp_rule(root: Path, unique_name: str) -> None:
    """The stamp rule's lookup never trusts the listing alone: the file is
    found, its permission bits kept, and the new stamp lands above it."""
    _write_over_a_file_the_listing_missed(root, unique_name)


def test_the_stamp_rule_lookup_uses_the_effective_ids(tmp_path: Path, unique_name: str) -> None:
    """In a setuid-like process (real uid nobody, effective uid root) the
    lookup asks with the IDs the write itself uses: ``access()`` with the
    real ones cannot search the 0700 root and said "absent" (review of
    issue 7: the file then got 0644 and the stamp of the one it replaced)."""
    assert os.geteuid() == 0, "the test kit runs as root (see .ci/run)"
    root = tmp_path / "private"
    root.mkdir(mode=0o700)

    def as_setuid_program() -> None:
        os.setresuid(65534, 0, 0)
        _write_over_a_file_the_listing_missed(root, unique_name)

    assert run_in_child(as_setuid_program) == 0


def test_a_large_directory_is_not_listed_for_the_checks(root: Path, unique_name: str) -> None:
    from modwrite import _listing

    with (
        mock.patch.object(_listing, "_MAX_LISTED_SIZE", 0),
        mock.patch.object(_listing, "_BYTES_PER_WRITE", 0),
    ):
        modwrite.write_module(f"{unique_name}_0", "", root=root, visibility="process")
        with mock.patch.object(_listing.os, "listdir", side_effect=AssertionError("listed")):
            lookups = _lookups_during(
                lambda: modwrite.write_module(
                    f"{unique_name}_1", "", root=root, visibility="process"
                )
            )
    assert f"{unique_name}_1" in lookups


def test_a_large_directory_is_listed_once_its_writes_paid_for_it() -> None:
    """[issue 7.2] a code generator filling a large directory: its writes
    look names up until their lookups add up to a listing's cost (one write
    per _BYTES_PER_WRITE bytes of the directory), then it is listed; the
    count starts again for the next listing."""
    from modwrite import _listing

    key = (-1, -1)  # no real directory
    size = 3 * _listing._BYTES_PER_WRITE
    paid = [_listing._listing_paid_for(key, size) for _ in range(4)]
    assert paid == [False, False, True, False]
    assert not _listing._listing_paid_for(key, _listing._MAX_AMORTIZED_SIZE + 1)
    _listing._unlisted_writes.pop(key, None)


def test_another_programs_changes_do_not_make_each_write_list_the_directory(
    root: Path, unique_name: str
) -> None:
    """A directory that another program changes between two writes is not
    listed again at each write: beyond a tiny one, a listing waits until the
    writes' lookups have paid for it (review of issue 7: each write listed
    a directory of 7,600 entries, 2.9 ms instead of 0.15 ms)."""
    from modwrite import _listing

    for i in range(400):
        (root / f"{unique_name}_existing_{i}.py").write_bytes(b"")
    assert os.stat(root).st_size > _listing._MAX_LISTED_SIZE
    listings = []
    real_listdir = os.listdir

    def listdir(fd: int) -> list[str]:
        listings.append(fd)
        return real_listdir(fd)

    with mock.patch.object(_listing.os, "listdir", listdir):
        for i in range(6):
            (root / f"{unique_name}_other_{i}.py").write_bytes(b"")  # another program
            modwrite.write_module(f"{unique_name}_{i}", "", root=root, visibility="process")
    assert len(listings) <= 1


def test_a_large_directory_once_listed_spares_the_lookups(root: Path, unique_name: str) -> None:
    from modwrite import _listing

    with (
        mock.patch.object(_listing, "_MAX_LISTED_SIZE", 0),
        mock.patch.object(_listing, "_BYTES_PER_WRITE", 1 << 40),  # paid for at once
    ):
        modwrite.write_module(f"{unique_name}_0", "", root=root, visibility="process")
        with mock.patch.object(_listing.os, "listdir", side_effect=AssertionError("listed")):
            lookups = _lookups_during(
                lambda: modwrite.write_module(
                    f"{unique_name}_1", "", root=root, visibility="process"
                )
            )
    assert lookups == []


def test_only_the_latest_large_listing_is_kept(tmp_path: Path) -> None:
    """Large listings cost memory: writing into a second large directory
    drops the first one's listing, not the small ones'."""
    from modwrite import _listing

    dirs = [tmp_path / name for name in ("large1", "small", "large2")]
    for d in dirs:
        d.mkdir()
        for i in range(3):
            (d / f"m{i}.py").write_bytes(b"")
    keys = [(os.stat(d).st_dev, os.stat(d).st_ino) for d in dirs]
    with mock.patch.object(_listing, "_BYTES_PER_WRITE", 1 << 40):  # paid for at once
        for d in dirs:
            limit = 1 << 30 if d.name == "small" else 0  # the others count as large
            with mock.patch.object(_listing, "_LARGE_SIZE", limit):
                modwrite.write_module("new", "", root=d, visibility="process")
    assert [key in _listing._known for key in keys] == [False, True, True]


def test_the_known_listings_are_bounded(tmp_path: Path) -> None:
    from modwrite import _listing

    for i in range(_listing._MAX_DIRECTORIES + 5):
        directory = tmp_path / f"d{i}"
        directory.mkdir()
        modwrite.write_module("m", "", root=directory, visibility="process")
    assert len(_listing._known) <= _listing._MAX_DIRECTORIES
