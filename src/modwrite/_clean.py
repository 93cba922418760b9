"""``modwrite clean``: what interrupted writes leave behind, and who may
remove it (G4).

A write that fails or is interrupted in a living process cleans up after
itself.  A process killed outright (SIGKILL, power loss) may leave entries
named by :mod:`modwrite._tempnames`, none importable:

* temporary files and staging trees (:data:`TEMP_MARKER`): removed once
  their writer is gone;
* parked trees (:data:`PARKED_MARKER`, see :mod:`modwrite._parked`): the old
  version of a package that was being swapped by two renames.  If the
  package is missing (its writer died between the renames), the newest
  parked tree of that package is put back; the others are removed;
* trash (:data:`TRASH_MARKER`): a tree a committed write replaced; removed
  at once, its writer alive or not.

A writer is *gone* when no process of this host has its pid and start time
(a zombie counts as gone).  Entries made on another host, boot or PID
namespace (a shared network filesystem, a container) cannot be checked:
they count as left over once their name's creation time is *min_age*
seconds old.  A temporary entry of a living writer is never touched,
however old it is.

Parked trees are handled under the directory's writers' lock.  Where that
lock is a real ``flock``, no writer of this host can be between the two
renames of its swap while ``clean`` holds it, so this host's parked trees
are acted on whoever parked them; elsewhere (no ``flock``), and for trees
parked by another host (whose lock may be local to it, as ``flock`` is on
NFS), the rules of temporary entries apply.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ._lock import HAVE_FLOCK, directory_lock
from ._parked import ParkedTree, parked_trees
from ._tempnames import (
    PARKED_MARKER,
    TEMP_MARKER,
    TRASH_MARKER,
    EntryName,
    parse,
    this_writer,
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
    :ivar restore_to: for a parked tree expected to be put back, where.
    """

    path: str
    kind: str
    is_dir: bool
    pid: int
    age_s: float
    restore_to: str | None = None


@dataclass
class CleanReport:
    """What :func:`modwrite.clean` did (or, with ``dry_run``, would do).

    :ivar removed: paths removed.
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


def _writer_gone(entry: EntryName, age_s: float, min_age: float) -> bool:
    alive = writer_is_alive(entry)
    if alive is None:
        return age_s >= min_age
    return not alive


def _may_settle(parked: ParkedTree, *, exclusive: bool, min_age: float, now_ns: int) -> bool:
    """May ``clean`` act on *parked*, holding its directory's lock (a real
    ``flock`` when *exclusive*)?"""
    age = _age_s(parked.entry, parked.container, now_ns)
    if age is None:
        return False
    if parked.entry.node and parked.entry.node != this_writer().node:
        return age >= min_age  # another host: its flock may be its own
    return exclusive or _writer_gone(parked.entry, age, min_age)


def _is_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


def find_leftovers(
    root: str,
    *,
    min_age: float = DEFAULT_MIN_AGE_S,
    on_error: Callable[[str, OSError], None] | None = None,
) -> Iterator[Leftover]:
    """Yield the entries under *root* that ``clean`` would act on now: a
    parked tree comes with ``restore_to`` when it would be put back.
    (``clean`` decides again for parked trees under the directory's lock.)

    :param root: directory searched, recursively (symlinks not followed;
        modwrite's own entries are not entered).
    :param min_age: seconds after which an entry whose writer this host
        cannot check (another host or container) counts as left over.
    :param on_error: called with the path and the error when the parked
        trees of a directory cannot be read (they are then left alone).
    :raises OSError: *root* cannot be listed.
    """
    now_ns = time.time_ns()
    os.listdir(root)  # raise for an unreadable root, as os.walk would not
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            entry = parse(name)
            if entry is None or entry.marker == PARKED_MARKER:
                continue
            path = os.path.join(dirpath, name)
            age = _age_s(entry, path, now_ns)
            if age is None:
                continue
            if entry.marker == TRASH_MARKER or _writer_gone(entry, age, min_age):
                yield Leftover(path, _KINDS[entry.marker], _is_dir(path), entry.pid, age)
        yield from _parked_leftovers(dirpath, [*dirnames, *filenames], min_age, now_ns, on_error)
        dirnames[:] = [d for d in dirnames if parse(d) is None]


def _parked_leftovers(
    directory: str,
    names: list[str],
    min_age: float,
    now_ns: int,
    on_error: Callable[[str, OSError], None] | None,
) -> Iterator[Leftover]:
    try:
        trees = parked_trees(directory, names=names)
    except OSError as exc:
        if on_error is not None:
            on_error(exc.filename or directory, exc)
        return
    restoring: set[str] = set()
    for parked in trees:  # newest first
        if not _may_settle(parked, exclusive=HAVE_FLOCK, min_age=min_age, now_ns=now_ns):
            if parked.leaf is not None:
                restoring.add(parked.leaf)  # the newest is not ours to restore
            continue
        target = None
        if parked.leaf is not None and parked.leaf not in restoring:
            restoring.add(parked.leaf)
            candidate = os.path.join(directory, parked.leaf)
            if not os.path.lexists(candidate):
                target = candidate
        age = _age_s(parked.entry, parked.container, now_ns) or 0.0
        yield Leftover(
            parked.container, "parked", _is_dir(parked.container), parked.entry.pid, age, target
        )


def remove_leftover(
    leftover: Leftover, *, min_age: float = DEFAULT_MIN_AGE_S
) -> tuple[str, str] | None:
    """Act on *leftover*: remove it, or, for a parked tree, decide again under
    its directory's lock and put it back if it is the newest of a package
    that is still missing.

    :returns: ``("removed", path)``, ``("restored", package path)``, or
        ``None`` when nothing was done (gone meanwhile, or a parked tree no
        longer ours to act on).
    :raises OSError: the entry could not be removed or put back.
    """
    try:
        if leftover.kind == "parked":
            return _settle_parked(leftover.path, min_age)
        if leftover.is_dir:
            shutil.rmtree(leftover.path)
        else:
            os.unlink(leftover.path)
    except FileNotFoundError:
        return None
    return ("removed", leftover.path)


def _settle_parked(container: str, min_age: float) -> tuple[str, str] | None:
    directory = os.path.dirname(container)
    with directory_lock(directory) as locked:
        now_ns = time.time_ns()
        trees = parked_trees(directory)
        mine = next((p for p in trees if p.container == container), None)
        if mine is None or not _may_settle(
            mine, exclusive=locked.exclusive, min_age=min_age, now_ns=now_ns
        ):
            return None
        newest = next((p for p in trees if p.leaf == mine.leaf), None)
        if mine.tree is not None and mine.leaf is not None and newest is mine:
            target = os.path.join(directory, mine.leaf)
            if not os.path.lexists(target):
                os.rename(mine.tree, target)
                if not mine.entry.legacy:  # modwrite 0.1's container was the tree
                    shutil.rmtree(container)
                return ("restored", target)
        if _is_dir(container):
            shutil.rmtree(container)
        else:
            os.unlink(container)
        return ("removed", container)


def clean(
    root: str | os.PathLike[str],
    *,
    min_age: float = DEFAULT_MIN_AGE_S,
    dry_run: bool = False,
) -> CleanReport:
    """Remove the entries interrupted writes left under *root*, and put back
    packages a crash left missing (see ``modwrite clean``).

    Temporary entries of a writer process that is still alive are never
    touched; trash (trees a committed write replaced) is removed whoever
    made it; parked trees are handled under their directory's writers' lock.
    Safe to run beside live writers, e.g. from cron.

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

    def unreadable(path: str, exc: OSError) -> None:
        report.failed.append((path, exc))

    for leftover in find_leftovers(os.fspath(root), min_age=min_age, on_error=unreadable):
        done: tuple[str, str] | None
        if dry_run:
            done = (
                ("restored", leftover.restore_to)
                if leftover.restore_to
                else ("removed", leftover.path)
            )
        else:
            try:
                done = remove_leftover(leftover, min_age=min_age)
            except OSError as exc:
                report.failed.append((leftover.path, exc))
                continue
        if done is None:
            continue
        if done[0] == "restored":
            report.restored.append((leftover.path, done[1]))
        else:
            report.removed.append(done[1])
    return report
