"""ENOSPC at every free-space level of a tiny loop-mounted ext4.

For each scenario the blocks (and, separately, the inodes) an unharmed write
uses are measured; then, for every level from none free to a few more than
that, the filesystem is emptied, the old version written, the rest filled
(a file written block by block until ``ENOSPC``, then truncated by *level*
blocks; for inodes, empty files until ``ENOSPC``, then *level* of them
removed), and the write run in this process, a living writer:

* it returns: the new version stands (leftovers only what ``clean`` removes
  while the writer lives), warnings only :class:`~modwrite.PostCommitWarning`
  or :class:`~modwrite.VisibilityWarning`;
* it raises: the documented error, :class:`~modwrite.ModuleWriteError` with
  ``errno`` ENOSPC, and nothing landed (for a batch: the writes before the
  failing one did), no leftover;

and a fresh import, still on the full filesystem, sees that version, by
content.  The level each trial ran at is the ``statvfs`` count of free
blocks (inodes) measured after filling.
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import modwrite
from modwrite import _clean

from ..faults import CommitPointViolation, leftovers, removable, state_index
from .engine import outcome
from .progress import around_commit_points
from .scenarios import WriteScenario, expected_states, verify_import
from .tally import Tally

__all__ = ["run_enospc"]

#: Levels tried beyond what an unharmed write uses.
MARGIN = 4

_FILLER = "filler"
_roots = itertools.count()


def _new_root(fs: Path) -> Path:
    """A root never used before: a path this process wrote to and
    remembers (the stamp rule's memory of dropped files) would get its files
    padded."""
    root = fs / f"w{next(_roots)}"
    root.mkdir()
    return root


def _wipe(fs: Path) -> None:
    for entry in fs.iterdir():
        if entry.name == "lost+found":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _free(fs: Path) -> tuple[int, int]:
    """Free blocks and inodes a write can use."""
    st = os.statvfs(fs)
    return st.f_bavail, st.f_favail


def _write_block(fd: int, chunk: bytes, index: int) -> bool:
    """Write *chunk* as block *index* of the file *fd*; ``False`` when the
    filesystem is full (ENOSPC)."""
    try:
        os.pwrite(fd, chunk, index * len(chunk))
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        return False
    return True


def _fill_blocks(fs: Path, level: int) -> int:
    """Fill *fs* but *level* blocks (a file written block by block until
    ENOSPC, then cut short; cut again or grown while the count is off, as
    when a cut also frees an extent block); returns the free blocks then."""
    bs = os.statvfs(fs).f_frsize
    fd = os.open(fs / _FILLER, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        written = 0
        chunk = b"\0" * bs
        while _write_block(fd, chunk, written):
            written += 1
        size = max(0, written - level)
        os.ftruncate(fd, size * bs)
        for _ in range(8):
            free = _free(fs)[0]
            if free == level:
                break
            if free < level and size:
                size = max(0, size - (level - free))
                os.ftruncate(fd, size * bs)
            elif free > level:
                if not _write_block(fd, chunk, size):
                    break
                size += 1
    finally:
        os.close(fd)
    return _free(fs)[0]


def _fill_inodes(fs: Path, level: int) -> int:
    """Use every inode of *fs* but *level*; returns the free inodes then."""
    fillers = fs / _FILLER
    fillers.mkdir()
    made = []
    while True:
        path = fillers / str(len(made))
        try:
            path.touch()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            break
        made.append(path)
    for path in made[len(made) - level :] if level else []:
        path.unlink()
    return _free(fs)[1]


def _usage(scenario: WriteScenario, fs: Path) -> tuple[int, int]:
    """Blocks and inodes an unharmed write uses (at its peak: the staged
    tree beside the old one)."""
    _wipe(fs)
    root = _new_root(fs)
    scenario.setup(root)
    before = _free(fs)
    peak = [before]
    with around_commit_points(lambda: peak.append(_free(fs))):
        scenario.run(root)
    peak.append(_free(fs))
    _wipe(fs)
    return before[0] - min(p[0] for p in peak), before[1] - min(p[1] for p in peak)


def _one(
    scenario: WriteScenario, fs: Path, states: list[Any], resource: str, level: int
) -> tuple[int, int, bool, int]:
    """One write at *level* free blocks or inodes: (the level measured, the
    state index, whether it raised, leftovers cleaned).

    :raises CommitPointViolation: a rule is broken."""
    _wipe(fs)
    root = _new_root(fs)
    scenario.setup(root)
    measured = _fill_blocks(fs, level) if resource == "blocks" else _fill_inodes(fs, level)
    done: list[int] = []  # the steps that returned
    raised: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scenario.run(root, after_step=done.append)
        except Exception as exc:
            raised = exc
    where = f"{resource} level {measured}"
    index = state_index(states, root)
    left = leftovers(root)
    cleaned = 0
    if raised is not None:
        if not isinstance(raised, modwrite.ModuleWriteError) or raised.errno != errno.ENOSPC:
            raise CommitPointViolation(f"{where}: raised {raised!r}, not ModuleWriteError ENOSPC")
        if index != len(done):
            raise CommitPointViolation(f"{where}: {len(done)} writes returned, state {index}")
        if left:
            raise CommitPointViolation(f"{where}: raised {raised!r} and left {left}")
    else:
        if index != len(states) - 1:
            raise CommitPointViolation(f"{where}: returned, state {index}")
        if left:
            may_remove = removable(root)
            if may_remove != left:
                raise CommitPointViolation(f"{where}: left {left}, clean may remove {may_remove}")
            cleaned = len(_clean.clean(str(root)).removed)
    for warning in caught:
        if raised is not None or not issubclass(
            warning.category, (modwrite.PostCommitWarning, modwrite.VisibilityWarning)
        ):
            raise CommitPointViolation(f"{where}: warned {warning.message!r}, raised {raised!r}")
    verify_import(root, scenario.versions[index])  # the filesystem still full
    return measured, index, raised is not None, cleaned


def run_enospc(scenario: WriteScenario, fs: Path, *, margin: int = MARGIN) -> Tally:
    """Run *scenario* at every level of free blocks, then of free inodes, from
    none to what it uses plus *margin*, on the tiny filesystem *fs*."""
    tally = Tally(scenario.name, "ENOSPC")
    started = time.monotonic()
    states = expected_states(scenario, fs / "expected")
    blocks, inodes = _usage(scenario, fs)
    measured: dict[str, list[int]] = {"blocks": [], "inodes": []}
    for resource, need in (("blocks", blocks), ("inodes", inodes)):
        for level in range(need + margin + 1):
            tally.trials += 1
            try:
                at, index, raised, cleaned = _one(scenario, fs, states, resource, level)
                measured[resource].append(at)
                tally.outcome[outcome(scenario, index)] += 1
                tally.raised += raised
                tally.cleaned += cleaned
            except Exception as exc:
                tally.violation(f"{scenario.name}: {resource} level {level}: {exc!r}")
    _wipe(fs)
    tally.seconds = time.monotonic() - started
    tally.note = (
        ", ".join(
            f"{resource} free {min(levels)}-{max(levels)}"
            + ("" if sorted(levels) == list(range(min(levels), max(levels) + 1)) else " (gaps)")
            for resource, levels in measured.items()
            if levels
        )
        + f"; an unharmed write uses {blocks} blocks, {inodes} inodes"
    )
    return tally
