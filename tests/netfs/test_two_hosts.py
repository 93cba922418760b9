"""What a reader on another host sees of modules written with modwrite, on a
network filesystem whose clients cache entries and attributes (issue 10).

Host A (this process) writes with ``modwrite.write_module()`` into one
backing directory through one tickfs mount; host B's readers (separate
processes) read it through another, whose kernel caches names, attributes
and absent names for ``CACHE_S`` seconds, as an NFS client does for
``actimeo`` seconds.  The promise tested (docs/proving/netfs.rst,
*Network filesystems*):

* a reader that does nothing sees a new module, or a rewritten one, at its
  first attempt once its cache has expired (``CACHE_S`` after
  ``write_module()`` returned), and never the old version after that;
* a reader that is told of the write sees it at its first attempt, when it
  calls ``importlib.invalidate_caches()`` or ``modwrite.invalidate_caches(path)``
  before importing or re-importing, or uses ``modwrite.reload(module)``.

Each reader makes two attempts of its own before the write (its caches as a
polling reader leaves them).  The controls show that the caches are on and
that without the call a told reader sees the old state.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import modwrite

from .conftest import CACHE_S
from .hosts import NEW, Reader, Scenario, run_trial

#: Slack over the cache time for a reader that polls every 10 ms: the
#: kernel's timeouts count in jiffies, an attempt costs a few ms, and the
#: machine is shared (seen: under 20 ms; see benchmarks/bench_netfs.py).
MARGIN_S = 0.5

pytestmark = [pytest.mark.netfs, pytest.mark.timeout(120)]


def _start(reader_on_b: type[Reader], writer_dir: Path, *, install: bool) -> Reader:
    modwrite.write_module("warm", "V = 0\n", root=writer_dir)
    reader = reader_on_b(install=install)
    # The directory is listed and cached; the import wrote the bytecode
    # cache (bytecode writing is on in the reader).
    assert reader.ask(op="import", name="warm") == {"v": 0, "pyc": True}
    return reader


def _scenario(case: str, install: bool, how: str, invalidate: str) -> Scenario:
    return Scenario(f"{case} {how} {invalidate}", case, install, how, invalidate)


def test_control_the_reader_host_caches_what_it_saw(
    host_dirs: tuple[Path, Path], reader_on_b: type[Reader]
) -> None:
    """Control: a stock reader on host B misses a module host A has just
    written (its kernel answers from its caches), then finds it once the
    cache time has passed, and keeps finding it."""
    writer_dir, _ = host_dirs
    reader = _start(reader_on_b, writer_dir, install=False)
    trial = run_trial(
        reader, writer_dir, _scenario("new", False, "import", "none"), "m", cache_s=CACHE_S
    )
    assert not trial.told
    assert trial.seen_s is not None and trial.seen_s <= CACHE_S + MARGIN_S
    assert trial.stale_after == 0


@pytest.mark.parametrize(
    ("case", "install", "how"),
    [
        ("new", True, "import"),
        ("rewrite", False, "importlib.reload"),
        ("rewrite", False, "reload_changed"),
        ("rewrite", True, "reload_changed"),
    ],
    ids=[
        "install-import-new",
        "stock-importlib.reload",
        "reload_changed",
        "install-reload_changed",
    ],
)
def test_a_reader_that_does_nothing_sees_the_write_once_its_cache_expires(
    host_dirs: tuple[Path, Path],
    reader_on_b: type[Reader],
    case: str,
    install: bool,
    how: str,
) -> None:
    writer_dir, _ = host_dirs
    reader = _start(reader_on_b, writer_dir, install=install)
    trial = run_trial(
        reader, writer_dir, _scenario(case, install, how, "none"), "m", cache_s=CACHE_S
    )
    assert trial.seen_s is not None and trial.seen_s <= CACHE_S + MARGIN_S, trial
    assert trial.stale_after == 0


def test_control_reload_changed_alone_trusts_the_cached_stat(
    host_dirs: tuple[Path, Path], reader_on_b: type[Reader]
) -> None:
    """Control for the next test: without ``modwrite.invalidate_caches()``,
    ``reload_changed()`` right after the write still sees the old version."""
    writer_dir, _ = host_dirs
    reader = _start(reader_on_b, writer_dir, install=False)
    scenario = _scenario("rewrite", False, "reload_changed", "none")
    trial = run_trial(reader, writer_dir, scenario, "m", cache_s=CACHE_S)
    assert not trial.told


@pytest.mark.parametrize(
    ("case", "install", "how", "invalidate"),
    [
        ("new", False, "import", "importlib"),
        ("new", True, "import", "modwrite"),
        ("rewrite", False, "importlib.reload", "importlib"),
        ("rewrite", False, "reload", "none"),
        ("rewrite", True, "reload", "none"),
        ("rewrite", False, "reload_changed", "modwrite"),
        ("rewrite", True, "reload_changed", "modwrite"),
    ],
    ids=[
        "stock-import-new",
        "install-import-new",
        "stock-importlib.reload",
        "modwrite.reload",
        "install-modwrite.reload",
        "reload_changed",
        "install-reload_changed",
    ],
)
def test_a_reader_told_of_the_write_sees_it_at_once(
    host_dirs: tuple[Path, Path],
    reader_on_b: type[Reader],
    case: str,
    install: bool,
    how: str,
    invalidate: str,
) -> None:
    writer_dir, _ = host_dirs
    reader = _start(reader_on_b, writer_dir, install=install)
    trial = run_trial(
        reader, writer_dir, _scenario(case, install, how, invalidate), "m", cache_s=CACHE_S
    )
    assert trial.told, trial
    assert trial.stale_after == 0


def test_reload_records_the_version_that_ran(
    host_dirs: tuple[Path, Path], reader_on_b: type[Reader]
) -> None:
    """``modwrite.reload()`` on host B may read the old bytes through its
    cached name, then find the new file once the finder lists the
    directory: what it records as run must be what ran, so that no change
    is reported after the cache expires (it would reload the module again)."""
    writer_dir, _ = host_dirs
    reader = _start(reader_on_b, writer_dir, install=False)
    scenario = _scenario("rewrite", False, "reload", "none")
    # No confirming attempts: a second reload would record the new bytes anyway.
    trial = run_trial(reader, writer_dir, scenario, "m", cache_s=CACHE_S, confirm=0)
    assert trial.told
    reports = []
    until = time.monotonic() + CACHE_S + MARGIN_S
    while time.monotonic() < until:
        reports.append(reader.ask(op="changed")["names"])
        time.sleep(0.05)
    assert reader.version("m") == NEW
    assert [names for names in reports if names] == []
