"""invalidate_caches(path): only the finders holding path, matched robustly (G5)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import sys
import threading
from pathlib import Path

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
    from unittest import mock

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
