"""Find and remove the temporary entries crashed writes leave behind (G4).

A write killed at any point leaves the old or the new file, plus at most
entries named ``.<leaf>.<pid>-<hex>.modwrite-tmp`` (files, or directories of
a package being built), which no finder imports.  Where packages are swapped
by two renames (no ``RENAME_EXCHANGE``), a crash between them leaves the old
package parked as ``.<leaf>.<pid>-<hex>.modwrite-old`` and nothing at
``<leaf>``: that one is put back, not removed.

:func:`find_leftovers` lists them; an entry is a leftover when its writer
process is gone, or when it is older than *min_age* seconds whatever its pid
says (network filesystems shared between hosts).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ._tempnames import PARKED_MARKER, TEMP_MARKER

__all__ = ["Leftover", "find_leftovers", "remove_leftover"]

_NAME = re.compile(
    r"^\.(?P<leaf>.+)\.(?P<pid>\d+)-[0-9a-f]+"
    rf"(?P<marker>{re.escape(TEMP_MARKER)}|{re.escape(PARKED_MARKER)})$"
)


@dataclass(frozen=True)
class Leftover:
    """A temporary entry of modwrite's: its path, whether it is a directory,
    its writer's pid, its age in seconds, and, for a parked old package whose
    target is missing, the path to put it back at."""

    path: str
    is_dir: bool
    pid: int
    age_s: float
    restore_to: str | None = None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would send CTRL_C_EVENT
        return True  # unknown: only min_age decides there
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
            restore_to = None
            if match["marker"] == PARKED_MARKER:
                original = os.path.join(dirpath, match["leaf"])
                if not os.path.lexists(original):
                    restore_to = original
            is_dir = os.path.isdir(path) and not os.path.islink(path)
            yield Leftover(path, is_dir, pid, age, restore_to)
        dirnames[:] = [d for d in dirnames if _NAME.match(d) is None]


def remove_leftover(leftover: Leftover) -> None:
    """Remove one leftover, or put a parked package back where it belongs (a
    missing leftover is not an error)."""
    try:
        if leftover.restore_to is not None:
            os.rename(leftover.path, leftover.restore_to)
        elif leftover.is_dir:
            shutil.rmtree(leftover.path)
        else:
            os.unlink(leftover.path)
    except FileNotFoundError:
        pass
