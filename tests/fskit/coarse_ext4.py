"""A loop-mounted ext4 image whose timestamps have a granularity of one second.

ext4 keeps the nanosecond part of a timestamp in the "extra" inode space that
only exists in inodes larger than 128 bytes. Formatting with ``-I 128`` leaves
no room for it, so every atime/mtime/ctime is stored, and reported, in whole
seconds (``st_mtime_ns % 1_000_000_000 == 0``) -- on any kernel, including
those with multigrain timestamps that hide the coarse-mtime races on a normal
ext4 or tmpfs.

Needs root, ``mkfs.ext4`` (e2fsprogs), ``mount``/``umount`` and a free loop
device. Any failure raises RuntimeError: a test that asked for this
filesystem must fail, not silently skip, when it cannot be had.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ._mounts import find_mount, run, unmount

MIB = 1024 * 1024
#: Seconds allowed for mkfs, mount and each unmount attempt.
COMMAND_TIMEOUT_S = 60.0


@contextlib.contextmanager
def mount_coarse_ext4(workdir: Path, size_mb: int = 64) -> Iterator[Path]:
    """Mount a fresh *size_mb* MiB ext4 with 1-second timestamps; yield its root.

    The sparse image file and the mount point are created inside *workdir*
    (made if missing). On exit the filesystem is unmounted (``umount``, lazy
    ``umount -l`` as a last resort; ``mount -o loop`` sets autoclear so the
    loop device goes with it) and the image and mount point are deleted.
    """
    if os.geteuid() != 0:
        raise RuntimeError("mount_coarse_ext4 needs root (mkfs + loop mount)")
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"mount_coarse_ext4: {tool!r} not found on PATH (run .ci/setup-fskit.sh)"
            )
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        fd, image_name = tempfile.mkstemp(prefix="coarse-ext4-", suffix=".img", dir=workdir)
    except OSError as exc:
        raise RuntimeError(
            f"mount_coarse_ext4: cannot create the image in {workdir}: {exc}"
        ) from exc
    image = Path(image_name)
    try:
        try:
            os.ftruncate(fd, size_mb * MIB)  # sparse: costs no disk until written
        finally:
            os.close(fd)
        mount_point = Path(tempfile.mkdtemp(prefix="coarse-ext4-mnt-", dir=workdir))
    except (OSError, ValueError) as exc:
        image.unlink()
        raise RuntimeError(f"mount_coarse_ext4: cannot prepare {image}: {exc}") from exc
    try:
        _make_and_mount(image, mount_point)
        yield mount_point
    finally:
        try:
            if find_mount(mount_point) is not None:
                # Raises (chained to any error in flight) if the mount stays;
                # the image and mount point are then left alone, still in use.
                unmount(mount_point, fuse=False, timeout=COMMAND_TIMEOUT_S)
        finally:
            if find_mount(mount_point) is None:
                mount_point.rmdir()
                image.unlink()


def _make_and_mount(image: Path, mount_point: Path) -> None:
    """Format *image* as ext4 with 128-byte inodes and loop-mount it on *mount_point*."""
    status, output = run(["mkfs.ext4", "-q", "-F", "-I", "128", str(image)], COMMAND_TIMEOUT_S)
    if status != 0:
        raise RuntimeError(f"mkfs.ext4 -I 128 on {image} failed ({status}):\n{output}")
    status, output = run(
        ["mount", "-t", "ext4", "-o", "loop", str(image), str(mount_point)], COMMAND_TIMEOUT_S
    )
    if status != 0:
        raise RuntimeError(f"mount -o loop {image} {mount_point} failed ({status}):\n{output}")
    entry = find_mount(mount_point)
    if entry is None or entry.fstype != "ext4":
        raise RuntimeError(f"{mount_point} is not an ext4 mount after mounting it: {entry}")
