"""fskit: real filesystems with coarse timestamps, for testing modwrite.

Why
---
Python's import system caches each ``sys.path`` directory's listing in its
``FileFinder`` and re-reads it only when the directory's ``st_mtime`` changes.
A module written into a directory whose mtime does *not* visibly change
(because the filesystem's clock is coarser than the time between two writes,
or because it never updates directory mtimes) stays invisible to
``importlib.import_module`` until ``importlib.invalidate_caches()``. The same
goes for bytecode checks keyed on a source file's mtime. modwrite exists to
make such writes importable at once, so its tests need filesystems on which
these races really happen.

Modern kernels hide them: Linux >= 6.13 has multigrain timestamps, so on
ext4 or tmpfs a directory's mtime changes on every modification that anyone
observed. The kit therefore provides two filesystems that are coarse on any
kernel, plus pytest fixtures for them. Both need root.

What each one emulates
----------------------
``mount_coarse_ext4(workdir, size_mb=64)`` (:mod:`tests.fskit.coarse_ext4`)
    A loop-mounted ext4 image formatted with 128-byte inodes, which have no
    room for the nanosecond part of timestamps: every atime/mtime/ctime is a
    whole second. Emulates ext3, ext4 with small inodes, HFS+, NFS servers and
    other 1-second filesystems. A real kernel filesystem, so it also checks
    behaviour the FUSE layer could mask.

``mount_tickfs(backing, mountpoint, tick_ns, *, frozen_dir_mtime=False, ...)``
    (:mod:`tests.fskit.tickfs_mount`)
    A pyfuse3 passthrough filesystem (:mod:`tests.fskit.tickfs`, a separate
    daemon process) mirroring *backing* and reporting every timestamp floored
    to *tick_ns* nanoseconds:

    * ``tick_ns=2_000_000_000``: FAT/vfat's 2-second mtime resolution (USB
      sticks, SD cards, some CI caches).
    * ``tick_ns=20_000_000`` (or similar): a jiffy-granular clock, as on
      ext4/tmpfs/overlayfs in kernels before multigrain timestamps.
    * ``frozen_dir_mtime=True``: directory mtimes never move by themselves,
      only when set explicitly with utime -- like exFAT as seen by Windows or
      WSL's drvfs (``/mnt/c``). There even a sleep does not make a new module
      visible.
    * ``case_insensitive=True``: names are looked up case-insensitively and
      stored case-preserved, like vfat, NTFS and APFS (this kernel has no vfat
      driver).
    * ``entry_timeout``, ``attr_timeout``, ``negative_timeout`` (seconds,
      default 0): the kernel caches names, attributes and absent names for
      that long, as an NFS client does for ``actimeo`` seconds.  Two mounts
      of one backing directory with them behave like two hosts sharing a
      network filesystem (:func:`tests.netfs.hosts.two_hosts`, the
      ``netfs_hosts`` fixture of ``tests/netfs``).

    The daemon runs under ``python``, else ``$MODWRITE_TICKFS_PYTHON``, else
    ``sys.executable``: any interpreter with pyfuse3 + trio, independent of
    the interpreter under test. ``.ci/setup-fskit.sh`` installs what is
    needed and prints such an interpreter.

Fixtures
--------
:mod:`tests.fskit.fixtures` (load with ``pytest_plugins``) provides
session-scoped mounts ``coarse_ext4_root``, ``fat_tickfs_root`` (2 s ticks) and
``frozen_tickfs_root`` (100 ns ticks, NTFS-like, frozen directory mtimes),
``case_insensitive_tickfs_root``, and function-scoped fresh empty directories
on them: ``coarse_ext4_dir``, ``fat_dir``, ``frozen_dir``,
``case_insensitive_dir``. :func:`tests.fskit.probes.count_plain_import_misses`
measures how often a naive write-then-import misses on a given directory.

Failure policy
--------------
Nothing in the kit skips: if a filesystem cannot be mounted, the
RuntimeError (with mkfs/mount output or the daemon's log) fails the tests
that asked for it. Teardown unmounts (lazily as a last resort), stops only the
daemon it started, and raises if anything is left behind.
"""

from __future__ import annotations

from .coarse_ext4 import mount_coarse_ext4
from .tickfs_mount import mount_tickfs

__all__ = ["mount_coarse_ext4", "mount_tickfs"]
