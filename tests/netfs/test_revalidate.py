"""``modwrite.invalidate_caches(path)`` before a change check: the check lists
the directories under *path* and reads their modules' sources instead of
trusting a ``stat``, which a network filesystem's client may answer from its
attribute cache.  Here on the local filesystem, with such a cache simulated
(``stat`` answers from a snapshot until the directory is listed), so that
the logic is tested on every interpreter in a few milliseconds; the real
caches are in test_two_hosts.py."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import modwrite
from modwrite import _changes, _invalidate


@pytest.fixture(autouse=True)
def no_pending_revalidation() -> Iterator[None]:
    _invalidate.take_revalidations()
    yield
    _invalidate.take_revalidations()


class CachingClient:
    """``os`` as seen through a client that caches attributes: ``stat`` of a
    path in *cached* answers the snapshot taken, until its directory is
    listed (which revalidates the directory, as on NFS and FUSE)."""

    def __init__(self, paths: list[Path]) -> None:
        self.cached = {str(p): os.stat(p) for p in paths}
        self.listed: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def stat(self, path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        cached = self.cached.get(os.fspath(path))
        return cached if cached is not None else os.stat(path, *args, **kwargs)

    def listdir(self, path: Any = ".") -> list[str]:
        directory = os.fspath(path)
        self.listed.append(directory)
        for cached in list(self.cached):
            if os.path.dirname(cached) == directory:
                del self.cached[cached]
        return os.listdir(path)


def _loaded(root: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """*name* imported from *root* and checked once, its record settled (a
    ``stat`` key equal to it then proves the content unchanged)."""
    monkeypatch.setattr(_changes, "_SETTLE_NS", -(10**18))
    module = importlib.import_module(name)
    assert modwrite.changed_modules([module]) == []
    return module


def _rewrite_behind_the_cache(
    monkeypatch: pytest.MonkeyPatch, path: Path, source: str
) -> CachingClient:
    client = CachingClient([path])
    monkeypatch.setattr(_changes, "os", client)
    path.write_text(source)  # same size: only the content tells
    return client


def test_control_a_cached_stat_hides_the_change(
    root: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 1\n")
    _loaded(root, unique_name, monkeypatch)
    client = _rewrite_behind_the_cache(monkeypatch, path, "V = 2\n")
    assert modwrite.changed_modules() == []
    assert client.listed == []


@pytest.mark.parametrize("named", ["file", "directory"])
def test_invalidate_caches_makes_the_next_check_list_and_read(
    root: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch, named: str
) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 1\n")
    module = _loaded(root, unique_name, monkeypatch)
    client = _rewrite_behind_the_cache(monkeypatch, path, "V = 2\n")
    modwrite.invalidate_caches(path if named == "file" else root)
    assert modwrite.reload_changed() == [module]
    assert module.V == 2
    assert client.listed == [str(root)]  # once, for the directory of the module
    # Taken by that check: the next one trusts the stat again.
    assert _invalidate.take_revalidations() == (False, frozenset())


def test_a_directory_covers_the_packages_below_it(
    root: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = root / unique_name
    (package / "sub").mkdir(parents=True)
    for directory in (package, package / "sub"):
        (directory / "__init__.py").write_text("")
    leaf = package / "sub" / "leaf.py"
    leaf.write_text("V = 1\n")
    module = _loaded(root, f"{unique_name}.sub.leaf", monkeypatch)
    client = _rewrite_behind_the_cache(monkeypatch, leaf, "V = 2\n")
    modwrite.invalidate_caches(package)
    assert modwrite.changed_modules() == [module]
    assert str(package / "sub") in client.listed


def test_a_check_of_some_modules_keeps_the_others_pending(
    root: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 1\n")
    module = _loaded(root, unique_name, monkeypatch)
    _rewrite_behind_the_cache(monkeypatch, path, "V = 2\n")
    modwrite.invalidate_caches(root)
    assert modwrite.changed_modules([]) == []
    assert modwrite.changed_modules() == [module]


def test_what_invalidate_caches_notes(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    modwrite.invalidate_caches(tmp_path / "mod.py")
    modwrite.invalidate_caches(tmp_path / "pkg")
    modwrite.invalidate_caches(str(tmp_path / "data.txt"))  # not a directory: its parent
    assert _invalidate.take_revalidations() == (
        False,
        frozenset({str(tmp_path), str(tmp_path / "pkg")}),
    )
    modwrite.invalidate_caches()
    assert _invalidate.take_revalidations() == (True, frozenset())
    for i in range(_invalidate._MAX_REVALIDATIONS + 1):
        modwrite.invalidate_caches(tmp_path / f"d{i}" / "m.py")
    everything, directories = _invalidate.take_revalidations()
    assert everything and len(directories) <= _invalidate._MAX_REVALIDATIONS


def test_reload_and_writes_note_nothing(root: Path, unique_name: str) -> None:
    """Only a caller's invalidate_caches() asks for a revalidation: the
    invalidations inside reload() and write_module() do not (they would
    make the next check list and read for nothing)."""
    module = modwrite.write_and_import(unique_name, "V = 1\n", root=root)
    modwrite.write_module(unique_name, "V = 2\n", root=root)
    modwrite.reload(module)
    assert module.V == 2
    assert _invalidate.take_revalidations() == (False, frozenset())
