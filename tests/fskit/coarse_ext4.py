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
    with _mounted_ext4(workdir, size_mb, inode_size=128, label="coarse-ext4") as root:
        yield root


@contextlib.contextmanager
def mount_fine_ext4(workdir: Path, size_mb: int = 2048) -> Iterator[Path]:
    """:func:`mount_coarse_ext4` with 256-byte inodes: nanosecond timestamps,
    as a default ext4 has (and an inode per 4 KiB: benchmarks make many
    small files).  With *workdir* on tmpfs it is ext4 in RAM: its
    costs, without the swings of a loaded disk (the benchmarks use it)."""
    with _mounted_ext4(
        workdir, size_mb, inode_size=256, bytes_per_inode=4096, label="fine-ext4"
    ) as root:
        yield root


@contextlib.contextmanager
def mount_tiny_ext4(workdir: Path, size_mb: int = 1, inodes: int = 128) -> Iterator[Path]:
    """A *size_mb* MiB ext4 small enough to fill, block by block: 1 KiB
    blocks, about *inodes* inodes, no journal, no blocks reserved for root
    (``statvfs().f_bavail`` is what a write can use), nanosecond timestamps."""
    extra = ("-b", "1024", "-m", "0", "-N", str(inodes), "-O", "^has_journal")
    with _mounted_ext4(workdir, size_mb, inode_size=256, label="tiny-ext4", extra=extra) as root:
        yield root


@contextlib.contextmanager
def _mounted_ext4(
    workdir: Path,
    size_mb: int,
    *,
    inode_size: int,
    label: str,
    bytes_per_inode: int | None = None,
    extra: tuple[str, ...] = (),
) -> Iterator[Path]:
    if os.geteuid() != 0:
        raise RuntimeError("mounting an ext4 image needs root (mkfs + loop mount)")
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"mounting an ext4 image: {tool!r} not found on PATH (run .ci/setup-fskit.sh)"
            )
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        fd, image_name = tempfile.mkstemp(prefix=f"{label}-", suffix=".img", dir=workdir)
    except OSError as exc:
        raise RuntimeError(
            f"mounting an ext4 image: cannot create the image in {workdir}: {exc}"
        ) from exc
    image = Path(image_name)
    try:
        try:
            os.ftruncate(fd, size_mb * MIB)  # sparse: costs no disk until written
        finally:
            os.close(fd)
        mount_point = Path(tempfile.mkdtemp(prefix=f"{label}-mnt-", dir=workdir))
    except (OSError, ValueError) as exc:
        image.unlink()
        raise RuntimeError(f"mounting an ext4 image: cannot prepare {image}: {exc}") from exc
    try:
        _make_and_mount(image, mount_point, inode_size, bytes_per_inode, extra)
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


def _make_and_mount(
    image: Path,
    mount_point: Path,
    inode_size: int,
    bytes_per_inode: int | None,
    extra: tuple[str, ...] = (),
) -> None:
    """Format *image* as ext4 with *inode_size*-byte inodes (and one inode
    per *bytes_per_inode* bytes, if given; *extra* options of mkfs.ext4) and
    loop-mount it on *mount_point*."""
    density = [] if bytes_per_inode is None else ["-i", str(bytes_per_inode)]
    status, output = run(
        ["mkfs.ext4", "-q", "-F", "-I", str(inode_size), *density, *extra, str(image)],
        COMMAND_TIMEOUT_S,
    )
    if status != 0:
        raise RuntimeError(f"mkfs.ext4 -I {inode_size} on {image} failed ({status}):\n{output}")
    status, output = run(
        ["mount", "-t", "ext4", "-o", "loop", str(image), str(mount_point)], COMMAND_TIMEOUT_S
    )
    if status != 0:
        raise RuntimeError(f"mount -o loop {image} {mount_point} failed ({status}):\n{output}")
    entry = find_mount(mount_point)
    if entry is None or entry.fstype != "ext4":
        raise RuntimeError(f"{mount_point} is not an ext4 mount after mounting it: {entry}")
