"""Mount-table queries, bounded command runs and unmounting for the fskit mounts.

Everything here is stdlib-only and Python 3.9-compatible, because it runs in
the test process (whatever interpreter is under test). All timeouts are in
seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

MOUNTINFO = Path("/proc/self/mountinfo")


class MountEntry(NamedTuple):
    """One line of ``/proc/self/mountinfo`` (the fields fskit cares about)."""

    mount_point: str
    fstype: str
    source: str
    options: str


def _unescape(field: str) -> str:
    r"""Undo the kernel's octal escaping (``\040`` for space etc.) in mountinfo."""
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def canonical_mount_point(path: Path) -> str:
    """Return *path* as the kernel spells it in mountinfo.

    Only the parent is resolved (``realpath``): resolving the mount point
    itself would stat it, which blocks if a FUSE daemon behind it is hung.
    """
    absolute = path.absolute()
    return str(Path(os.path.realpath(absolute.parent)) / absolute.name)


def find_mount(path: Path) -> MountEntry | None:
    """Return the topmost mount whose mount point is exactly *path*, else None."""
    wanted = canonical_mount_point(path)
    found: MountEntry | None = None
    with MOUNTINFO.open(encoding="utf-8", errors="surrogateescape") as lines:
        for line in lines:
            pre, sep, post = line.rstrip("\n").partition(" - ")
            if not sep:
                continue
            fields = pre.split(" ")
            tail = post.split(" ")
            if len(fields) < 5 or len(tail) < 3:
                continue
            if _unescape(fields[4]) == wanted:
                found = MountEntry(wanted, tail[0], _unescape(tail[1]), tail[2])
    return found


def run(cmd: Sequence[str], timeout: float) -> tuple[int, str]:
    """Run *cmd* with a *timeout* in seconds; return (exit status, stdout+stderr).

    Never raises for a missing program or a timeout: those come back as
    status 127 and 124 with an explanatory text, like a shell would report.
    """
    try:
        done = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        return 127, f"{cmd[0]}: not found ({exc})"
    except subprocess.TimeoutExpired as exc:
        out = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        return 124, f"{out}[timed out after {timeout:g} s]"
    return done.returncode, done.stdout.decode(errors="replace")


def unmount(mount_point: Path, *, fuse: bool, timeout: float = 30.0) -> None:
    """Unmount *mount_point*, escalating until it is gone; raise RuntimeError if it stays.

    Order: ``umount`` (retried a few times, 0.2 s apart, since a just-closed
    file can keep the mount busy for a moment), then ``fusermount3 -u`` for
    FUSE mounts if that tool exists, then a lazy ``umount -l`` as the last
    resort. ``umount`` runs with ``--no-canonicalize``: canonicalizing would
    stat the mount point, which hangs if a FUSE daemon is stopped or wedged.
    *timeout* (in seconds) bounds each single command.
    """
    target = canonical_mount_point(mount_point)
    attempts: list[str] = []

    def attempt(cmd: list[str]) -> int:
        status, output = run(cmd, timeout)
        attempts.append(f"$ {' '.join(cmd)} -> {status}: {output.strip()}")
        return status

    for _ in range(5):
        if find_mount(mount_point) is None:
            return
        if attempt(["umount", "--no-canonicalize", target]) == 124:
            break  # hung: retrying will not help
        time.sleep(0.2)
    if fuse and shutil.which("fusermount3") and find_mount(mount_point) is not None:
        attempt(["fusermount3", "-u", target])
    if find_mount(mount_point) is not None:
        attempt(["umount", "--lazy", "--no-canonicalize", target])
    if find_mount(mount_point) is not None:
        raise RuntimeError(f"could not unmount {target}; attempts:\n" + "\n".join(attempts))
