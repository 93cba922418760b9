"""Filesystem clocks: timestamp ticks, and the seconds-scale constants that
follow from them.

A filesystem stores timestamps in steps of its *tick*: 1 ns on ext4 with
256-byte inodes, tmpfs, APFS; 100 ns on NTFS; 1 s on HFS+, ext4 with 128-byte
inodes and many NFS servers; 2 s on FAT.  modwrite never asks the filesystem
for its tick (there is no portable call): it infers it from the timestamps it
sees there (:func:`tick_for`), as the greatest common divisor of every reading
on that device, matched against the ticks filesystems really have.

Every constant of modwrite measured in seconds follows from the largest tick
in use, :data:`LARGEST_TICK_S` (FAT's 2 s):

* :data:`MAX_MTIME_LEAD_S` = one largest tick: how far the stamp rule
  (:mod:`modwrite._stamp`) may move a file's mtime ahead of the clock; on FAT
  the next representable second is 2 s away.
* :data:`SETTLED_S` = one largest tick: a timestamp pyc written that long
  after its source's mtime second cannot have been compiled from an earlier
  version of that second (:mod:`modwrite._machinery`).
* :data:`FUTURE_S` = one largest tick plus a margin: a directory mtime this
  far ahead of the filesystem clock was set by a skewed clock, and waiting for
  the clock to pass it would not end (:mod:`modwrite._settle`).
* :data:`DROPPED_MEMORY_S` = :data:`MAX_MTIME_LEAD_S` + :data:`LARGEST_TICK_S`:
  a source dropped from a package may carry a stamp up to the lead ahead of
  the clock; after one more tick, any new file's natural stamp is past it.
* :data:`DEFAULT_VISIBILITY_TIMEOUT_S`: the visibility wait is at most one
  tick plus the kernel's clock lag (:data:`CLOCK_LAG_NS`); the default budget
  is the largest tick plus a 3-second margin for loaded machines.

Kept free of imports: the machinery, loaded at interpreter start-up, uses it
on every re-listing, during an import.  The greatest common divisor is
computed here: importing :mod:`math` by name there (a shared library, not
loaded at start-up) failed in programs with a ``math`` module of their own in
:data:`sys.modules`.
"""

from __future__ import annotations

__all__ = [
    "CLOCK_LAG_NS",
    "DEFAULT_VISIBILITY_TIMEOUT_S",
    "DROPPED_MEMORY_S",
    "FUTURE_S",
    "LARGEST_TICK_NS",
    "LARGEST_TICK_S",
    "MAX_MTIME_LEAD_S",
    "MIN_POLL_S",
    "NS_PER_S",
    "SETTLED_S",
    "TICKS_NS",
    "plausible_ticks",
    "tick_for",
]

NS_PER_S = 1_000_000_000

#: Timestamp ticks a filesystem may have, in nanoseconds, smallest first:
#: 1 µs … 100 ms as on network and FUSE filesystems, 1 s (ext4 with 128-byte
#: inodes, HFS+, many NFS servers), 2 s (FAT).
TICKS_NS = (
    1_000,
    10_000,
    100_000,
    1_000_000,
    2_000_000,
    4_000_000,
    10_000_000,
    20_000_000,
    100_000_000,
    1_000_000_000,
    2_000_000_000,
)

#: The largest tick modwrite allows for: FAT's 2 seconds.
LARGEST_TICK_NS = TICKS_NS[-1]
LARGEST_TICK_S = LARGEST_TICK_NS // NS_PER_S

#: Seconds the stamp rule may move a file's mtime ahead of the clock.
MAX_MTIME_LEAD_S = LARGEST_TICK_S

#: A timestamp pyc is trusted only when written at least this many whole
#: seconds after the second of its source's mtime.
SETTLED_S = LARGEST_TICK_S

#: Seconds ahead of the filesystem clock beyond which a directory's mtime is
#: taken to be in the future (set by a skewed clock), not waited for.
FUTURE_S = LARGEST_TICK_S + 0.5

#: Seconds a source dropped from a package keeps its stamp in memory.
DROPPED_MEMORY_S = float(MAX_MTIME_LEAD_S + LARGEST_TICK_S)

#: Default budget, in seconds, of the cross-process visibility wait.
DEFAULT_VISIBILITY_TIMEOUT_S = LARGEST_TICK_S + 3.0

#: How far the kernel's coarse clock (which dates file changes) may lag the
#: wall clock, in nanoseconds: one jiffy is 1-10 ms; 20 ms leaves a margin.
CLOCK_LAG_NS = 20_000_000

#: Poll step of the visibility wait once the inferred tick boundaries have
#: passed (the kernel's clock lags by up to one jiffy), in seconds.
MIN_POLL_S = 0.001

# Per filesystem (st_dev): the gcd of every clock reading seen there, from
# which the tick is inferred.  No lock (threading is not imported at start-up):
# two threads racing here can at worst drop one reading, which leaves the
# inferred tick larger, i.e. more conservative.
_gcd_by_device: dict[int, int] = {}


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def learn(device: int, reading_ns: int) -> None:
    """Record the timestamp *reading_ns* (nanoseconds) seen on *device*."""
    _gcd_by_device[device] = _gcd(_gcd_by_device.get(device, 0), reading_ns)


def plausible_ticks(device: int) -> list[int]:
    """The candidate ticks (ns) that divide every reading seen on *device*,
    smallest first; the smallest candidate when nothing is known."""
    g = _gcd_by_device.get(device, 0)
    return [t for t in TICKS_NS if g and g % t == 0] or [TICKS_NS[0]]


def tick_for(device: int, reading_ns: int) -> int:
    """Learn the timestamp *reading_ns* (ns) seen on *device*; return the
    largest tick (ns) that divides every reading seen there, or 1."""
    learn(device, reading_ns)
    return plausible_ticks(device)[-1] if _gcd_by_device.get(device) else 1
