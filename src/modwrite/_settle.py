"""Cross-process visibility: move a directory's mtime past the landing (G2).

CPython's :class:`importlib.machinery.FileFinder` re-lists its directory
only when the directory's ``st_mtime`` differs from the value it saw at its
last listing.  A reader that listed the directory in the same timestamp tick
as a landing caches that tick's mtime *without* the new entry, and a stock
finder never looks again while the mtime stays put.

Eby's rename dance (python-dev, March 2013) renames a temporary file until
the directory mtime changes, then renames it to its final name.  Taken
literally it leaves a window: a reader that re-lists between the dance's
mtime change and the final rename caches the new mtime without the module.
modwrite applies the stronger rule instead:

    after the landing, the directory's mtime must end at a value strictly
    greater than the one observed right after the landing.

Directory mtimes only grow (with a sane clock), so that value was first set
after the landing, and any reader that caches it listed the directory after
the landing, so its listing holds the new entry.

How: :func:`settle` observes ``M = stat(dir).st_mtime`` after the landings,
then sets the directory's times to *now* with ``os.utime(dir)`` (a change of
the directory that renames nothing) and checks that the mtime moved past
``M``.  On fine-grained filesystems it does at once: 2 syscalls.  On coarse
ones (1 s ext4 with 128-byte inodes, 2 s FAT, HFS+, jiffy-ticked kernels) the
clock is still in the landing's tick: :func:`settle` then reads the
filesystem clock on a probe file (``os.utime`` + ``os.stat``, which leaves
the directory alone), sleeps to the next tick boundary it can infer from the
timestamps, and only then touches the directory again.  The wait is at most
one tick plus the kernel's clock lag, and it is paid once for any number of
directories (a :func:`modwrite.batch` settles them together).

The wait has a budget.  Filesystems whose directory mtimes never move, and
network filesystems whose server clock runs far ahead, exhaust it;
:func:`settle` then issues :class:`~modwrite.VisibilityWarning` and returns
``False``: the landing stands, in-process imports see it, stock finders in
other processes may need :func:`importlib.invalidate_caches`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ._clock import (
    DEFAULT_VISIBILITY_TIMEOUT_S,
    FUTURE_S,
    LARGEST_TICK_NS,
    MIN_POLL_S,
    learn,
    plausible_ticks,
)
from ._plan import check_timeout

__all__ = [
    "DEFAULT_VISIBILITY_TIMEOUT_S",
    "Floors",
    "batch",
    "make_visible",
    "observe",
    "settle",
]


def observe(directory: str) -> float:
    """The directory's ``st_mtime`` now (seconds, as a float: the value a
    stock ``FileFinder`` compares)."""
    return os.stat(directory).st_mtime


def settle(
    observed: dict[str, float],
    *,
    timeout: float = DEFAULT_VISIBILITY_TIMEOUT_S,
    floors: dict[str, float] | None = None,
    stacklevel: int = 2,
) -> bool:
    """Move each directory's mtime past the value observed after its landings.

    :param observed: directory path -> ``st_mtime`` (float seconds) observed
        after the last landing in it (see :func:`observe`).
    :param timeout: the budget, in seconds, of the whole wait.
    :param floors: directory path -> an mtime (float seconds) the final mtime
        must also exceed: the mtime of the directory that used to be at that
        path (a package swapped in), which stock finders may have cached.
    :param stacklevel: passed on to :func:`warnings.warn`, counted from the
        caller of :func:`settle`.
    :returns: ``True`` when every directory's mtime was seen past its
        threshold; ``False`` (after a :class:`~modwrite.VisibilityWarning`)
        when the budget ran out first, or the directory could not be touched
        or stat-ed any more (removed meanwhile, permissions): the landing
        stands either way.
    """
    thresholds = {d: max(m, (floors or {}).get(d, float("-inf"))) for d, m in observed.items()}
    probes = _Probes()
    devices: dict[str, int] = {}
    pending = dict(thresholds)
    problem = ""
    try:
        pending = {d: t for d, t in thresholds.items() if not _touch_moved(d, t, observed[d])}
        deadline = time.monotonic() + timeout
        while pending:
            ready = [d for d, t in pending.items() if _read_clock(d, probes, devices) / 1e9 > t]
            for directory in ready:
                threshold = pending[directory]
                if _touch_moved(directory, threshold, observed[directory]) or _entry_moved(
                    directory, threshold, probes
                ):
                    del pending[directory]
            now = time.monotonic()
            if not pending or now >= deadline:
                break
            time.sleep(min(_sleep_hint(pending, devices), deadline - now))
    except OSError as exc:
        problem = f" ({exc.strerror}: {exc.filename!r})"
    finally:
        probes.remove_all()
    if not pending:
        return True
    import warnings

    from .errors import VisibilityWarning

    warnings.warn(
        VisibilityWarning(
            f"the mtime of {sorted(pending)!r} did not move past the landing within "
            f"{timeout:g} s{problem}; other processes' stock finders may not see the new "
            "entries until they call importlib.invalidate_caches()"
        ),
        stacklevel=stacklevel + 1,
    )
    return False


def _touch_moved(directory: str, threshold: float, observed: float) -> bool:
    """Set the directory's times to now; did its mtime move past *threshold*?"""
    try:
        os.utime(directory)
    except PermissionError:
        return False
    st = os.stat(directory)
    if st.st_mtime < observed or threshold > st.st_mtime + FUTURE_S:
        # The threshold lies in the future (a skewed clock set this
        # directory's mtime, or the one it replaced, ahead): waiting would not
        # get past it, and utime(now) may even have moved the mtime back to
        # a value a reader cached.  Set it past the threshold explicitly
        # (one largest tick on); directory mtimes stay monotonic.
        os.utime(directory, ns=(st.st_atime_ns, int(threshold * 1e9) + LARGEST_TICK_NS))
        st = os.stat(directory)
    return st.st_mtime > threshold


def _entry_moved(directory: str, landed: float, probes: _Probes) -> bool:
    """Change the directory by an entry (for filesystems that ignore utime on
    directories): rename the probe; did the mtime move past *landed*?"""
    probe = probes.get(directory)
    if probe is None:
        return False
    from ._tempnames import temporary_name

    renamed = os.path.join(directory, temporary_name("probe"))
    probes.made.append(renamed)  # before the rename: an interrupt may follow it
    try:
        os.rename(probe, renamed)
    except OSError:
        return False
    probes[directory] = renamed
    return os.stat(directory).st_mtime > landed


class _Probes(dict[str, str]):
    """Directory -> its current probe file; :attr:`made` lists every name a
    probe had or was about to have, for the final clean-up (the visibility
    wait can be interrupted between a system call and the next statement)."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[str] = []

    def remove_all(self) -> None:
        for probe in self.made:
            try:
                os.unlink(probe)
            except OSError:
                pass


def _read_clock(directory: str, probes: _Probes, devices: dict[str, int]) -> int:
    """The filesystem clock (ns, truncated to its tick) read on a probe file in
    *directory*, without changing the directory after the probe exists; the
    probe's st_dev is recorded in *devices*."""
    probe = probes.get(directory)
    if probe is None:
        from ._tempnames import temporary_name

        probe = os.path.join(directory, temporary_name("probe"))
        probes.made.append(probe)  # before the open: an interrupt may follow it
        with open(probe, "xb"):
            pass
        probes[directory] = probe
    else:
        os.utime(probe)
    st = os.stat(probe)
    devices[directory] = st.st_dev
    learn(st.st_dev, st.st_mtime_ns)
    return st.st_mtime_ns


def _sleep_hint(pending: dict[str, float], devices: dict[str, int]) -> float:
    """Seconds until the earliest plausible tick boundary after a landing.

    Every candidate tick that divides the clock readings is tried in turn, so
    a 1-second filesystem whose readings happen to be even is not mistaken
    for a 2-second one for longer than one poll.
    """
    now_ns = time.time_ns()
    best = float("inf")
    for directory, landed in pending.items():
        device = devices.get(directory)
        if device is None:
            continue
        landed_ns = int(landed * 1e9)
        for tick in plausible_ticks(device):
            boundary = (landed_ns // tick + 1) * tick
            if boundary > now_ns:
                best = min(best, (boundary - now_ns) / 1e9)
    if best == float("inf") or best < MIN_POLL_S:
        return MIN_POLL_S
    return best


# -- batch() ------------------------------------------------------------------


#: Directory path -> the mtime (float seconds) its final mtime must exceed
#: beyond the one observed after the landing (the old directory's, when a
#: package was swapped in), or ``-inf``.
Floors = dict[str, float]


@dataclass
class _Batch:
    timeout: float
    directories: Floors = field(default_factory=dict)
    closed: bool = False


_current_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "modwrite_batch", default=None
)


@contextlib.contextmanager
def batch(*, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT_S) -> Iterator[None]:
    """Defer the cross-process visibility wait of the writes in the block.

    Every :func:`write_module`/:func:`write_package` call with
    ``visibility="system"`` in the block (in this thread or task: the batch
    lives in a :class:`contextvars.ContextVar`) lands at once and is visible
    in this process at once; the wait for the directories' mtimes to move past
    the landings is paid once, for all directories together, when the block
    exits, also when it exits by an exception.  Nested batches join the
    outermost one.  A write made after the block exited by a task that
    inherited the batch's context waits for itself, as outside a batch.

    :param visibility_timeout: the budget of that final wait, in seconds
        (see :class:`~modwrite.VisibilityWarning`).
    :raises InvalidArgument: *visibility_timeout* is negative or not finite.
    """
    check_timeout(visibility_timeout)
    outer = _current_batch.get()
    if outer is not None and not outer.closed:
        yield
        return
    current = _Batch(visibility_timeout)
    token = _current_batch.set(current)
    try:
        yield
    finally:
        current.closed = True
        _current_batch.reset(token)
        # batch() -> contextlib's __exit__ -> the caller's with statement
        _settle_directories(current.directories, current.timeout, stacklevel=3)


def _merge(into: Floors, more: Floors) -> None:
    for directory, floor in more.items():
        into[directory] = max(floor, into.get(directory, float("-inf")))


def _settle_directories(directories: Floors, timeout: float, stacklevel: int) -> None:
    """Settle *directories* after their landings: never raises an
    :class:`OSError` (the writes have landed; a directory that cannot be
    seen is a :class:`~modwrite.VisibilityWarning`)."""
    observed = {}
    unseen: list[str] = []
    for directory in sorted(directories):
        try:
            observed[directory] = observe(directory)
        except FileNotFoundError:  # removed since: nothing left to see
            continue
        except OSError as exc:
            unseen.append(f"{directory!r} ({exc.strerror or exc})")
    if observed:
        settle(observed, timeout=timeout, floors=directories, stacklevel=stacklevel + 1)
    if unseen:
        import warnings

        from .errors import VisibilityWarning

        warnings.warn(
            VisibilityWarning(
                f"the mtime of {', '.join(unseen)} could not be read after the landing; "
                "other processes' stock finders may not see the new entries until they "
                "call importlib.invalidate_caches()"
            ),
            stacklevel=stacklevel + 1,
        )


def make_visible(
    directories: Floors, visibility: str, timeout: float, *, stacklevel: int = 3
) -> None:
    """Called by the public write functions (the warning points at their
    caller: *stacklevel* counts from this function, as for
    :func:`warnings.warn`)."""
    if visibility == "process" or not directories:
        return
    current = _current_batch.get()
    if current is not None and not current.closed:
        _merge(current.directories, directories)
    else:
        _settle_directories(directories, timeout, stacklevel=stacklevel)
