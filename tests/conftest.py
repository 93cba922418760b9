"""Shared fixtures: isolated import state, a root on sys.path, bytecode on."""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import modwrite._compile_once
import modwrite._invalidate
import modwrite._reload
import modwrite._write  # noqa: F401 - see import_state
from modwrite.pytest_plugin import ImportRoot

from .children import child_env  # noqa: F401 - the tests import it from here
from .faults import leftovers  # noqa: F401 - the tests import it from here

pytest_plugins = ["pytester", "tests.fskit.fixtures"]

_counter = itertools.count()


@pytest.fixture(autouse=True)
def import_state() -> Iterator[None]:
    """Snapshot and restore the import system's state around every test
    (CPython's ``test.test_importlib.util.import_state``).

    modwrite's lazily loaded modules are imported above, before any
    snapshot: a restore that dropped them would make the next test load a
    second copy (a second ``batch`` context variable) while the package keeps
    the first one's functions."""
    modules = dict(sys.modules)
    path = list(sys.path)
    meta_path = list(sys.meta_path)
    path_hooks = list(sys.path_hooks)
    importer_cache = dict(sys.path_importer_cache)
    dont_write = sys.dont_write_bytecode
    prefix = sys.pycache_prefix
    try:
        yield
    finally:
        sys.modules.clear()
        sys.modules.update(modules)
        sys.path[:] = path
        sys.meta_path[:] = meta_path
        sys.path_hooks[:] = path_hooks
        sys.path_importer_cache.clear()
        sys.path_importer_cache.update(importer_cache)
        sys.dont_write_bytecode = dont_write
        sys.pycache_prefix = prefix
        importlib.invalidate_caches()


@pytest.fixture
def unique_name() -> str:
    """A module name no other test uses (module caches are per process)."""
    return f"mw_t{os.getpid()}_{next(_counter)}"


@pytest.fixture
def root(modwrite_root: ImportRoot) -> Path:
    """An empty directory at the front of :data:`sys.path`: the plugin's
    ``modwrite_root`` (modwrite's own tests use the plugin they ship)."""
    return modwrite_root.path


@pytest.fixture
def bytecode_on() -> Iterator[None]:
    """Bytecode writing on for this test, whatever PYTHONDONTWRITEBYTECODE
    says (it is set on the development machines and hides bug 2)."""
    sys.dont_write_bytecode = False
    yield


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: small enough to fill."""
    directory = tmp_path / "tiny"
    directory.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


@contextmanager
def _reachable_dir(mode: int) -> Iterator[Path]:
    """A new directory under /tmp with permission bits *mode*, removed
    afterwards: one other users can reach (pytest's own temporary
    directories are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="modwrite-", dir="/tmp"))
    directory.chmod(mode)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory other users can reach and list (0755)."""
    with _reachable_dir(0o755) as directory:
        yield directory


@pytest.fixture
def sticky_dir() -> Iterator[Path]:
    """A world-writable sticky directory, as /tmp is (01777)."""
    with _reachable_dir(0o1777) as directory:
        yield directory
