"""Find and remove the temporary entries crashed writes leave behind (G4).

A write killed at any point leaves the old or the new file, plus at most
entries named ``.<leaf>.<pid>-<hex>.modwrite-tmp`` (files, or directories of
a package being built), which no finder imports.  :func:`find_leftovers`
lists them; an entry is a leftover when its writer process is gone, or when
it is older than *min_age* seconds whatever its pid says (network
filesystems shared between hosts).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ._atomic import TEMP_MARKER

__all__ = ["Leftover", "find_leftovers", "remove_leftover"]

_NAME = re.compile(r"^\..*\.(?P<pid>\d+)-[0-9a-f]+" + re.escape(TEMP_MARKER) + r"$")


@dataclass(frozen=True)
class Leftover:
    """A temporary entry of modwrite's: its path, whether it is a directory,
    its writer's pid and its age in seconds."""

    path: str
    is_dir: bool
    pid: int
    age_s: float


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def find_leftovers(root: str, *, min_age: float = 3600.0) -> Iterator[Leftover]:
    """Yield modwrite's temporary entries under *root* that are safe to remove.

    :param root: directory to search, recursively (symlinks not followed).
    :param min_age: seconds after which an entry counts as left over even if a
        process with its pid is alive.
    :raises OSError: *root* cannot be listed.
    """
    now = time.time()
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in [*dirnames, *filenames]:
            match = _NAME.match(entry)
            if match is None:
                continue
            path = os.path.join(dirpath, entry)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            pid = int(match["pid"])
            age = now - st.st_mtime
            if _alive(pid) and age < min_age:
                continue
            yield Leftover(path, os.path.isdir(path) and not os.path.islink(path), pid, age)
        dirnames[:] = [d for d in dirnames if _NAME.match(d) is None]


def remove_leftover(leftover: Leftover) -> None:
    """Remove one leftover (a missing one is not an error)."""
    try:
        if leftover.is_dir:
            shutil.rmtree(leftover.path)
        else:
            os.unlink(leftover.path)
    except FileNotFoundError:
        pass
