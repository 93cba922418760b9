"""Fixtures for the cross-process tests: a jiffy-like 20 ms filesystem, and
a long-running stock reader process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.children import reap
from tests.conftest import child_env
from tests.fskit.fixtures import fresh_dir, tickfs_python
from tests.fskit.tickfs_mount import mount_tickfs

#: A kernel ticking timestamps every 20 ms (jiffy-like; one FUSE round trip
#: costs ~1 ms, so finer ticks would blur).
JIFFY_TICK_NS = 20_000_000


@pytest.fixture(scope="session")
def jiffy_tickfs_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    backing = tmp_path_factory.mktemp("jiffy-backing")
    mountpoint = tmp_path_factory.mktemp("jiffy-mnt")
    with mount_tickfs(backing, mountpoint, JIFFY_TICK_NS, python=tickfs_python()) as root:
        yield root


@pytest.fixture
def jiffy_dir(jiffy_tickfs_root: Path, request: pytest.FixtureRequest) -> Path:
    return fresh_dir(jiffy_tickfs_root, request)


_READER = r"""
import importlib, importlib.util, sys, threading
directory = sys.argv[1]
if sys.argv[2] == "install":
    import modwrite
    modwrite.install()
sys.path.insert(0, directory)
import warm  # the directory is listed and cached before any write

stop = threading.Event()

def relist():
    # An adversary: look the directory up again and again, so that the stock
    # FileFinder re-lists it at arbitrary moments, also during writes.
    while not stop.is_set():
        importlib.util.find_spec("zz_not_there")

threading.Thread(target=relist, daemon=True).start()
print("ready", flush=True)
for line in sys.stdin:
    name = line.strip()
    try:
        importlib.import_module(name)
    except ImportError:
        print("miss", flush=True)
    else:
        print("ok", flush=True)
stop.set()
"""


class StockReader:
    """A process using CPython's stock import system, asked to import names."""

    def __init__(self, directory: Path, *, install: bool = False) -> None:
        (directory / "warm.py").write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _READER, str(directory), "install" if install else "stock"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def imports(self, name: str) -> bool:
        """Ask the reader to import *name* now; did it find it?"""
        assert self.process.stdin is not None
        self.process.stdin.write(name + "\n")
        self.process.stdin.flush()
        answer = self._line()
        assert answer in ("ok", "miss"), answer
        return answer == "ok"

    def close(self) -> None:
        """Reap the process: close stdin, bounded wait, then kill."""
        reap(self.process)


@pytest.fixture
def stock_reader() -> Iterator[type[StockReader]]:
    readers: list[StockReader] = []

    class Tracked(StockReader):
        def __init__(self, directory: Path, *, install: bool = False) -> None:
            super().__init__(directory, install=install)
            readers.append(self)

    yield Tracked
    for reader in readers:
        reader.close()
