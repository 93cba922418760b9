"""tickfs: a pyfuse3 passthrough filesystem that reports coarse timestamps.

It mirrors a backing directory and reports every timestamp (atime, mtime,
ctime) truncated *down* to a multiple of ``--tick-ns`` nanoseconds:
2_000_000_000 behaves like FAT's 2-second mtime ticks, 20_000_000 like a
20 ms jiffy clock. Stored values are kept at full precision in the backing
directory; only what is reported is coarse, which is all a reader (such as
the import system's directory cache) can observe.

With ``--frozen-dir-mtime`` a directory's reported mtime never moves on its
own: it is frozen at the value first seen and changes only when set
explicitly (``os.utime(dir)`` / ``os.utime(dir, ns=...)``), like exFAT seen
from Windows or WSL's drvfs.

With ``--case-insensitive`` names are matched case-insensitively but stored
as given (case-preserving), like vfat, NTFS or APFS's default: a name that
is not in the backing directory exactly is matched against its entries by
``str.casefold`` of the decoded names (the first match in sorted order if the
backing directory itself holds several case variants).  So a lookup of
``Mod.py`` finds ``mod.py``; creating a case variant of an existing entry
finds that entry (``EEXIST`` for ``O_EXCL``/``mkdir``/``mknod``/``symlink``/
``link``; a plain ``O_CREAT`` opens it); ``unlink``/``rmdir`` of a variant
remove the entry; ``rename`` onto a variant of another entry replaces it and
the result takes the new name as spelled by the caller (as NTFS and APFS do);
``RENAME_EXCHANGE`` with a variant swaps with that entry, names unchanged;
``readdir`` returns the stored names.  A rename to a case variant of the
entry's own name changes its case here, but note that the kernel never asks
for it: the target's lookup yields the source's own inode and
``vfs_rename`` returns success without calling the filesystem, exactly as on
vfat -- change case through a temporary name (``mod.py`` -> ``tmp`` ->
``Mod.py``).

Run it (as root, with pyfuse3 + trio importable; it stays in the foreground
and exits after the mount goes away or on SIGTERM/SIGINT/SIGHUP, unmounting):

    python -m tests.fskit.tickfs BACKING MOUNTPOINT --tick-ns N [--frozen-dir-mtime]
        [--case-insensitive] [--entry-timeout S] [--attr-timeout S] [--negative-timeout S]

Design notes:

* Every inode the kernel knows about is backed by an ``O_PATH`` descriptor on
  the backing object, and every operation is fd-relative (``*at()`` calls,
  ``/proc/self/fd`` re-opens), as in libfuse's passthrough_ll. Renames of
  files or whole directories therefore need no path bookkeeping, and an
  unlinked-but-open file keeps working.
* The FUSE inode number is the backing ``st_ino`` (so ``st_ino`` is stable),
  except that the backing root is the FUSE root inode. The pinned ``O_PATH``
  descriptor keeps the backing inode number from being recycled while the
  kernel still knows it.
* By default entry/attr timeouts are 0 and ENOENT is never cached, so the
  kernel asks again for every lookup and stat and never serves stale data.
  ``--entry-timeout``, ``--attr-timeout`` and ``--negative-timeout`` (seconds)
  turn the kernel's caches on, as an NFS client's attribute cache
  (``actimeo``) is on: the kernel then trusts a name's binding to an inode,
  an inode's attributes, and a name's absence, for that long.  Two mounts of
  one backing directory with these caches behave like two hosts of one
  network filesystem (see ``docs/proving/netfs.rst`` for where they differ
  from NFS).  Directory listings are never cached (pyfuse3 3.5 has no way to
  ask for the kernel's readdir cache: ``opendir`` cannot set
  ``cache_readdir``).
* Handlers never block on each other (no awaits inside), so trio runs each one
  to completion: no locking is needed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import logging
import os
import resource
import signal
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pyfuse3
import trio
from pyfuse3 import (
    EntryAttributes,
    FileHandleT,
    FileInfo,
    FUSEError,
    InodeT,
    ReaddirToken,
    RequestContext,
    SetattrFields,
    StatvfsData,
)

log = logging.getLogger("tickfs")

#: Logged with every unexpected exception in a handler; mount_tickfs turns it into a failure.
INTERNAL_ERROR_MARKER = "TICKFS-INTERNAL-ERROR"

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
PR_SET_PDEATHSIG = 1
#: FUSE inode numbers for objects on another device than the backing root (nested mounts).
FOREIGN_INODE_BASE = 1 << 62

_libc = ctypes.CDLL(None, use_errno=True)

Key = tuple[int, int]  # backing (st_dev, st_ino)


@dataclass
class _Node:
    """An inode the kernel knows: FUSE inode number, pinned O_PATH fd, lookup count."""

    inode: int
    fd: int
    key: Key
    lookups: int = 0


@dataclass
class _DirHandle:
    """An open directory: its inode and the listing snapshot taken at offset 0."""

    inode: int
    names: list[bytes] = field(default_factory=list)


@contextlib.contextmanager
def _errors(op: str) -> Iterator[None]:
    """Turn OSError into FUSEError(errno) and anything unexpected into a logged EIO."""
    try:
        yield
    except FUSEError:
        raise
    except OSError as exc:
        raise FUSEError(exc.errno or errno.EIO) from None
    except Exception:
        log.exception("%s in %s", INTERNAL_ERROR_MARKER, op)
        raise FUSEError(errno.EIO) from None


def _proc(fd: int) -> bytes:
    """The /proc magic link that re-opens (or chmods, utimes...) what *fd* refers to."""
    return b"/proc/self/fd/%d" % fd


def _renameat2(old_dir: int, old: bytes, new_dir: int, new: bytes, flags: int) -> None:
    """renameat2(2) through ctypes (os.rename has no flags); raises OSError."""
    func = getattr(_libc, "renameat2", None)
    if func is None:
        raise FUSEError(errno.EINVAL)
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    if func(old_dir, old, new_dir, new, flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


class TickFS(pyfuse3.Operations):
    """Passthrough operations reporting timestamps floored to *tick_ns* nanoseconds."""

    enable_writeback_cache = False
    supports_dot_lookup = True

    def __init__(
        self,
        backing: str,
        tick_ns: int,
        frozen_dir_mtime: bool,
        case_insensitive: bool = False,
        *,
        entry_timeout: float = 0.0,
        attr_timeout: float = 0.0,
        negative_timeout: float = 0.0,
    ) -> None:
        super().__init__()
        if tick_ns < 1:
            raise ValueError(f"tick_ns must be >= 1, not {tick_ns}")
        for what, value in (
            ("entry_timeout", entry_timeout),
            ("attr_timeout", attr_timeout),
            ("negative_timeout", negative_timeout),
        ):
            if not value >= 0:  # also refuses NaN
                raise ValueError(f"{what} must be >= 0 seconds, not {value}")
        #: Seconds the kernel may trust a name -> inode binding, an inode's
        #: attributes, and a name's absence (ENOENT), without asking again.
        self.entry_timeout = entry_timeout
        self.attr_timeout = attr_timeout
        self.negative_timeout = negative_timeout
        self.tick_ns = tick_ns
        self.frozen_dir_mtime = frozen_dir_mtime
        self.case_insensitive = case_insensitive
        root_fd = os.open(backing, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        st = os.fstat(root_fd)
        self._root_dev = st.st_dev
        root = _Node(pyfuse3.ROOT_INODE, root_fd, (st.st_dev, st.st_ino), lookups=1)
        self._nodes: dict[int, _Node] = {root.inode: root}
        self._by_key: dict[Key, _Node] = {root.key: root}
        self._next_foreign = FOREIGN_INODE_BASE
        #: Directory mtimes (ns) as first seen or as explicitly set, by backing key.
        self._frozen: dict[Key, int] = {}
        self._dirs: dict[int, _DirHandle] = {}
        self._next_dir_handle = 1

    # ------------------------------------------------------------ helpers --

    def _node(self, inode: int) -> _Node:
        try:
            return self._nodes[inode]
        except KeyError:
            raise FUSEError(errno.ESTALE) from None

    def _floor(self, ns: int) -> int:
        return ns - ns % self.tick_ns

    def _attrs(self, node: _Node, st: os.stat_result) -> EntryAttributes:
        entry = EntryAttributes()
        entry.st_ino = InodeT(node.inode)
        entry.generation = 0
        entry.entry_timeout = self.entry_timeout
        entry.attr_timeout = self.attr_timeout
        entry.st_mode = st.st_mode
        entry.st_nlink = st.st_nlink
        entry.st_uid = st.st_uid
        entry.st_gid = st.st_gid
        entry.st_rdev = st.st_rdev
        entry.st_size = st.st_size
        entry.st_blksize = st.st_blksize
        entry.st_blocks = st.st_blocks
        mtime = st.st_mtime_ns
        if self.frozen_dir_mtime and stat.S_ISDIR(st.st_mode):
            mtime = self._frozen.setdefault(node.key, mtime)
        entry.st_atime_ns = self._floor(st.st_atime_ns)
        entry.st_mtime_ns = self._floor(mtime)
        entry.st_ctime_ns = self._floor(st.st_ctime_ns)
        return entry

    def _allocate_inode(self, st: os.stat_result) -> int:
        if st.st_dev == self._root_dev and st.st_ino != pyfuse3.ROOT_INODE:
            return st.st_ino
        self._next_foreign += 1
        return self._next_foreign

    def _remember(self, fd: int) -> EntryAttributes:
        """Count one kernel lookup of the object behind O_PATH *fd* (which this consumes)."""
        try:
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        key = (st.st_dev, st.st_ino)
        node = self._by_key.get(key)
        if node is None:
            node = _Node(self._allocate_inode(st), fd, key)
            self._nodes[node.inode] = node
            self._by_key[key] = node
        else:
            os.close(fd)
        node.lookups += 1
        return self._attrs(node, st)

    def _unref(self, inode: int, count: int) -> None:
        node = self._nodes.get(inode)
        if node is None or inode == pyfuse3.ROOT_INODE:
            return
        node.lookups -= count
        if node.lookups <= 0:
            del self._nodes[inode]
            del self._by_key[node.key]
            os.close(node.fd)

    def _open_path(self, parent: _Node, name: bytes) -> int:
        return os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent.fd)

    def _lstat_or_none(self, parent: _Node, name: bytes) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=parent.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def _stored(self, parent: _Node, name: bytes) -> bytes:
        """The backing name of *parent*'s entry that *name* designates.

        *name* itself if it exists exactly or the mount is case-sensitive;
        otherwise the entry equal to it under ``str.casefold`` (the first in
        sorted order if several are); *name* again when there is none.
        """
        if not self.case_insensitive or name in (b".", b".."):
            return name
        if self._lstat_or_none(parent, name) is not None:
            return name
        wanted = os.fsdecode(name).casefold()
        dir_fd = os.open(_proc(parent.fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            with os.scandir(dir_fd) as entries:
                matches = sorted(
                    os.fsencode(e.name) for e in entries if e.name.casefold() == wanted
                )
        finally:
            os.close(dir_fd)
        return matches[0] if matches else name

    def _refuse_variant(self, parent: _Node, name: bytes) -> None:
        """EEXIST if a case variant of *name* exists (case-insensitive mounts);
        an exact *name* is left to the backing call, which fails the same way."""
        if self._stored(parent, name) != name:
            raise FUSEError(errno.EEXIST)

    # ----------------------------------------------------- inode lifetime --

    async def lookup(
        self, parent_inode: InodeT, name: bytes, ctx: RequestContext
    ) -> EntryAttributes:
        with _errors("lookup"):
            parent = self._node(parent_inode)
            if name == b"." or (name == b".." and parent.inode == pyfuse3.ROOT_INODE):
                fd = os.open(_proc(parent.fd), os.O_PATH | os.O_CLOEXEC)
            else:
                try:
                    fd = self._open_path(parent, self._stored(parent, name))
                except FileNotFoundError:
                    if not self.negative_timeout:
                        raise
                    return self._negative_entry()
            return self._remember(fd)

    def _negative_entry(self) -> EntryAttributes:
        """A lookup's answer "no such entry, for *negative_timeout* seconds":
        pyfuse3 has the kernel cache it as a negative dentry (st_ino 0)."""
        entry = EntryAttributes()
        entry.st_ino = InodeT(0)
        entry.entry_timeout = self.negative_timeout
        return entry

    async def forget(self, inode_list: Sequence[tuple[InodeT, int]]) -> None:
        for inode, count in inode_list:
            try:
                self._unref(inode, count)
            except Exception:
                log.exception("%s in forget", INTERNAL_ERROR_MARKER)

    # ---------------------------------------------------------- attributes --

    async def getattr(self, inode: InodeT, ctx: RequestContext) -> EntryAttributes:
        with _errors("getattr"):
            node = self._node(inode)
            return self._attrs(node, os.fstat(node.fd))

    async def setattr(
        self,
        inode: InodeT,
        attr: EntryAttributes,
        fields: SetattrFields,
        fh: FileHandleT | None,
        ctx: RequestContext,
    ) -> EntryAttributes:
        with _errors("setattr"):
            node = self._node(inode)
            path = _proc(node.fd)
            if fields.update_size:
                if fh is not None:
                    os.ftruncate(fh, attr.st_size)
                else:
                    os.truncate(path, attr.st_size)
            if fields.update_mode:
                os.chmod(path, stat.S_IMODE(attr.st_mode))
            if fields.update_uid or fields.update_gid:
                os.chown(
                    path,
                    attr.st_uid if fields.update_uid else -1,
                    attr.st_gid if fields.update_gid else -1,
                )
            if fields.update_atime or fields.update_mtime:
                # For "now" (utime(path, None)) pyfuse3 has filled in the current time.
                current = os.fstat(node.fd)
                atime = attr.st_atime_ns if fields.update_atime else current.st_atime_ns
                mtime = attr.st_mtime_ns if fields.update_mtime else current.st_mtime_ns
                os.utime(path, ns=(atime, mtime))
                if self.frozen_dir_mtime and fields.update_mtime and stat.S_ISDIR(current.st_mode):
                    self._frozen[node.key] = mtime  # an explicit set is what sticks
            return self._attrs(node, os.fstat(node.fd))

    async def readlink(self, inode: InodeT, ctx: RequestContext) -> bytes:
        with _errors("readlink"):
            return os.readlink(b"", dir_fd=self._node(inode).fd)

    async def statfs(self, ctx: RequestContext) -> StatvfsData:
        with _errors("statfs"):
            root = self._nodes[pyfuse3.ROOT_INODE]
            st = os.statvfs(_proc(root.fd))
            data = StatvfsData()
            data.f_bsize = st.f_bsize
            data.f_frsize = st.f_frsize
            data.f_blocks = st.f_blocks
            data.f_bfree = st.f_bfree
            data.f_bavail = st.f_bavail
            data.f_files = st.f_files
            data.f_ffree = st.f_ffree
            data.f_favail = st.f_favail
            data.f_namemax = st.f_namemax
            return data

    # ---------------------------------------------------------- directories --

    async def opendir(self, inode: InodeT, ctx: RequestContext) -> FileHandleT:
        with _errors("opendir"):
            self._node(inode)
            handle = self._next_dir_handle
            self._next_dir_handle += 1
            self._dirs[handle] = _DirHandle(inode)
            return FileHandleT(handle)

    async def readdir(self, fh: FileHandleT, start_id: int, token: ReaddirToken) -> None:
        with _errors("readdir"):
            handle = self._dirs[fh]
            node = self._node(handle.inode)
            if start_id == 0:
                dir_fd = os.open(_proc(node.fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    with os.scandir(dir_fd) as entries:
                        handle.names = sorted(os.fsencode(e.name) for e in entries)
                finally:
                    os.close(dir_fd)
            # Offsets index the snapshot, so entries created or removed while
            # the listing is read are neither repeated nor skipped.
            for index in range(start_id, len(handle.names)):
                name = handle.names[index]
                try:
                    fd = self._open_path(node, name)
                except FileNotFoundError:
                    continue  # removed since the snapshot
                entry = self._remember(fd)  # readdirplus counts as a lookup
                if not pyfuse3.readdir_reply(token, name, entry, index + 1):
                    self._unref(entry.st_ino, 1)
                    break

    async def releasedir(self, fh: FileHandleT) -> None:
        with _errors("releasedir"):
            self._dirs.pop(fh, None)

    async def fsyncdir(self, fh: FileHandleT, datasync: bool) -> None:
        with _errors("fsyncdir"):
            node = self._node(self._dirs[fh].inode)
            dir_fd = os.open(_proc(node.fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    async def mkdir(
        self, parent_inode: InodeT, name: bytes, mode: int, ctx: RequestContext
    ) -> EntryAttributes:
        with _errors("mkdir"):
            parent = self._node(parent_inode)
            self._refuse_variant(parent, name)
            os.mkdir(name, mode & ~ctx.umask, dir_fd=parent.fd)
            return self._remember(self._open_path(parent, name))

    async def rmdir(self, parent_inode: InodeT, name: bytes, ctx: RequestContext) -> None:
        with _errors("rmdir"):
            parent = self._node(parent_inode)
            name = self._stored(parent, name)
            st = self._lstat_or_none(parent, name)
            os.rmdir(name, dir_fd=parent.fd)
            if st is not None:
                self._frozen.pop((st.st_dev, st.st_ino), None)

    # ------------------------------------------------------------ names --

    async def mknod(
        self, parent_inode: InodeT, name: bytes, mode: int, rdev: int, ctx: RequestContext
    ) -> EntryAttributes:
        with _errors("mknod"):
            parent = self._node(parent_inode)
            self._refuse_variant(parent, name)
            os.mknod(name, mode & ~ctx.umask, rdev, dir_fd=parent.fd)
            return self._remember(self._open_path(parent, name))

    async def symlink(
        self, parent_inode: InodeT, name: bytes, target: bytes, ctx: RequestContext
    ) -> EntryAttributes:
        with _errors("symlink"):
            parent = self._node(parent_inode)
            self._refuse_variant(parent, name)
            os.symlink(target, name, dir_fd=parent.fd)
            return self._remember(self._open_path(parent, name))

    async def link(
        self, inode: InodeT, new_parent_inode: InodeT, new_name: bytes, ctx: RequestContext
    ) -> EntryAttributes:
        with _errors("link"):
            node = self._node(inode)
            parent = self._node(new_parent_inode)
            self._refuse_variant(parent, new_name)
            os.link(_proc(node.fd), new_name, dst_dir_fd=parent.fd, follow_symlinks=True)
            node.lookups += 1
            return self._attrs(node, os.fstat(node.fd))

    async def unlink(self, parent_inode: InodeT, name: bytes, ctx: RequestContext) -> None:
        with _errors("unlink"):
            parent = self._node(parent_inode)
            os.unlink(self._stored(parent, name), dir_fd=parent.fd)

    async def rename(
        self,
        parent_inode_old: InodeT,
        name_old: bytes,
        parent_inode_new: InodeT,
        name_new: bytes,
        flags: int,
        ctx: RequestContext,
    ) -> None:
        with _errors("rename"):
            old_parent = self._node(parent_inode_old)
            new_parent = self._node(parent_inode_new)
            if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE):
                raise FUSEError(errno.EINVAL)
            # Case-insensitive: both names designate the stored entries they match.
            stored_old = self._stored(old_parent, name_old)
            stored_new = self._stored(new_parent, name_new)
            if (
                old_parent.inode == new_parent.inode
                and stored_old == stored_new
                and name_new != stored_new
            ):
                # An existing entry onto a case variant of its own name: change its case.
                if not flags & RENAME_EXCHANGE:
                    fd = old_parent.fd
                    os.rename(stored_old, name_new, src_dir_fd=fd, dst_dir_fd=fd)
                return
            if flags:
                _renameat2(old_parent.fd, stored_old, new_parent.fd, stored_new, flags)
                return
            moved = self._lstat_or_none(old_parent, stored_old)
            victim = self._lstat_or_none(new_parent, stored_new)
            os.rename(stored_old, stored_new, src_dir_fd=old_parent.fd, dst_dir_fd=new_parent.fd)
            if victim is None or moved is None:
                return
            victim_key = (victim.st_dev, victim.st_ino)
            if victim_key == (moved.st_dev, moved.st_ino):
                return  # two links of one file: rename(2) did nothing
            if stored_new != name_new:
                # Replaced a case variant: the entry takes the caller's spelling, as
                # on NTFS and APFS (in this handler: no FUSE request sees between).
                fd = new_parent.fd
                os.rename(stored_new, name_new, src_dir_fd=fd, dst_dir_fd=fd)
            if stat.S_ISDIR(victim.st_mode):
                self._frozen.pop(victim_key, None)

    # ------------------------------------------------------------- files --

    async def open(self, inode: InodeT, flags: int, ctx: RequestContext) -> FileInfo:
        with _errors("open"):
            node = self._node(inode)
            flags &= ~(os.O_CREAT | os.O_EXCL | os.O_NOCTTY | os.O_NOFOLLOW)
            fd = os.open(_proc(node.fd), flags | os.O_CLOEXEC)
            return FileInfo(fh=FileHandleT(fd))

    async def create(
        self, parent_inode: InodeT, name: bytes, mode: int, flags: int, ctx: RequestContext
    ) -> tuple[FileInfo, EntryAttributes]:
        with _errors("create"):
            parent = self._node(parent_inode)
            flags = (flags | os.O_CREAT | os.O_CLOEXEC) & ~(os.O_NOCTTY | os.O_NOFOLLOW)
            # A case variant is the existing entry: O_EXCL fails, else it is opened.
            name = self._stored(parent, name)
            fd = os.open(name, flags, mode & ~ctx.umask, dir_fd=parent.fd)
            try:
                entry = self._remember(os.open(_proc(fd), os.O_PATH | os.O_CLOEXEC))
            except BaseException:
                os.close(fd)
                raise
            return FileInfo(fh=FileHandleT(fd)), entry

    async def read(self, fh: FileHandleT, off: int, size: int) -> bytes:
        with _errors("read"):
            return os.pread(fh, size, off)

    async def write(self, fh: FileHandleT, off: int, buf: bytes) -> int:
        with _errors("write"):
            return os.pwrite(fh, buf, off)

    async def flush(self, fh: FileHandleT) -> None:
        return None

    async def fsync(self, fh: FileHandleT, datasync: bool) -> None:
        with _errors("fsync"):
            if datasync:
                os.fdatasync(fh)
            else:
                os.fsync(fh)

    async def release(self, fh: FileHandleT) -> None:
        with _errors("release"):
            os.close(fh)


# ------------------------------------------------------------------ daemon --


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fskit.tickfs",
        description="FUSE passthrough reporting timestamps floored to a tick.",
    )
    parser.add_argument("backing", help="directory to mirror")
    parser.add_argument("mountpoint", help="where to mount")
    parser.add_argument(
        "--tick-ns",
        type=int,
        required=True,
        help="timestamp granularity in nanoseconds (2000000000 = FAT's 2 s)",
    )
    parser.add_argument(
        "--frozen-dir-mtime",
        action="store_true",
        help="directory mtimes never move unless set explicitly (exFAT/drvfs-like)",
    )
    parser.add_argument(
        "--case-insensitive",
        action="store_true",
        help="match names case-insensitively, store them as given (vfat/NTFS/APFS-like)",
    )
    for option, what in (
        ("--entry-timeout", "a name's binding to an inode"),
        ("--attr-timeout", "an inode's attributes"),
        ("--negative-timeout", "a name's absence (ENOENT)"),
    ):
        parser.add_argument(
            option,
            type=float,
            default=0.0,
            metavar="SECONDS",
            help=f"how long the kernel may cache {what} (default 0: never)",
        )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=0,
        help="unmount and exit when this process (the one that started us) dies",
    )
    parser.add_argument("--debug", action="store_true", help="log every FUSE request")
    args = parser.parse_args(list(argv))
    if args.tick_ns < 1:
        parser.error("--tick-ns must be >= 1")
    for option in ("entry_timeout", "attr_timeout", "negative_timeout"):
        if not getattr(args, option) >= 0:
            parser.error(f"--{option.replace('_', '-')} must be >= 0 seconds")
    return args


async def _terminate_on_signal() -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            log.info("signal %d: leaving the FUSE loop", signum)
            pyfuse3.terminate()
            return


async def _serve() -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_terminate_on_signal)
        await pyfuse3.main()
        nursery.cancel_scope.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    """Mount, serve until unmounted or signalled, unmount; return the exit status."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s tickfs[%(process)d] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if args.parent_pid:
        # Have the kernel SIGTERM us (-> unmount) if the test process dies abruptly.
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != args.parent_pid:
            log.error("parent %d is already gone; not mounting", args.parent_pid)
            return 1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.umask(0)  # the kernel passes the caller's umask; apply exactly that one
    operations = TickFS(
        args.backing,
        args.tick_ns,
        args.frozen_dir_mtime,
        case_insensitive=args.case_insensitive,
        entry_timeout=args.entry_timeout,
        attr_timeout=args.attr_timeout,
        negative_timeout=args.negative_timeout,
    )
    options = set(pyfuse3.default_options)
    options |= {"fsname=tickfs", "subtype=tickfs", "allow_other"}
    if args.debug:
        options.add("debug")
    pyfuse3.init(operations, args.mountpoint, options)
    log.info(
        "mounted %s on %s (tick %d ns, frozen dir mtime %s, case-insensitive %s,"
        " entry/attr/negative timeouts %g/%g/%g s)",
        args.backing,
        args.mountpoint,
        args.tick_ns,
        args.frozen_dir_mtime,
        args.case_insensitive,
        args.entry_timeout,
        args.attr_timeout,
        args.negative_timeout,
    )
    try:
        trio.run(_serve)
    finally:
        pyfuse3.close(unmount=True)
        log.info("unmounted %s", args.mountpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
