"""No process runs bytecode older than the source modwrite landed (G3).

Every test here runs with bytecode writing on and proves it (a pyc exists
after the first import).  The environment of the development machines sets
PYTHONDONTWRITEBYTECODE=1, which hides the bug entirely.
"""

from __future__ import annotations

import importlib
import importlib.util
import marshal
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import modwrite
from modwrite._stamp import MAX_MTIME_LEAD_S, Stamp, make_stamp_unique, stamp_of

from .conftest import child_env

REWRITES = int(os.environ.get("MODWRITE_TEST_REWRITES", "200"))
FRESH_REWRITES = int(os.environ.get("MODWRITE_TEST_FRESH_REWRITES", "40"))


#: Who writes the bytecode the readers use: the importers (timestamp pycs,
#: kept honest by the stamp rule) or modwrite at write time (a checked
#: hash-based pyc); every G3 test runs both ways.
pyc_at_write = pytest.mark.parametrize(
    "pyc_at_write", [False, True], ids=["importer-pycs", "write-time-pyc"]
)


def _version(i: int) -> str:
    """Versions of one size: 'V = 10000\\n', 'V = 10001\\n', ..."""
    return f"V = {10000 + i}\n"


@pyc_at_write
def test_same_size_same_second_rewrites_reload_the_new_code(
    root: Path, unique_name: str, bytecode_on: None, pyc_at_write: bool
) -> None:
    path = modwrite.write_module(
        unique_name, _version(0), root=root, visibility="process", bytecode=pyc_at_write
    )
    module = importlib.import_module(unique_name)
    pyc = Path(importlib.util.cache_from_source(str(path)))
    assert pyc.exists(), "bytecode writing is off: the test would prove nothing"
    stale = same_second = 0
    last = int(time.time())
    for i in range(1, REWRITES + 1):
        modwrite.write_module(
            unique_name, _version(i), root=root, visibility="process", bytecode=pyc_at_write
        )
        now = int(time.time())
        same_second += now == last  # this rewrite shares its second with the last
        last = now
        stale += 10000 + i != importlib.reload(module).V
    assert stale == 0
    # The hazard was exercised: most rewrites fell in one second with another.
    assert same_second >= REWRITES * 0.9
    # The stamp rule's side effects stay bounded.
    assert path.stat().st_mtime <= time.time() + MAX_MTIME_LEAD_S + 1


def test_plain_same_size_rewrite_runs_stale_code(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """Control: the check above can fail: without modwrite it does."""
    path = root / f"{unique_name}.py"
    path.write_text(_version(0))
    module = importlib.import_module(unique_name)
    assert Path(importlib.util.cache_from_source(str(path))).exists()
    first = path.stat()
    path.write_text(_version(1))
    os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns))  # pin the same second
    assert importlib.reload(module).V == 10000


_CHILD = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
assert not sys.dont_write_bytecode
print(importlib.import_module(sys.argv[2]).V - 10000)
"""


def _fresh_import(root: Path, name: str, *flags: str) -> int:
    out = subprocess.run(
        [sys.executable, *flags, "-c", _CHILD, str(root), name],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(out.stdout)


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param((), id="plain"),
        pytest.param(("-O",), id="O"),
        pytest.param(("-OO",), id="OO"),
        pytest.param(("-X", "pycache_prefix={prefix}"), id="pycache_prefix"),
    ],
)
@pyc_at_write
def test_fresh_processes_never_run_stale_bytecode(
    root: Path, tmp_path: Path, unique_name: str, flags: tuple[str, ...], pyc_at_write: bool
) -> None:
    sys.dont_write_bytecode = not pyc_at_write  # the writer's; the children write theirs
    flags = tuple(f.format(prefix=tmp_path / "prefix") for f in flags)
    path = modwrite.write_module(unique_name, _version(0), root=root)
    assert _fresh_import(root, unique_name, *flags) == 0
    caches = list(root.rglob("*.pyc")) + list((tmp_path / "prefix").rglob("*.pyc"))
    assert caches, "no pyc was written: bytecode writing was off"
    for i in range(1, FRESH_REWRITES + 1):
        modwrite.write_module(unique_name, _version(i), root=root)
        assert _fresh_import(root, unique_name, *flags) == i
    assert path.read_text().rstrip("\n") == _version(FRESH_REWRITES).rstrip("\n")


def _timestamp_pyc(source: bytes, stamp: Stamp, path: str) -> bytes:
    """The pyc a stock reader writes (PEP 552, flags 0), as
    ``importlib._bootstrap_external._code_to_timestamp_pyc`` builds it."""
    code = compile(source, path, "exec", dont_inherit=True)
    return b"".join(
        (
            importlib.util.MAGIC_NUMBER,
            (0).to_bytes(4, "little"),
            (stamp.mtime_s & 0xFFFFFFFF).to_bytes(4, "little"),
            (stamp.size & 0xFFFFFFFF).to_bytes(4, "little"),
            marshal.dumps(code),
        )
    )


def _race_stock_reader(root: Path, name: str, write_new: object) -> int:
    """A stock process read the old source just before the landing and writes
    its pyc just after it; what does the next fresh process run?"""
    path = root / f"{name}.py"
    old_source = path.read_bytes()
    old_stamp = stamp_of(path.stat())
    write_new()  # type: ignore[operator]
    for optimization in ("", 1, 2):
        pyc = Path(importlib.util.cache_from_source(str(path), optimization=optimization))
        pyc.parent.mkdir(exist_ok=True)
        pyc.write_bytes(_timestamp_pyc(old_source, old_stamp, str(path)))
    return _fresh_import(root, name)


def test_racing_stock_reader_cannot_make_a_fresh_process_run_old_code(
    root: Path, unique_name: str
) -> None:
    modwrite.write_module(unique_name, _version(0), root=root)
    for i in range(1, 11):
        result = _race_stock_reader(
            root,
            unique_name,
            lambda i=i: modwrite.write_module(unique_name, _version(i), root=root),
        )
        assert result == i


def test_racing_stock_reader_control_without_modwrite(root: Path, unique_name: str) -> None:
    """Control: the same race against a plain write runs the old code."""
    path = root / f"{unique_name}.py"
    path.write_text(_version(0))

    def plain_write() -> None:
        st = path.stat()
        path.write_text(_version(1))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same second

    assert _race_stock_reader(root, unique_name, plain_write) == 0


# -- the stamp rule, deterministically ------------------------------------------


def _temp_with(tmp_path: Path, data: bytes, mtime_s: int) -> tuple[Path, object]:
    path = tmp_path / "new.py"
    f = open(path, "wb")  # noqa: SIM115 - closed by the caller
    f.write(data)
    f.flush()
    os.utime(f.fileno(), ns=(0, mtime_s * 1_000_000_000))
    return path, f


def test_later_second_keeps_the_natural_stamp(tmp_path: Path) -> None:
    path, f = _temp_with(tmp_path, b"V = 1\n", 1000)
    with f:  # type: ignore[attr-defined]
        make_stamp_unique(f, Stamp(999, 6), str(path))  # type: ignore[arg-type]
    assert stamp_of(path.stat()) == Stamp(1000, 6)


def test_longer_in_the_same_second_keeps_the_natural_stamp(tmp_path: Path) -> None:
    path, f = _temp_with(tmp_path, b"V = 10\n", 1000)
    with f:  # type: ignore[attr-defined]
        make_stamp_unique(f, Stamp(1000, 6), str(path))  # type: ignore[arg-type]
    assert stamp_of(path.stat()) == Stamp(1000, 7)


def test_same_size_same_second_moves_the_mtime_one_second(tmp_path: Path) -> None:
    path, f = _temp_with(tmp_path, b"V = 2\n", 1000)
    with f:  # type: ignore[attr-defined]
        make_stamp_unique(f, Stamp(1000, 6), str(path))  # type: ignore[arg-type]
    assert stamp_of(path.stat()) == Stamp(1001, 6)
    assert path.read_bytes() == b"V = 2\n"


def test_past_the_lead_the_file_grows_by_newlines(tmp_path: Path) -> None:
    path, f = _temp_with(tmp_path, b"V = 3\n", 1000)
    with f:  # type: ignore[attr-defined]
        make_stamp_unique(f, Stamp(1000 + MAX_MTIME_LEAD_S, 6), str(path))  # type: ignore[arg-type]
    assert stamp_of(path.stat()) == Stamp(1000 + MAX_MTIME_LEAD_S, 7)
    assert path.read_bytes() == b"V = 3\n\n"


def test_longer_behind_a_moved_predecessor_takes_its_second(tmp_path: Path) -> None:
    path, f = _temp_with(tmp_path, b"V = 30\n", 1000)
    with f:  # type: ignore[attr-defined]
        make_stamp_unique(f, Stamp(1001, 6), str(path))  # type: ignore[arg-type]
    assert stamp_of(path.stat()) == Stamp(1001, 7)


def test_predecessor_far_in_the_future_is_left_alone(tmp_path: Path) -> None:
    path, f = _temp_with(tmp_path, b"V = 3\n", 1000)
    with f:  # type: ignore[attr-defined]
        make_stamp_unique(f, Stamp(5000, 6), str(path))  # type: ignore[arg-type]
    assert stamp_of(path.stat()) == Stamp(1000, 6)


def test_stamps_strictly_increase_over_many_fast_rewrites(root: Path) -> None:
    stamps = []
    for i in range(300):
        path = modwrite.write_module("m", _version(i % 7), root=root, visibility="process")
        stamps.append(stamp_of(path.stat()))
    assert all(a < b for a, b in zip(stamps, stamps[1:]))
    assert stamps[-1].mtime_s <= int(time.time()) + MAX_MTIME_LEAD_S


def test_stamps_2_to_the_32_seconds_apart_get_distinct_headers(tmp_path: Path) -> None:
    """The pyc header keeps the mtime modulo 2**32 (CPython's
    ``test_source_mtime_long_long``): a predecessor dated 2**32 s ahead has
    the natural stamp's header; the new version is moved one second."""
    path, f = _temp_with(tmp_path, b"V = 3\n", 1000)
    with f:  # type: ignore[attr-defined]
        make_stamp_unique(f, Stamp(1000 + 2**32, 6), str(path))  # type: ignore[arg-type]
    assert stamp_of(path.stat()) == Stamp(1001, 6)


@pytest.mark.parametrize("writer", ["modwrite", "plain"])
def test_an_old_version_dated_2_to_the_32_seconds_ahead(
    root: Path, unique_name: str, writer: str
) -> None:
    """End to end: the old version's pyc header equals the new version's
    natural stamp; modwrite runs the new code, a plain write the old.  The
    old version's pyc is the timestamp pyc the first import writes (no pyc
    at write time, whatever this process's bytecode setting)."""
    path = modwrite.write_module(unique_name, _version(1), root=root, bytecode=False)
    assert not Path(importlib.util.cache_from_source(str(path))).exists()
    now = int(time.time())
    os.utime(path, (now + 2**32, now + 2**32))
    assert _fresh_import(root, unique_name) == 1  # writes the pyc
    if writer == "modwrite":
        modwrite.write_module(unique_name, _version(2), root=root)
        assert _fresh_import(root, unique_name) == 2
    else:
        path.write_text(_version(2))
        os.utime(path, (now, now))  # the natural stamp of a write in that second
        assert _fresh_import(root, unique_name) == 1


@pyc_at_write
def test_rewrites_within_one_second_have_distinct_nanosecond_mtimes(
    root: Path, unique_name: str, bytecode_on: None, pyc_at_write: bool
) -> None:
    """[issue 7.4] tools that compare st_mtime alone (IPython's autoreload,
    make, editors) missed versions 2-5 of six quick rewrites, which shared
    one whole-second mtime: on a filesystem with sub-second timestamps every
    version gets its own st_mtime_ns, and the (second, size) stamps still
    increase."""
    versions = ["V = 1\n", "V = 2\n", "V = 33\n", "V = 4\n", "V = 5\n", "V = 6\n"]
    path = modwrite.write_module(
        unique_name, versions[0], root=root, visibility="process", bytecode=pyc_at_write
    )
    module = importlib.import_module(unique_name)
    assert Path(importlib.util.cache_from_source(str(path))).exists()  # bytecode is on
    started = time.monotonic()
    seen = [(path.stat().st_mtime_ns, stamp_of(path.stat()))]
    for source in versions[1:]:
        modwrite.write_module(
            unique_name, source, root=root, visibility="process", bytecode=pyc_at_write
        )
        seen.append((path.stat().st_mtime_ns, stamp_of(path.stat())))
        assert int(source.split("=")[1]) == importlib.reload(module).V
    assert time.monotonic() - started < 1.0  # all within one second
    mtimes = [ns for ns, _ in seen]
    assert len(set(mtimes)) == len(versions), mtimes
    assert mtimes == sorted(mtimes)
    stamps = [stamp for _, stamp in seen]
    assert all(a < b for a, b in zip(stamps, stamps[1:])), stamps
