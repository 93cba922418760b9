"""invalidate_caches(path): only the finders holding path, matched robustly (G5)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import modwrite


class SpyFinder(importlib.machinery.FileFinder):
    """A stock FileFinder that counts its invalidations, its fresh copies'
    included (modwrite replaces an invalidated FileFinder in the cache by a
    fresh copy of it)."""

    def __init__(self, path: str) -> None:
        super().__init__(path, *_loader_details())
        self._count = [0]  # shared with copies

    @property
    def invalidations(self) -> int:
        return self._count[0]

    def invalidate_caches(self) -> None:
        self._count[0] += 1
        super().invalidate_caches()


def _loader_details() -> list[tuple[type, list[str]]]:
    m = importlib.machinery
    return [
        (m.ExtensionFileLoader, list(m.EXTENSION_SUFFIXES)),
        (m.SourceFileLoader, list(m.SOURCE_SUFFIXES)),
        (m.SourcelessFileLoader, list(m.BYTECODE_SUFFIXES)),
    ]


def _spies(tmp_path: Path, count: int) -> list[SpyFinder]:
    spies = []
    for i in range(count):
        directory = tmp_path / f"d{i}"
        directory.mkdir()
        spy = SpyFinder(str(directory))
        sys.path_importer_cache[str(directory)] = spy
        spies.append(spy)
    return spies


def test_only_the_finder_of_the_directory_is_invalidated(tmp_path: Path) -> None:
    spies = _spies(tmp_path, 500)
    modwrite.invalidate_caches(tmp_path / "d7" / "new.py")
    assert [s.invalidations for s in spies].count(1) == 1
    assert spies[7].invalidations == 1


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(lambda d: str(d) + os.sep, id="trailing-separator"),
        pytest.param(lambda d: str(d) + os.sep + os.sep, id="double-separator"),
        pytest.param(lambda d: str(d.parent / "." / d.name), id="dot-segment"),
        pytest.param(lambda d: os.path.relpath(d), id="relative"),
    ],
)
def test_keys_are_matched_by_the_directory_they_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: object
) -> None:
    directory = tmp_path / "pkgdir"
    directory.mkdir()
    monkeypatch.chdir(tmp_path)
    key = spelling(directory)  # type: ignore[operator]
    spy = SpyFinder(key)
    sys.path_importer_cache[key] = spy
    modwrite.invalidate_caches(str(directory / "m.py"))
    assert spy.invalidations == 1


def test_empty_entry_is_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spy = SpyFinder("")
    sys.path_importer_cache[""] = spy
    modwrite.invalidate_caches("m.py")
    assert spy.invalidations == 1


def test_symlinked_entries_match_their_target(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    via_link = SpyFinder(str(link))
    sys.path_importer_cache[str(link)] = via_link
    via_real = SpyFinder(str(real))
    sys.path_importer_cache[str(real)] = via_real
    modwrite.invalidate_caches(real / "m.py")
    assert (via_link.invalidations, via_real.invalidations) == (1, 1)
    modwrite.invalidate_caches(link / "m.py")
    assert (via_link.invalidations, via_real.invalidations) == (2, 2)


def test_a_directory_invalidates_itself_and_its_parent(tmp_path: Path) -> None:
    spies = _spies(tmp_path, 3)
    parent = SpyFinder(str(tmp_path))
    sys.path_importer_cache[str(tmp_path)] = parent
    modwrite.invalidate_caches(tmp_path / "d1")
    assert [s.invalidations for s in spies] == [0, 1, 0]
    assert parent.invalidations == 1


def test_directory_created_after_the_first_lookup_becomes_importable(
    tmp_path: Path, unique_name: str
) -> None:
    late = tmp_path / "late" / "deeper"
    sys.path.insert(0, str(late))
    with pytest.raises(ImportError):
        importlib.import_module(unique_name)
    assert sys.path_importer_cache[str(late)] is None  # the negative entry
    sys.path_importer_cache[str(tmp_path / "late")] = None
    late.mkdir(parents=True)
    (late / f"{unique_name}.py").write_text("X = 1\n")
    modwrite.invalidate_caches(late / f"{unique_name}.py")
    assert str(late) not in sys.path_importer_cache
    assert str(tmp_path / "late") not in sys.path_importer_cache
    assert importlib.import_module(unique_name).X == 1


def test_no_argument_is_importlib_invalidate_caches(tmp_path: Path) -> None:
    spies = _spies(tmp_path, 3)
    modwrite.invalidate_caches()
    assert [s.invalidations for s in spies] == [1, 1, 1]


def test_new_namespace_portion_is_seen_after_invalidating_its_directory(
    tmp_path: Path, unique_name: str
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / unique_name).mkdir(parents=True)
    (first / unique_name / "a.py").write_text("")
    second.mkdir()
    sys.path[:0] = [str(first), str(second)]
    namespace = importlib.import_module(unique_name)
    assert list(namespace.__path__) == [str(first / unique_name)]
    (second / unique_name).mkdir()
    (second / unique_name / "b.py").write_text("B = 2\n")
    modwrite.invalidate_caches(second / unique_name)
    assert importlib.import_module(f"{unique_name}.b").B == 2
    assert str(second / unique_name) in list(namespace.__path__)


def test_new_distribution_metadata_is_seen(tmp_path: Path, unique_name: str) -> None:
    sys.path.insert(0, str(tmp_path))
    dist = unique_name.replace("_", "-")
    assert list(importlib.metadata.distributions(path=[str(tmp_path)])) == []
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version(dist)
    info = tmp_path / f"{unique_name}-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2\n")
    modwrite.invalidate_caches(info)
    assert importlib.metadata.version(dist) == "1.2"


@pytest.mark.parametrize("path", [3, b"/tmp", object()], ids=repr)
def test_path_type_is_checked(path: object) -> None:
    with pytest.raises(modwrite.ArgumentTypeError):
        modwrite.invalidate_caches(path)  # type: ignore[arg-type]


def test_the_cost_does_not_grow_with_the_cache(tmp_path: Path) -> None:
    """[flat cost] the same system calls for one invalidation with 10 and
    with 1000 directories in sys.path_importer_cache."""
    counts = []
    for size in (10, 1000):
        sys.path_importer_cache.clear()
        (tmp_path / str(size)).mkdir()
        _spies(tmp_path / str(size), size)
        target = tmp_path / str(size) / "d3" / "new.py"
        modwrite.invalidate_caches(target)  # the index is built once per change of keys
        with (
            mock.patch.object(os, "stat", wraps=os.stat) as stat,
            mock.patch.object(os.path, "realpath", wraps=os.path.realpath) as realpath,
        ):
            modwrite.invalidate_caches(target)
        counts.append((stat.call_count, realpath.call_count))
    assert counts[0] == counts[1]


def _work_done(fn: Callable[[], object]) -> list[str]:
    """What *fn* executes, in order: the Python and C functions it calls
    (``sys.setprofile``) and every line of Python it runs (``sys.settrace``:
    a loop without calls shows too)."""
    done: list[str] = []

    def profile(frame: Any, event: str, arg: object) -> None:
        if event == "call":
            done.append(frame.f_code.co_name)
        elif event == "c_call":
            done.append(getattr(arg, "__name__", "?"))

    def trace(frame: Any, event: str, arg: object) -> Any:
        if event == "line":
            done.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        return trace

    sys.setprofile(profile)
    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(None)
        sys.setprofile(None)
    return done


def test_a_cold_call_does_the_same_work_whatever_the_size_of_sys_path(
    tmp_path: Path,
) -> None:
    """[issue 7.3, flat] a call about a file just written, after an import,
    makes the same calls and runs the same lines with 10 and with 1000
    directories on sys.path: what grows in bench [4]'s cold figures is the
    memory hierarchy (an empty call grows as much), not work."""
    made = []
    for size in (10, 1000):
        sys.path_importer_cache.clear()
        base = tmp_path / str(size)
        base.mkdir()
        entries = [base / f"d{i}" for i in range(size)]
        for d in entries:
            d.mkdir()
            sys.path_importer_cache[str(d)] = importlib.machinery.FileFinder(
                str(d), (importlib.machinery.SourceFileLoader, [".py"])
            )
        modwrite.invalidate_caches(entries[0] / "warm.py")  # the index is built
        new = entries[size // 2] / "new.py"
        new.write_bytes(b"")
        made.append(_work_done(lambda new=new: modwrite.invalidate_caches(new)))
    assert made[0] == made[1]
    assert "invalidate_caches" in made[0]


@pytest.mark.coarse
@pytest.mark.parametrize("machinery", ["stock", "modwrite"])
@pytest.mark.parametrize("mount", ["frozen_dir", "fat_dir"])
def test_a_listing_in_flight_in_another_thread_does_not_hide_the_write(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    mount: str,
    machinery: str,
    unique_name: str,
) -> None:
    """[issue 6.9] G1 whatever other threads import: thread R reads the
    directory's mtime and lists it; write_module() in this thread lands and
    invalidates; then R stores the mtime it read before the landing with its
    listing from before it.  This thread must still find its module (it did
    not, 5 of 5 times, when invalidating meant resetting the finder R holds).
    On a mount whose directory mtimes never move the interleaving is exact;
    on the 2-second one it holds within a tick."""
    directory: Path = request.getfixturevalue(mount)
    if machinery == "modwrite":
        installation = modwrite.install()
        request.addfinalizer(installation.uninstall)
    sys.path.insert(0, str(directory))
    modwrite.write_module(f"{unique_name}_first", "", root=directory, visibility="process")
    importlib.import_module(f"{unique_name}_first")  # the finder is cached
    finder = sys.path_importer_cache[str(directory)]
    listed, resume = threading.Event(), threading.Event()
    real_fill = type(finder)._fill_cache

    def fill_then_wait(self: importlib.machinery.FileFinder) -> None:
        real_fill(self)
        if self is finder and not listed.is_set():  # R: listed; let the writer land
            listed.set()
            assert resume.wait(30)

    monkeypatch.setattr(type(finder), "_fill_cache", fill_then_wait)
    finder.invalidate_caches()
    reader = threading.Thread(
        target=lambda: importlib.util.find_spec(f"{unique_name}_absent"), daemon=True
    )
    reader.start()
    assert listed.wait(30)
    modwrite.write_module(unique_name, "V = 1\n", root=directory, visibility="process")
    resume.set()
    reader.join(30)
    assert importlib.import_module(unique_name).V == 1


def test_a_finder_someone_kept_is_invalidated_too(tmp_path: Path, unique_name: str) -> None:
    """The cache gets a fresh copy of a FileFinder; the object that code such
    as ``pkgutil.get_importer`` kept is reset as well."""
    import pkgutil

    sys.path.insert(0, str(tmp_path))
    kept = pkgutil.get_importer(str(tmp_path))
    assert isinstance(kept, importlib.machinery.FileFinder)
    assert kept.find_spec(unique_name) is None  # listed: the module is not there
    (tmp_path / f"{unique_name}.py").write_text("V = 1\n")
    os.utime(tmp_path, ns=(0, tmp_path.stat().st_mtime_ns))  # the mtime says nothing changed
    kept._path_mtime = tmp_path.stat().st_mtime  # type: ignore[attr-defined]
    modwrite.invalidate_caches(tmp_path / f"{unique_name}.py")
    assert kept.find_spec(unique_name) is not None
    assert sys.path_importer_cache[str(tmp_path)].find_spec(unique_name) is not None


def test_a_finder_subclass_with_slots_is_reset_in_place(tmp_path: Path) -> None:
    class TracingFinder(importlib.machinery.FileFinder):
        __slots__ = ("hits",)

        def __init__(self, path: str) -> None:
            super().__init__(path, *_loader_details())
            self.hits = 0

    finder = TracingFinder(str(tmp_path))
    sys.path_importer_cache[str(tmp_path)] = finder
    modwrite.invalidate_caches(tmp_path / "m.py")
    assert sys.path_importer_cache[str(tmp_path)] is finder
    assert finder.hits == 0


# -- the plans: what a call knows about a directory, kept per epoch ------------


@contextlib.contextmanager
def _system_calls() -> Iterator[Callable[[], tuple[int, int]]]:
    """Count the calls of os.stat and os.path.realpath within the block:
    yields a function giving (stat calls, realpath calls) so far."""
    with (
        mock.patch.object(os, "stat", wraps=os.stat) as stat,
        mock.patch.object(os.path, "realpath", wraps=os.path.realpath) as realpath,
    ):
        yield lambda: (stat.call_count, realpath.call_count)


@pytest.mark.parametrize("size", [10, 1000])
def test_the_first_call_about_a_sys_path_directory_resolves_nothing(
    tmp_path: Path, size: int
) -> None:
    """[cold, flat] a call about a new file in a directory of sys.path, the
    first about that directory, makes no system call: the plans of the keys'
    directories are made when the keys are indexed (a realpath each, then)."""
    spies = _spies(tmp_path, size)
    modwrite.invalidate_caches(tmp_path / "d0" / "warm.py")  # the index is built
    with _system_calls() as calls:
        for i in (3, 7, size - 1):
            modwrite.invalidate_caches(tmp_path / f"d{i}" / f"new{i}.py")
        assert calls() == (0, 0)
    assert [i for i, s in enumerate(spies) if s.invalidations] == [0, 3, 7, size - 1]


def test_adding_a_key_resolves_that_key_only(tmp_path: Path) -> None:
    """A key added to a big cache is indexed alone (one realpath), and the
    other directories are checked with one stat at their next call, not
    resolved again."""
    spies = _spies(tmp_path, 1000)
    modwrite.invalidate_caches(tmp_path / "d0" / "warm.py")
    (tmp_path / "extra").mkdir()
    with _system_calls() as calls:
        sys.path_importer_cache[str(tmp_path / "extra")] = SpyFinder(str(tmp_path / "extra"))
        modwrite.invalidate_caches(tmp_path / "d5" / "new.py")
        assert calls() == (2, 1)  # the new key: stat + realpath; d5: stat
    assert spies[5].invalidations == 1


def test_a_retargeted_symlink_is_seen_once_the_keys_change(tmp_path: Path) -> None:
    """A plan is kept while the cache's keys do not change; after they did,
    the first call about a directory checks (one stat) that its spelling
    still names the directory it resolved to.  A symlink re-pointed
    meanwhile is then followed: the finder keyed on its new target and the
    one keyed on the link itself are both invalidated."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    link = tmp_path / "current"
    link.symlink_to(first, target_is_directory=True)
    via_link, at_first, at_second = (
        SpyFinder(str(link)),
        SpyFinder(str(first)),
        SpyFinder(str(second)),
    )
    for spy in (via_link, at_first, at_second):
        sys.path_importer_cache[spy.path] = spy
    modwrite.invalidate_caches(link / "m.py")
    counts = (via_link.invalidations, at_first.invalidations, at_second.invalidations)
    assert counts == (1, 1, 0)
    staged = tmp_path / "staged"
    staged.symlink_to(second, target_is_directory=True)
    os.replace(staged, link)  # re-pointed atomically, as deployments do
    sys.path_importer_cache[str(tmp_path / "other")] = None  # the keys change
    modwrite.invalidate_caches(link / "m.py")
    counts = (via_link.invalidations, at_first.invalidations, at_second.invalidations)
    assert counts == (2, 1, 1)
    modwrite.invalidate_caches(second / "n.py")  # the link's key was indexed again
    counts = (via_link.invalidations, at_first.invalidations, at_second.invalidations)
    assert counts == (3, 1, 2)


def test_a_replaced_directory_is_resolved_again(tmp_path: Path) -> None:
    """The check is by identity (device, inode), not by spelling: a
    directory removed and replaced by a symlink elsewhere is resolved again."""
    real = tmp_path / "real"
    real.mkdir()
    moving = tmp_path / "moving"
    moving.mkdir()
    at_moving, at_real = SpyFinder(str(moving)), SpyFinder(str(real))
    sys.path_importer_cache[str(moving)] = at_moving
    sys.path_importer_cache[str(real)] = at_real
    modwrite.invalidate_caches(moving / "m.py")
    assert (at_moving.invalidations, at_real.invalidations) == (1, 0)
    moving.rmdir()
    moving.symlink_to(real, target_is_directory=True)
    sys.path_importer_cache[str(tmp_path / "other")] = None  # the keys change
    modwrite.invalidate_caches(moving / "m.py")
    assert (at_moving.invalidations, at_real.invalidations) == (2, 1)


def test_keys_of_a_cleared_or_replaced_cache_are_indexed_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "d"
    directory.mkdir()
    first = SpyFinder(str(directory))
    sys.path_importer_cache[str(directory)] = first
    modwrite.invalidate_caches(directory / "m.py")
    assert first.invalidations == 1
    sys.path_importer_cache.clear()  # then the same directory, spelled otherwise
    second = SpyFinder(str(directory) + os.sep)
    sys.path_importer_cache[str(directory) + os.sep] = second
    modwrite.invalidate_caches(directory / "m.py")
    assert (first.invalidations, second.invalidations) == (1, 1)
    replacement = {str(directory) + os.sep + os.sep: SpyFinder(str(directory))}
    monkeypatch.setattr(sys, "path_importer_cache", replacement)
    modwrite.invalidate_caches(directory / "m.py")
    assert replacement[str(directory) + os.sep + os.sep].invalidations == 1
    assert second.invalidations == 1


def test_a_key_removed_and_another_added_is_seen(tmp_path: Path) -> None:
    """The cache's size is unchanged; its last key says it changed."""
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    sys.path_importer_cache[str(old_dir)] = SpyFinder(str(old_dir))
    modwrite.invalidate_caches(old_dir / "m.py")
    del sys.path_importer_cache[str(old_dir)]
    spy = SpyFinder(str(new_dir))
    sys.path_importer_cache[str(new_dir) + os.sep] = spy
    modwrite.invalidate_caches(new_dir / "m.py")
    assert spy.invalidations == 1


def test_the_key_spelled_as_the_directory_is_found_even_unindexed(tmp_path: Path) -> None:
    """The cache changed in a way its (size, last key) does not show: a key
    removed, another added, and the last one removed and put back.  The
    index misses the new key until the next change, but a key spelled
    exactly as the directory is always tried."""
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    last = str(c)
    sys.path_importer_cache[str(a)] = SpyFinder(str(a))
    sys.path_importer_cache[last] = SpyFinder(last)
    modwrite.invalidate_caches(a / "m.py")
    del sys.path_importer_cache[str(a)]
    kept = sys.path_importer_cache.pop(last)
    spy = SpyFinder(str(b))
    sys.path_importer_cache[str(b)] = spy
    sys.path_importer_cache[last] = kept  # the same key object, last again
    modwrite.invalidate_caches(b / "m.py")
    assert spy.invalidations == 1


def test_none_entry_of_the_path_itself_is_dropped(tmp_path: Path) -> None:
    missing = tmp_path / "later"
    sys.path_importer_cache[str(missing)] = None
    sys.path_importer_cache[str(tmp_path / "later.py")] = None
    modwrite.invalidate_caches(tmp_path / "later.py")
    assert str(tmp_path / "later.py") not in sys.path_importer_cache
    assert sys.path_importer_cache[str(missing)] is None  # not an ancestor: kept
    modwrite.invalidate_caches(missing)  # still missing: not a directory
    assert str(missing) not in sys.path_importer_cache


def test_directories_no_key_names_are_remembered_within_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modwrite import _invalidate

    monkeypatch.setattr(_invalidate._KeyIndex, "_LIMIT", 8)
    spies = _spies(tmp_path, 3)
    index = _invalidate._index
    most = (0, 0)
    rounds = 2 * len(sys.path_importer_cache) + 20
    for i in range(rounds):
        modwrite.invalidate_caches(tmp_path / f"elsewhere{i}" / "m.py")
        modwrite.invalidate_caches(tmp_path / "d1" / "m.py")
        most = max(most[0], len(index.plans)), max(most[1], len(index._resolved))
    assert most[0] <= len(index.by_spelling) + 8
    assert most[1] <= len(index.by_spelling) + 8
    assert [s.invalidations for s in spies] == [0, rounds, 0]


def test_a_finder_is_reset_inline_only_when_that_is_all_its_method_does() -> None:
    from modwrite import _invalidate
    from modwrite import _machinery as mw_machinery

    assert _invalidate._reset_value(importlib.machinery.FileFinder) == -1
    assert _invalidate._reset_value(mw_machinery.FileFinder) == -1.0

    class ClearsMore(importlib.machinery.FileFinder):
        def invalidate_caches(self) -> None:
            self._path_mtime = -1
            self._path_cache = set()

    class Reads(importlib.machinery.FileFinder):
        def invalidate_caches(self) -> None:
            self._path_mtime = self._path_mtime - self._path_mtime - 1

    class CallsOut(importlib.machinery.FileFinder):
        def invalidate_caches(self) -> None:
            print(end="")
            self._path_mtime = -1

    for cls in (ClearsMore, Reads, CallsOut):
        assert _invalidate._reset_value(cls) is _invalidate._MISSING, cls


@pytest.mark.parametrize("machinery", ["stock", "modwrite"])
def test_a_copied_finder_and_the_old_object_are_both_reset(tmp_path: Path, machinery: str) -> None:
    from modwrite import _machinery as mw_machinery

    details = mw_machinery._get_supported_file_loaders()
    cls = importlib.machinery.FileFinder if machinery == "stock" else mw_machinery.FileFinder
    finder = cls(str(tmp_path), *details)
    finder._path_mtime = 123.0  # type: ignore[attr-defined]
    sys.path_importer_cache[str(tmp_path)] = finder
    modwrite.invalidate_caches(tmp_path / "m.py")
    fresh = sys.path_importer_cache[str(tmp_path)]
    assert fresh is not finder and type(fresh) is cls
    assert fresh._path_mtime == finder._path_mtime == (-1 if machinery == "stock" else -1.0)  # type: ignore[attr-defined]
    assert fresh.path == finder.path


def _listings_during(fn: Callable[[], object]) -> int:
    """How many directories the import system lists while *fn* runs."""
    external = sys.modules["importlib._bootstrap_external"]
    calls = 0
    real = external._os.listdir

    def listdir(path: str = ".") -> list[str]:
        nonlocal calls
        calls += 1
        return real(path)

    with mock.patch.object(external._os, "listdir", listdir):
        fn()
    return calls


def test_a_write_updates_a_current_stock_listing_without_reading_the_directory(
    root: Path, unique_name: str
) -> None:
    """[issue 7.2] the stock FileFinder's listing, current before the
    landing, gets the new name in O(1): the import that follows finds the
    module without listing the directory again."""
    # With bytecode writing on, the stock import below makes __pycache__
    # after its listing, which is then no longer current: made beforehand.
    (root / "__pycache__").mkdir()
    (root / "first_mw_mod.py").write_text("")
    importlib.import_module("first_mw_mod")  # the finder lists the directory
    finder = sys.path_importer_cache[str(root)]
    assert type(finder) is importlib.machinery.FileFinder
    modwrite.write_module(unique_name, "X = 1\n", root=root, visibility="process")
    listings = _listings_during(lambda: importlib.import_module(unique_name))
    assert (listings, sys.modules[unique_name].X) == (0, 1)


def test_the_first_pyc_of_a_directory_keeps_the_stock_listing_current(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """The first write into a directory with bytecode writing on also makes
    its ``__pycache__``, a second change of the directory: the stock
    finder's listing is kept current through it too."""
    finder = importlib.machinery.FileFinder(
        str(root), (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)
    )
    sys.path_importer_cache[str(root)] = finder
    assert finder.find_spec("not_there_mw") is None  # lists the empty directory
    modwrite.write_module(unique_name, "X = 1\n", root=root, visibility="process")
    assert (root / "__pycache__").is_dir()  # bytecode writing was on
    listings = _listings_during(lambda: importlib.import_module(unique_name))
    assert (listings, sys.modules[unique_name].X) == (0, 1)


def test_a_stale_stock_listing_is_read_again(root: Path, unique_name: str) -> None:
    """Another tool changed the directory since the finder listed it: the
    listing is not current, so it is not patched but read again."""
    (root / "first_mw_mod2.py").write_text("")
    importlib.import_module("first_mw_mod2")
    (root / "other_tool_mw.py").write_text("Y = 2\n")
    st = os.stat(root)
    os.utime(root, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the tool's change
    modwrite.write_module(unique_name, "X = 1\n", root=root, visibility="process")
    listings = _listings_during(lambda: importlib.import_module(unique_name))
    assert listings == 1
    assert importlib.import_module("other_tool_mw").Y == 2
