"""Fixtures for the two-host tests: one backing directory mounted twice
(host A writes, host B reads) with kernel caches of :data:`CACHE_S` seconds,
and reader processes on host B."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fskit.fixtures import safe_stem, tickfs_python

from .hosts import Hosts, Reader, fresh_pair, two_hosts

#: Seconds host B's kernel caches entries, attributes and negative lookups
#: (an NFS client's ``actimeo``; short, to keep the tests short).
CACHE_S = 1.0


@pytest.fixture(scope="session")
def netfs_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    with two_hosts(tmp_path_factory.mktemp("netfs"), CACHE_S, python=tickfs_python()) as hosts:
        yield hosts


@pytest.fixture
def host_dirs(
    netfs_hosts: Hosts, request: pytest.FixtureRequest, bytecode_on: None
) -> tuple[Path, Path]:
    """A fresh directory: (as host A sees it, as host B sees it).  Bytecode
    writing is on in this process (the writer), as in the readers."""
    return fresh_pair(netfs_hosts, safe_stem(request))


@pytest.fixture
def reader_on_b(host_dirs: tuple[Path, Path]) -> Iterator[type[Reader]]:
    """Start readers on host B's view of :func:`host_dirs` (reaped at the
    end): ``reader_on_b(install=False)``."""
    readers: list[Reader] = []

    class Tracked(Reader):
        def __init__(self, *, install: bool) -> None:
            super().__init__(host_dirs[1], install=install)
            readers.append(self)

    yield Tracked
    for reader in readers:
        reader.close()
