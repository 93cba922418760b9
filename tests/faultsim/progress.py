"""Where a child writer is in its write, in memory it shares with the
campaign's parent; and a kill timer the kernel fires.

A forked writer marks its progress in a slot of an anonymous shared
mapping (inherited over ``fork``): the write started, each commit point
entered and left, the write returned, with the ``CLOCK_MONOTONIC`` time of
each.  The commit points are marked by wrapping the two functions that
modwrite documents as its commit points (:func:`instrument`): the rename of
a module's temporary file over its target
(``_ModuleFileWriter.commit``) and the exchange or rename that moves a tree
in (``swap_in``).  After a SIGKILL the slot says exactly where the writer
died: nothing after the kill can write to it.

:func:`arm_kill` asks the kernel (POSIX timer, ``timer_create`` with
``SIGEV_SIGNAL``) to send a signal to this process after a delay: the kill
lands at an arbitrary instruction, timed by a high-resolution timer, with no
scheduling of the parent in between, so that many writers can be timed at
once.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from modwrite import _atomic, _write

__all__ = [
    "Mark",
    "Progress",
    "arm_kill",
    "around_commit_points",
    "commit_begins",
    "commit_ends",
    "die_with_parent",
    "instrument",
    "write_returns",
    "write_starts",
]

#: A slot: four int32 counters, then four float64 times (8-byte aligned).
_INTS, _DOUBLES = 4, 4
_SLOT_BYTES = 4 * _INTS + 8 * _DOUBLES
_STARTED, _BEGUN, _DONE, _RETURNED = range(_INTS)
_T_START, _T_BEGIN, _T_END, _T_RETURN = range(_DOUBLES)


class Mark(NamedTuple):
    """A slot's content.

    :ivar started: the write was called.
    :ivar begun: commit points entered.
    :ivar done: commit points left (the commit made).
    :ivar returned: the write returned.
    :ivar t_start: when it was called (``time.monotonic()``, seconds).
    :ivar t_begin: when the first commit point was entered.
    :ivar t_end: when the last commit point was left.
    :ivar t_return: when it returned.
    """

    started: int
    begun: int
    done: int
    returned: int
    t_start: float
    t_begin: float
    t_end: float
    t_return: float

    @property
    def where(self) -> str:
        """Where the write was: ``"before"`` its (first) commit point,
        ``"inside"`` one, ``"after"`` one (not returned), ``"returned"``."""
        if self.returned:
            return "returned"
        if self.begun > self.done:
            return "inside"
        if self.done:
            return "after"
        return "before"

    def allowed_states(self) -> set[int]:
        """The state indexes the commit-point rule allows the disk to be in
        (state *k*: after *k* commits): the commits made, and, inside a
        commit, the one being made."""
        if self.begun > self.done:
            return {self.done, self.begun}
        return {self.done}


class Progress:
    """*slots* slots of shared memory, one per writer in flight.

    Every mark is one aligned store of one field (through typed memoryviews):
    a writer killed while marking leaves the field old or new, never a
    slot half written.  (``struct.pack_into`` zero-fills its target before
    packing into it: a kill between the two left a slot of zeros.)  A time
    is stored before the counter that says it is there.
    """

    def __init__(self, slots: int) -> None:
        self._map = mmap.mmap(-1, slots * _SLOT_BYTES)
        self._ints = memoryview(self._map).cast("i")
        self._doubles = memoryview(self._map).cast("d")

    def _int(self, slot: int, field: int) -> int:
        return slot * _SLOT_BYTES // 4 + field

    def _double(self, slot: int, field: int) -> int:
        return (slot * _SLOT_BYTES + 4 * _INTS) // 8 + field

    def reset(self, slot: int) -> None:
        for field in range(_INTS):
            self._ints[self._int(slot, field)] = 0
        for field in range(_DOUBLES):
            self._doubles[self._double(slot, field)] = 0.0

    def read(self, slot: int) -> Mark:
        i, d = self._int(slot, 0), self._double(slot, 0)
        return Mark(*self._ints[i : i + _INTS], *self._doubles[d : d + _DOUBLES])

    def use(self, slot: int) -> None:
        """In a child: mark this slot from now on."""
        global _current
        _current = (self, slot)

    def mark(self, slot: int, counter: int, time_field: int, *, first: bool = False) -> None:
        """Store the time now in *time_field* (unless *first* and already
        set), then add one to *counter*."""
        now = time.monotonic()
        t = self._double(slot, time_field)
        if not (first and self._doubles[t]):
            self._doubles[t] = now
        c = self._int(slot, counter)
        self._ints[c] = self._ints[c] + 1


_current: tuple[Progress, int] | None = None


def write_starts() -> None:
    if _current is not None:
        _current[0].mark(_current[1], _STARTED, _T_START)


def write_returns() -> None:
    if _current is not None:
        _current[0].mark(_current[1], _RETURNED, _T_RETURN)


def commit_begins() -> None:
    """A commit point is entered (called by the wrappers; a test's own
    writer calls it around what it takes for its commit)."""
    if _current is not None:
        _current[0].mark(_current[1], _BEGUN, _T_BEGIN, first=True)


def commit_ends() -> None:
    if _current is not None:
        _current[0].mark(_current[1], _DONE, _T_END)


@contextmanager
def instrument() -> Iterator[None]:
    """Mark modwrite's commit points in the slot in use (no-ops in a process
    that uses none)."""
    with around_commit_points(commit_begins, commit_ends):
        yield


@contextmanager
def around_commit_points(
    before: Callable[[], object], after: Callable[[], object] = lambda: None
) -> Iterator[None]:
    """Call *before* and *after* around each of modwrite's documented commit
    points (the rename of a module's temporary file over its target,
    ``_ModuleFileWriter.commit``; the move of a tree in, ``swap_in``);
    *after* only when it returns."""
    real_commit = _atomic._ModuleFileWriter.commit
    real_swap_in = _write.swap_in

    def commit(self: Any, f: Any) -> None:
        before()
        real_commit(self, f)
        after()

    def swap_in(staging: str, target: str, *, replace: bool) -> str | None:
        before()
        replaced = real_swap_in(staging, target, replace=replace)
        after()
        return replaced

    _atomic._ModuleFileWriter.commit = commit  # type: ignore[method-assign]
    _write.swap_in = swap_in
    try:
        yield
    finally:
        _atomic._ModuleFileWriter.commit = real_commit  # type: ignore[method-assign]
        _write.swap_in = real_swap_in


# -- the kill timer -------------------------------------------------------------------


class _Sigevent(ctypes.Structure):
    _fields_ = (
        ("sigev_value", ctypes.c_void_p),
        ("sigev_signo", ctypes.c_int),
        ("sigev_notify", ctypes.c_int),
        ("_rest", ctypes.c_int * 12),
    )


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


_SIGEV_SIGNAL = 0
_PR_SET_PDEATHSIG = 1
_libc: Any = None


def _c() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies (a campaign stopped midway
    leaves no writer behind)."""
    _c().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before that
        os._exit(1)


def arm_kill(delay_s: float, signum: int = signal.SIGKILL) -> None:
    """Have the kernel send *signum* to this process in *delay_s* seconds
    (``CLOCK_MONOTONIC``; a timer of this process, not inherited by a
    fork).

    :raises OSError: the timer could not be made (errno preserved).
    """
    libc = _c()
    event = _Sigevent(None, signum, _SIGEV_SIGNAL)
    timer = ctypes.c_void_p()
    if libc.timer_create(time.CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(timer)):
        err = ctypes.get_errno()
        raise OSError(err, f"timer_create: {os.strerror(err)}")
    ns = max(1, round(delay_s * 1e9))
    spec = _Itimerspec(_Timespec(0, 0), _Timespec(ns // 10**9, ns % 10**9))
    if libc.timer_settime(timer, 0, ctypes.byref(spec), None):
        err = ctypes.get_errno()
        raise OSError(err, f"timer_settime: {os.strerror(err)}")
