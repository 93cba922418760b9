"""pytest fixtures for the fskit filesystems.

Load from ``tests/conftest.py`` with ``pytest_plugins = ["tests.fskit.fixtures"]``
(or ``-p tests.fskit.fixtures``). Mounts are session-scoped and made on first
use only; each test gets a fresh empty directory on the mount. A mount that
cannot be made raises RuntimeError, which errors the tests that requested it
(never a skip).

The tickfs daemon interpreter is ``$MODWRITE_TICKFS_PYTHON`` if set, else the
venv made by ``.ci/setup-fskit.sh`` at ``$MODWRITE_TICKFS_VENV`` (default
``.ci/.venv-tickfs``) if it exists, else ``sys.executable``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .coarse_ext4 import mount_coarse_ext4
from .tickfs_mount import PYTHON_ENV, REPO_ROOT, mount_tickfs

#: FAT's mtime resolution: 2 seconds, in nanoseconds.
FAT_TICK_NS = 2_000_000_000
#: NTFS's resolution (100 ns) for the exFAT-on-Windows / WSL drvfs emulation,
#: whose distinguishing trait is the frozen directory mtime, not the tick.
FROZEN_TICK_NS = 100
#: The case-insensitive mount is about names, not clocks: nanosecond timestamps.
CASE_INSENSITIVE_TICK_NS = 1


def tickfs_python() -> str:
    """The interpreter that runs tickfs daemons for these fixtures.

    ``$MODWRITE_TICKFS_PYTHON`` if set, else the venv made by
    ``.ci/setup-fskit.sh`` at ``$MODWRITE_TICKFS_VENV`` (default
    ``.ci/.venv-tickfs``); when that venv does not exist yet the script is run
    now (it installs libfuse3-dev and builds pyfuse3: a fresh machine needs
    nothing done by hand).  A failure raises RuntimeError: tests error, never
    skip.
    """
    configured = os.environ.get(PYTHON_ENV)
    if configured:
        return configured
    venv = Path(os.environ.get("MODWRITE_TICKFS_VENV", ".ci/.venv-tickfs"))
    if not venv.is_absolute():
        venv = REPO_ROOT / venv
    candidate = venv / "bin" / "python"
    if not candidate.exists():
        setup = REPO_ROOT / ".ci" / "setup-fskit.sh"
        done = subprocess.run(
            ["bash", str(setup)], capture_output=True, text=True, timeout=900, check=False
        )
        if done.returncode != 0 or not candidate.exists():
            raise RuntimeError(f"{setup} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return str(candidate)


def safe_stem(request: pytest.FixtureRequest) -> str:
    """The requesting test's name, fit for a directory name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:60]


def fresh_dir(root: Path, request: pytest.FixtureRequest) -> Path:
    """A new empty directory under *root*, named after the requesting test."""
    return Path(tempfile.mkdtemp(prefix=f"{safe_stem(request)}-", dir=root))


@pytest.fixture(scope="session")
def coarse_ext4_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Root of a loop-mounted ext4 with 1-second timestamps (see coarse_ext4)."""
    with mount_coarse_ext4(tmp_path_factory.mktemp("coarse-ext4")) as root:
        yield root


@pytest.fixture(scope="session")
def fat_tickfs_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Root of a tickfs mount with FAT-like 2-second timestamps."""
    backing = tmp_path_factory.mktemp("fat-backing")
    mountpoint = tmp_path_factory.mktemp("fat-mnt")
    with mount_tickfs(backing, mountpoint, FAT_TICK_NS, python=tickfs_python()) as root:
        yield root


@pytest.fixture(scope="session")
def frozen_tickfs_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Root of a tickfs mount whose directory mtimes only move when set explicitly."""
    backing = tmp_path_factory.mktemp("frozen-backing")
    mountpoint = tmp_path_factory.mktemp("frozen-mnt")
    with mount_tickfs(
        backing, mountpoint, FROZEN_TICK_NS, frozen_dir_mtime=True, python=tickfs_python()
    ) as root:
        yield root


@pytest.fixture(scope="session")
def case_insensitive_tickfs_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Root of a tickfs mount matching names case-insensitively and storing them
    as given (vfat/NTFS/APFS-like), with nanosecond timestamps."""
    backing = tmp_path_factory.mktemp("ci-backing")
    mountpoint = tmp_path_factory.mktemp("ci-mnt")
    with mount_tickfs(
        backing,
        mountpoint,
        CASE_INSENSITIVE_TICK_NS,
        case_insensitive=True,
        python=tickfs_python(),
    ) as root:
        yield root


@pytest.fixture
def coarse_ext4_dir(coarse_ext4_root: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh empty directory on the coarse ext4 mount."""
    return fresh_dir(coarse_ext4_root, request)


@pytest.fixture
def fat_dir(fat_tickfs_root: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh empty directory on the 2-second tickfs mount."""
    return fresh_dir(fat_tickfs_root, request)


@pytest.fixture
def frozen_dir(frozen_tickfs_root: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh empty directory on the frozen-directory-mtime tickfs mount."""
    return fresh_dir(frozen_tickfs_root, request)


@pytest.fixture
def case_insensitive_dir(
    case_insensitive_tickfs_root: Path, request: pytest.FixtureRequest
) -> Path:
    """A fresh empty directory on the case-insensitive tickfs mount."""
    return fresh_dir(case_insensitive_tickfs_root, request)
