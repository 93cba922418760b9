"""``modwrite clean``: what interrupted writes leave behind, and who may
remove it (G4).

A write that fails or is interrupted in a living process cleans up after
itself.  A process killed outright (SIGKILL, power loss) may leave entries
named by :mod:`modwrite._tempnames`, none importable:

* temporary files and staging trees (:data:`TEMP_MARKER`): removed once
  their writer is gone;
* parked trees (:data:`PARKED_MARKER`): the old version of a package that
  was being swapped by two renames.  They are handled under the directory's
  writers' lock, when no writer can be between its two renames: if the
  package is missing (its writer died between the renames), the newest
  parked tree of that package is put back; the others are removed;
* trash (:data:`TRASH_MARKER`): a tree a committed write replaced; removed
  at once, its writer alive or not.

A writer is *gone* when no process of this host has its pid and start time.
Entries made on another host, boot or PID namespace (a shared network
filesystem, a container) cannot be checked: they count as left over once
their name's creation time is *min_age* seconds old.  A temporary entry of a
living writer is never touched, however old it is.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ._lock import HAVE_FLOCK, directory_lock
from ._tempnames import (
    PARKED_MARKER,
    TEMP_MARKER,
    TRASH_MARKER,
    EntryName,
    parse,
    writer_is_alive,
)

__all__ = ["CleanReport", "Leftover", "clean", "find_leftovers", "remove_leftover"]

#: Seconds after which an entry whose writer cannot be checked is left over.
DEFAULT_MIN_AGE_S = 3600.0


@dataclass(frozen=True)
class Leftover:
    """One entry ``modwrite clean`` may act on.

    :ivar path: its path.
    :ivar kind: ``"temporary"``, ``"parked"`` or ``"trash"``.
    :ivar is_dir: whether it is a directory (not a symlink to one).
    :ivar pid: its writer's pid.
    :ivar age_s: seconds since it was created (from its name; from its mtime
        for names of modwrite 0.1).
    :ivar restore_to: for the parked tree to put back, where.

    .. versionadded:: 0.2.0
    """

    path: str
    kind: str
    is_dir: bool
    pid: int
    age_s: float
    restore_to: str | None = None


@dataclass
class CleanReport:
    """What :func:`modwrite.clean` did.

    :ivar removed: paths removed (or that would be, with ``dry_run``).
    :ivar restored: ``(parked tree, package path)`` pairs put back.
    :ivar failed: ``(path, OSError)`` for each entry that could not be
        removed or put back (a read-only mount, another user's sticky
        directory, ...).

    .. versionadded:: 0.2.0
    """

    __module__ = "modwrite"

    removed: list[str] = field(default_factory=list)
    restored: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, OSError]] = field(default_factory=list)


_KINDS = {TEMP_MARKER: "temporary", PARKED_MARKER: "parked", TRASH_MARKER: "trash"}


def _age_s(entry: EntryName, path: str, now_ns: int) -> float | None:
    if entry.created_ns is not None:
        return (now_ns - entry.created_ns) / 1e9
    try:
        return now_ns / 1e9 - os.lstat(path).st_mtime
    except FileNotFoundError:
        return None


def _removable(entry: EntryName, age_s: float, min_age: float) -> bool:
    if entry.marker == TRASH_MARKER:
        return True
    alive = writer_is_alive(entry)
    if alive is None:
        return age_s >= min_age
    return not alive


def _parked_tree(container: str, entry: EntryName) -> str | None:
    """The package tree a parked entry holds: its one entry (modwrite 0.1:
    the parked entry itself, named after its package)."""
    if entry.legacy:
        return container
    try:
        names = os.listdir(container)
    except OSError:
        return None
    return os.path.join(container, names[0]) if len(names) == 1 else None


def find_leftovers(root: str, *, min_age: float = DEFAULT_MIN_AGE_S) -> Iterator[Leftover]:
    """Yield the entries under *root* that :func:`remove_leftover` may act
    on; of each package's parked trees, the newest comes first, with
    ``restore_to`` when the package is missing.

    :param root: directory searched, recursively (symlinks not followed;
        modwrite's own entries are not entered).
    :param min_age: seconds after which an entry whose writer this host
        cannot check (another host or container) counts as left over.
    :raises OSError: *root* cannot be listed.
    """
    now_ns = time.time_ns()
    os.listdir(root)  # raise for an unreadable root, as os.walk would not
    for dirpath, dirnames, filenames in os.walk(root):
        parked: list[tuple[EntryName, Leftover]] = []
        for name in [*dirnames, *filenames]:
            entry = parse(name)
            if entry is None:
                continue
            path = os.path.join(dirpath, name)
            age = _age_s(entry, path, now_ns)
            if age is None:
                continue
            is_dir = os.path.isdir(path) and not os.path.islink(path)
            leftover = Leftover(path, _KINDS[entry.marker], is_dir, entry.pid, age)
            if entry.marker == PARKED_MARKER:
                if _PARKED_UNDER_LOCK or _removable(entry, age, min_age):
                    parked.append((entry, leftover))
            elif _removable(entry, age, min_age):
                yield leftover
        yield from _parked_in_order(dirpath, parked)
        dirnames[:] = [d for d in dirnames if parse(d) is None]


#: Where writers lock directories with flock (POSIX), a parked tree is acted
#: on under its directory's lock, when no writer can be between the two
#: renames of its swap, whoever parked it.  Elsewhere only the writers of
#: one process exclude each other, and a live writer's parked tree is left.
_PARKED_UNDER_LOCK = HAVE_FLOCK


def _parked_in_order(dirpath: str, parked: list[tuple[EntryName, Leftover]]) -> Iterator[Leftover]:
    """The parked trees of one directory, newest first; the newest of each
    package whose path is missing comes with ``restore_to``."""
    restoring: set[str] = set()
    for entry, leftover in sorted(
        parked, key=lambda p: (p[0].created_ns or 0, p[0].serial), reverse=True
    ):
        tree = _parked_tree(leftover.path, entry)
        if tree is not None:
            leaf = entry.hint if entry.legacy else os.path.basename(tree)
            target = os.path.join(dirpath, leaf)
            if target not in restoring and not os.path.lexists(target):
                restoring.add(target)
                leftover = Leftover(
                    leftover.path, "parked", True, leftover.pid, leftover.age_s, target
                )
        yield leftover


def remove_leftover(leftover: Leftover) -> None:
    """Remove *leftover*, or put a parked package back where it belongs.

    A parked tree is handled under its directory's writers' lock: it is put
    back if its package is still missing then and no newer parked tree of
    that package exists, removed otherwise.  An entry gone meanwhile is not
    an error.

    :raises OSError: the entry could not be removed or put back.
    """
    try:
        if leftover.kind == "parked":
            _settle_parked(leftover)
        elif leftover.is_dir:
            shutil.rmtree(leftover.path)
        else:
            os.unlink(leftover.path)
    except FileNotFoundError:
        pass


def _settle_parked(leftover: Leftover) -> None:
    parent, name = os.path.split(leftover.path)
    entry = parse(name)
    if entry is None:  # pragma: no cover - found by its name
        return
    with directory_lock(parent):
        tree = _parked_tree(leftover.path, entry)
        if tree is None:  # gone, or emptied by a writer meanwhile
            if os.path.lexists(leftover.path):
                shutil.rmtree(leftover.path)
            return
        leaf = entry.hint if entry.legacy else os.path.basename(tree)
        target = os.path.join(parent, leaf)
        if not os.path.lexists(target) and _is_newest(parent, leaf, entry):
            os.rename(tree, target)
            if tree == leftover.path:  # modwrite 0.1: nothing left to remove
                return
        shutil.rmtree(leftover.path)


def _is_newest(directory: str, leaf: str, entry: EntryName) -> bool:
    """Is *entry* the newest parked tree of *leaf* in *directory*?"""
    key = (entry.created_ns or 0, entry.serial)
    for name in os.listdir(directory):
        other = parse(name)
        if other is None or other.marker != PARKED_MARKER or other == entry:
            continue
        tree = _parked_tree(os.path.join(directory, name), other)
        if tree is None:
            continue
        other_leaf = other.hint if other.legacy else os.path.basename(tree)
        if other_leaf == leaf and (other.created_ns or 0, other.serial) > key:
            return False
    return True


def clean(
    root: str | os.PathLike[str],
    *,
    min_age: float = DEFAULT_MIN_AGE_S,
    dry_run: bool = False,
) -> CleanReport:
    """Remove the entries interrupted writes left under *root*, and put back
    packages a crash left missing (see ``modwrite clean``).

    Entries of a writer process that is still alive are never touched; trash
    (trees a committed write replaced) is removed whoever made it.  Safe to
    run beside live writers, e.g. from cron.

    :param root: the directory to clean, recursively (``str`` or path-like).
    :param min_age: seconds after which an entry made on another host or in
        another PID namespace (whose writer this host cannot check) counts as
        left over; default one hour.
    :param dry_run: report what would be done, do nothing.
    :returns: a :class:`CleanReport`; an entry that could not be removed is
        listed in its ``failed``, never raised.
    :raises OSError: *root* itself cannot be listed.

    .. versionadded:: 0.2.0
    """
    report = CleanReport()
    for leftover in find_leftovers(os.fspath(root), min_age=min_age):
        if not dry_run:
            try:
                remove_leftover(leftover)
            except OSError as exc:
                report.failed.append((leftover.path, exc))
                continue
        if leftover.restore_to is not None:
            report.restored.append((leftover.path, leftover.restore_to))
        else:
            report.removed.append(leftover.path)
    return report
