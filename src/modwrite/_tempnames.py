"""Names of modwrite's temporary entries, and what they say about their
writer.

Every entry modwrite creates besides the files it lands is named::

    .<leaf>.<node>-<pid>-<start>-<created>-<serial><marker>

* ``<leaf>``: the name of the file or package it is for, cut short so that
  the whole name fits in 255 bytes (NAME_MAX on Linux, macOS and Windows): a
  hint for people, never parsed back;
* ``<node>``: 8 hex digits identifying the host, boot and PID namespace of
  the writer (a hash of the host name, the kernel's boot id and the PID
  namespace), so that ``modwrite clean`` run elsewhere (another host on NFS,
  another container) never takes a pid for one of its own;
* ``<pid>`` and ``<start>``: the writer's pid and its start time (clock ticks
  since boot, base 36; ``0`` where unknown), so that a pid reused by another
  process is not taken for the writer;
* ``<created>``: when the entry was made (nanoseconds since the epoch, hex):
  its age, whatever its mtime says (a swapped-out package keeps its old
  directory's mtime), and the order of parked trees;
* ``<serial>``: a per-process counter (hex), so that names never repeat;
* ``<marker>``: what the entry is (see :data:`TEMP_MARKER`,
  :data:`PARKED_MARKER`, :data:`TRASH_MARKER`).

The leading dot and the ``-`` make every such name a non-identifier with an
unknown suffix: no finder matches it, :func:`inspect.getmodulename` returns
``None`` and :func:`pkgutil.iter_modules` does not list it.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
from dataclasses import dataclass

__all__ = [
    "PARKED_MARKER",
    "TEMP_MARKER",
    "TRASH_MARKER",
    "EntryName",
    "parse",
    "temporary_name",
    "this_writer",
    "writer_is_alive",
]

#: An entry being built by a live writer: a temporary file, a package tree
#: being staged, a visibility probe.  ``modwrite clean`` removes it once its
#: writer is gone.
TEMP_MARKER = ".modwrite-tmp"

#: A directory holding the old tree of a package being swapped by two
#: renames (no RENAME_EXCHANGE), under its own name.  ``modwrite clean``
#: puts the newest one back if its package is missing and its writer is
#: gone, and removes the others.
PARKED_MARKER = ".modwrite-old"

#: What a write committed past: the tree a package swap replaced.  Nobody
#: needs it; ``modwrite clean`` removes it at once, writer alive or not.
TRASH_MARKER = ".modwrite-trash"

_MARKERS = (TEMP_MARKER, PARKED_MARKER, TRASH_MARKER)

#: The longest file name, in bytes, of the filesystems modwrite targets.
NAME_MAX = 255

_NAME = re.compile(
    r"^\.(?P<hint>.*)\.(?P<node>[0-9a-f]{8})-(?P<pid>[0-9]+)-(?P<start>[0-9a-z]+)"
    r"-(?P<created>[0-9a-f]+)-(?P<serial>[0-9a-f]+)"
    rf"(?P<marker>{'|'.join(re.escape(m) for m in _MARKERS)})$"
)
# modwrite 0.1 named its entries ".<leaf>.<pid>-<hex><marker>".
_LEGACY_NAME = re.compile(
    r"^\.(?P<hint>.+)\.(?P<pid>[0-9]+)-[0-9a-f]+"
    rf"(?P<marker>{re.escape(TEMP_MARKER)}|{re.escape(PARKED_MARKER)})$"
)


@dataclass(frozen=True)
class EntryName:
    """What the name of one of modwrite's entries says.

    *node* and *start* are ``""`` for names written by modwrite 0.1
    (*legacy*), whose age is then unknown (``created_ns`` is ``None``) and
    whose *hint* is the whole leaf (a 0.1 parked tree is the old package
    itself, not a directory holding it)."""

    hint: str
    marker: str
    node: str
    pid: int
    start: str
    created_ns: int | None
    serial: int
    legacy: bool = False


def parse(name: str) -> EntryName | None:
    """The parts of one of modwrite's entry names; ``None`` for any other."""
    match = _NAME.match(name)
    if match is not None:
        return EntryName(
            match["hint"],
            match["marker"],
            match["node"],
            int(match["pid"]),
            match["start"],
            int(match["created"], 16),
            int(match["serial"], 16),
        )
    match = _LEGACY_NAME.match(name)
    if match is not None:
        return EntryName(match["hint"], match["marker"], "", int(match["pid"]), "", None, 0, True)
    return None


# -- the writer's identity ---------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _fnv1a(text: str) -> str:
    """32-bit FNV-1a of *text*, as 8 hex digits (no hashlib at write time)."""
    value = 0x811C9DC5
    for byte in text.encode("utf-8", "surrogateescape"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


def _node() -> str:
    try:
        pid_namespace = os.readlink("/proc/self/ns/pid")
    except (OSError, AttributeError):
        pid_namespace = ""
    host = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    return _fnv1a(f"{host}\0{_read('/proc/sys/kernel/random/boot_id')}\0{pid_namespace}")


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = digits[digit] + out
        if not value:
            return out


def start_time(pid: int) -> str | None:
    """The start time of process *pid* (base 36 clock ticks since boot), ``"0"``
    where the system does not say, ``None`` when there is no such process
    (or only its zombie: a writer killed and not yet reaped is gone)."""
    if not sys.platform.startswith("linux"):
        return "0"
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # Field 3 is the state, field 22 the start time; the command name
    # (field 2) may hold spaces and parentheses, so count from the last ")".
    fields = stat.rpartition(")")[2].split()
    try:
        if fields[0] in ("Z", "X"):
            return None
        return _base36(int(fields[19]))
    except (IndexError, ValueError):  # pragma: no cover - a /proc of another shape
        return "0"


@dataclass(frozen=True)
class _Writer:
    pid: int
    node: str
    start: str
    token: str


_writer: _Writer | None = None
_serial = itertools.count()


def this_writer() -> _Writer:
    """This process's identity, computed once per process (again in a forked
    child)."""
    global _writer
    pid = os.getpid()
    if _writer is None or _writer.pid != pid:
        node = _node()
        start = start_time(pid) or "0"
        _writer = _Writer(pid, node, start, f"{node}-{pid}-{start}")
    return _writer


def writer_is_alive(entry: EntryName) -> bool | None:
    """Is the process that made *entry* alive?  ``None`` when this host cannot
    tell: another host, boot or PID namespace, a name of modwrite 0.1 on a
    system without ``kill(pid, 0)``."""
    me = this_writer()
    if entry.node and entry.node != me.node:
        return None
    if entry.pid == me.pid:
        return not entry.start or entry.start == me.start
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would signal the process
        return None
    try:
        os.kill(entry.pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, another user's
        pass
    started = start_time(entry.pid)
    if started is None:
        return False
    if not entry.start or entry.start == "0" or started == "0":
        return True
    return started == entry.start


# -- names ----------------------------------------------------------------------------


def _cut(leaf: str, budget: int) -> str:
    """*leaf* cut to at most *budget* bytes of UTF-8, on a character boundary."""
    data = leaf.encode("utf-8", "surrogateescape")
    if len(data) <= budget:
        return leaf
    return data[:budget].decode("utf-8", "ignore")


def temporary_name(leaf: str, marker: str = TEMP_MARKER) -> str:
    """A unique, never-importable name for a new entry beside *leaf*.

    :param leaf: the name of the entry it is for (cut short to fit NAME_MAX).
    :param marker: :data:`TEMP_MARKER`, :data:`PARKED_MARKER` or
        :data:`TRASH_MARKER`.
    """
    tail = f".{this_writer().token}-{time.time_ns():x}-{next(_serial):x}{marker}"
    return f".{_cut(leaf, NAME_MAX - 1 - len(tail))}{tail}"
