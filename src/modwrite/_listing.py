"""What a writer knows of a directory's entries, so that its conflict checks
need no lookups.

A write into a directory checks that no package directory and no extension
module of the new module's name would shadow it: four ``lstat`` calls, about
30 µs on ext4, most of a small write's own cost.  A listing answers those
questions at once, if it is current.  Two listings can be:

* the one this process's ``FileFinder`` holds for the directory
  (:func:`modwrite._invalidate.current_listing`);
* one modwrite keeps itself, per directory (device and inode): taken with
  one ``listdir`` of the locked directory, at once while the directory is
  tiny, and otherwise once this process's writes into it have made as many
  lookups as the listing costs (a code generator filling a
  directory with thousands of modules); then brought up to date by each of
  this process's writes into it, in O(1).

Current means: the directory's ``st_mtime_ns``, read under the writers' lock,
is the one the listing was taken (or last updated) at, and it has a
sub-second part.  On filesystems with 1- or 2-second timestamps a change in
the second of the listing keeps the mtime, so there the write looks the names
up, and so it does in a directory whose filesystem folds case (vfat, NTFS,
APFS, ext4 casefold: a lookup of ``pkg`` finds ``Pkg``, a listing does not),
told by one lookup of a listed name's case variant.  An entry another
program creates in the same timestamp tick as the listing, or during a
landing (between two ``fstat`` calls microseconds apart) is seen at the
directory's next change: the checks are guards against shadowing, which such
a program could also cause right after them.  The
stamp rule (G3) never trusts a listing alone: a name the listing lacks is
confirmed missing by ``access``.
"""

from __future__ import annotations

import os

__all__ = ["KnownEntries", "known_entries", "note_landing"]

#: Directories whose entries are kept (the least recently listed go first).
_MAX_DIRECTORIES = 64
#: A directory is listed at once while its ``st_size`` is at most this many
#: bytes (one ext4 block; some 200 entries on tmpfs): a listing must cost
#: less than the lookups it saves over the writes that follow, also when
#: another program changes the directory between two writes (the listing
#: is then taken again).
_MAX_LISTED_SIZE = 4096

#: A larger one is listed once this process's writes into it have made as
#: many lookups as the listing would cost: one write per this many bytes of
#: ``st_size``.  Measured: listing 20,000 entries (400 KB on tmpfs) costs
#: 11.6 ms, about 26 entries or 520 bytes per write's four lookups.  So a
#: write never costs more than about twice its lookups, however often the
#: directory changes under it.
_BYTES_PER_WRITE = 512

#: Never list a directory larger than this: its listing is taken under the
#: writers' lock (about 75 ms for 4 MiB, some 130,000 entries on ext4).
_MAX_AMORTIZED_SIZE = 4 * 1024 * 1024

#: Of the listings of directories larger than this (about 8,000 entries on
#: ext4), only the latest is kept in memory.
_LARGE_SIZE = 256 * 1024

#: Writes made into each large directory since it was last listed.
_unlisted_writes: dict[tuple[int, int], int] = {}


class KnownEntries:
    """The entry names of one directory, current at ``mtime_ns``; *large*
    if the directory was larger than :data:`_LARGE_SIZE` when listed."""

    __slots__ = ("large", "mtime_ns", "names")

    def __init__(self, mtime_ns: int, names: set[str], *, large: bool = False) -> None:
        self.mtime_ns = mtime_ns
        self.names = names
        self.large = large


_known: dict[tuple[int, int], KnownEntries] = {}


def known_entries(
    fd: int | None, st: os.stat_result, current: set[str] | None = None
) -> set[str] | None:
    """The entries of the locked directory open as *fd*, whose ``fstat`` is
    *st*, if a current listing of them is known or cheap to take; else
    ``None`` (the caller looks names up).  Call under the writers' lock.

    :param current: the finder's listing, when it is known to be current
        (used as it is, if the directory does not fold case)."""
    if fd is None or st.st_mtime_ns % 1_000_000_000 == 0:
        return None
    key = (st.st_dev, st.st_ino)
    if current is not None:
        return None if _folds_case(fd, key, current) else current
    known = _known.get(key)
    if known is not None and known.mtime_ns == st.st_mtime_ns:
        return None if _folds_case(fd, key, known.names) else known.names
    if st.st_size > _MAX_LISTED_SIZE and not _listing_paid_for(key, st.st_size):
        _known.pop(key, None)
        return None
    try:
        names = set(os.listdir(fd))
    except OSError:
        return None
    # Taken after the fstat: a change in between is in the listing, and moves
    # the mtime past st_mtime_ns, so the next write lists again.
    _known.pop(key, None)
    large = st.st_size > _LARGE_SIZE
    if large:
        _forget_large_listings()
    _known[key] = KnownEntries(st.st_mtime_ns, names, large=large)
    while len(_known) > _MAX_DIRECTORIES:
        try:
            del _known[next(iter(_known))]
        except (KeyError, RuntimeError, StopIteration):  # another thread's write
            break
    return None if _folds_case(fd, key, names) else names


def _forget_large_listings() -> None:
    """Drop the large listings kept: at most one is kept, the latest."""
    for key, known in list(_known.items()):
        if known.large:
            _known.pop(key, None)


def _listing_paid_for(key: tuple[int, int], size: int) -> bool:
    """Count one write into the large directory *key* of ``st_size`` *size*;
    ``True`` when the lookups made since its last listing would have paid
    for listing it (see :data:`_BYTES_PER_WRITE`)."""
    if size > _MAX_AMORTIZED_SIZE:
        return False
    writes = _unlisted_writes.get(key, 0) + 1
    if writes * _BYTES_PER_WRITE < size:
        if len(_unlisted_writes) >= 4 * _MAX_DIRECTORIES:
            _unlisted_writes.clear()
        _unlisted_writes[key] = writes
        return False
    _unlisted_writes.pop(key, None)
    return True


#: Per directory (device, inode): does its filesystem fold case?
_folds: dict[tuple[int, int], bool] = {}


def _folds_case(fd: int, key: tuple[int, int], names: set[str]) -> bool:
    """Does the directory fold case?  Learned once, by looking up the case
    variant of a listed name; a listing with no name that has case tells
    nothing, and then cannot hide a case variant of a name either."""
    folds = _folds.get(key)
    if folds is not None:
        return folds
    for name in names:
        variant = name.swapcase()
        if variant == name:
            continue
        try:
            os.stat(variant, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            folds = False
        except OSError:
            return True  # cannot tell: do not trust the listing
        else:
            folds = True
        if len(_folds) >= 4 * _MAX_DIRECTORIES:
            _folds.clear()
        _folds[key] = folds
        return folds
    return False


def note_landing(before: os.stat_result, after: os.stat_result, name: str) -> None:
    """This process's write landed *name* in the directory, whose ``fstat``
    was *before* just before and *after* just after the landing: keep the
    known entries current, in O(1), if they were current before."""
    key = (before.st_dev, before.st_ino)
    known = _known.get(key)
    if known is not None and known.mtime_ns == before.st_mtime_ns:
        known.names.add(name)
        known.mtime_ns = after.st_mtime_ns
