"""The two-host model behaves as docs/proving/netfs.rst says: host B's kernel
answers a ``stat`` of a directory, a name's binding and a name's absence from
its caches for up to the cache time; a listing on B revalidates the names
listed (FUSE ``READDIRPLUS``); everything is current once the cache time
has passed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.fskit.tickfs_mount import mount_tickfs

from .conftest import CACHE_S
from .hosts import replace_file

pytestmark = [pytest.mark.netfs, pytest.mark.timeout(60)]


def test_host_b_answers_from_its_caches_until_a_listing_or_the_cache_time(
    host_dirs: tuple[Path, Path],
) -> None:
    a, b = host_dirs
    replace_file(a, "old.py", "V = 1\n")
    cached = time.monotonic()  # B's caches are filled from here on
    assert os.listdir(b) == ["old.py"]
    mtime_seen = os.stat(b).st_mtime_ns
    assert not (b / "new.py").exists()  # a negative lookup, now cached
    assert (b / "old.py").read_text() == "V = 1\n"  # its binding, now cached
    replace_file(a, "new.py", "")
    replace_file(a, "old.py", "V = 2\n")
    assert os.stat(a).st_mtime_ns != mtime_seen
    # Within the cache time, B answers from its caches...
    answers = (os.stat(b).st_mtime_ns, (b / "new.py").exists(), (b / "old.py").read_text())
    elapsed = time.monotonic() - cached
    assert elapsed < CACHE_S, f"B's answers came {elapsed:.2f} s after its caches were filled"
    assert answers == (mtime_seen, False, "V = 1\n")
    # ...except for the names a listing returns, which it revalidates.
    assert sorted(os.listdir(b)) == ["new.py", "old.py"]
    assert (b / "new.py").exists()
    assert (b / "old.py").read_text() == "V = 2\n"
    # Once the cache time has passed (waited out from the last lookup that
    # may have filled them), the directory's attributes too.
    time.sleep(CACHE_S + 0.1)
    assert os.stat(b).st_mtime_ns == os.stat(a).st_mtime_ns


def test_mount_tickfs_refuses_a_negative_timeout(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="--attr-timeout must be >= 0"):
        with mount_tickfs(tmp_path, tmp_path / "mnt", 1, attr_timeout=-1.0):
            pass
