"""What a module the stock import system loaded ran, learnt after the fact
from the evidence it left (G9): the process's start time, the bytecode
cache beside the source, and the module's own objects.

:func:`modwrite._changes.first_sight` asks this module when it meets a
loaded module for which no loader recorded the bytes it ran.
"""

from __future__ import annotations

import marshal
import os
from importlib.util import MAGIC_NUMBER, cache_from_source, source_hash
from types import CodeType, FunctionType, ModuleType

from ._clock import CLOCK_LAG_NS, LARGEST_TICK_NS, NS_PER_S, SETTLED_S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._changes import StatKey

__all__ = ["SETTLE_NS", "other_bytes_ran", "unchanged_since_start"]

#: A ctime this far behind a clock reading is older than any change after it.
SETTLE_NS = LARGEST_TICK_NS + CLOCK_LAG_NS


def unchanged_since_start(ctime_ns: int) -> bool:
    """Was a file whose inode last changed at *ctime_ns* unchanged since
    before this process (and its parent) started?  ``False`` when the start
    time cannot be read."""
    started_ns = _process_start_ns()
    return started_ns is not None and ctime_ns < started_ns - SETTLE_NS


def _process_start_ns() -> int | None:
    """A time (ns since the epoch) no later than the start of this process
    and of its parent (a fork inherits the parent's modules),
    or ``None`` where it cannot be read (it is read from ``/proc``)."""
    global _start_ns
    if _start_ns is _UNREAD:
        _start_ns = _read_start_ns()
    return _start_ns  # type: ignore[return-value]


_UNREAD = object()
_start_ns: object = _UNREAD


def _read_start_ns() -> int | None:
    try:
        with open("/proc/stat", "rb") as f:
            boot_s = next(int(line.split()[1]) for line in f if line.startswith(b"btime "))
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        starts = []
        for pid in ("self", str(os.getppid())):
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            starts.append(int(fields[19]))  # field 22, starttime, in clock ticks since boot
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    # btime is whole seconds, and moves with clock adjustments: one second
    # of margin more.
    return (boot_s - 1) * NS_PER_S + min(starts) * NS_PER_S // ticks_per_s


def other_bytes_ran(module: ModuleType, path: str, data: bytes, key: StatKey) -> bool:
    """Do the bytecode cache or the module's own code objects say that other
    bytes than *data* ran?  ``False`` when they say *data* ran, or nothing
    tells."""
    cached = _read_pyc(module, path)
    if cached is not None:
        pyc, pyc_mtime_s = cached
        flags = int.from_bytes(pyc[4:8], "little")
        if flags & 0b1:  # hash-based (PEP 552): it names its source
            if pyc[8:16] == source_hash(data):
                return False  # it ran, or these bytes were compiled
            if not flags & 0b10:
                return True  # unchecked: the import ran it, whatever the source
            # Checked: it ran if the source still matched it at the import,
            # else the import compiled the source; the code tells which.
        elif (
            int.from_bytes(pyc[8:12], "little") == (key[0] // NS_PER_S) & 0xFFFFFFFF
            and int.from_bytes(pyc[12:16], "little") == key[1] & 0xFFFFFFFF
            and pyc_mtime_s >= key[3] // NS_PER_S + SETTLED_S
        ):
            # A timestamp pyc stamped with this file's mtime and size, written
            # a settled while after the file last changed (its ctime, which no
            # tool can set back as utime() sets an mtime): from these bytes.
            return False
    try:
        now = compile(data, path, "exec", dont_inherit=True)
    except Exception:  # it imported, so what ran compiled: not these bytes
        return True
    differs = _live_code_differs(module, path, now)
    if differs is not None:
        return differs
    if cached is None:
        return False  # nothing tells: the file's bytes are taken for what ran
    try:
        ran = marshal.loads(cached[0][16:])
    except Exception:  # a corrupt cache did not run
        return False
    return not (isinstance(ran, CodeType) and ran == now)


def _read_pyc(module: ModuleType, path: str) -> tuple[bytes, int] | None:
    """The bytes of the module's timestamp or hash-based pyc and its mtime
    (whole seconds), or ``None``."""
    cached = getattr(module, "__cached__", None)
    if not isinstance(cached, str):
        try:
            cached = cache_from_source(path)
        except (NotImplementedError, ValueError):
            return None
    try:
        with open(cached, "rb") as f:
            pyc = f.read()
            pyc_mtime_s = int(os.fstat(f.fileno()).st_mtime)
    except OSError:
        return None
    if len(pyc) < 16 or pyc[:4] != MAGIC_NUMBER:
        return None
    return pyc, pyc_mtime_s


def _live_code_differs(module: ModuleType, path: str, now: CodeType) -> bool | None:
    """Do the code objects of the module's functions and methods (those
    compiled from *path*) differ from the ones *now* holds at the same name
    and first line?  ``None`` when the module has none to compare."""
    compiled: dict[tuple[str, int], CodeType] = {}
    stack = [now]
    while stack:
        for constant in stack.pop().co_consts:
            if isinstance(constant, CodeType):
                compiled[(constant.co_name, constant.co_firstlineno)] = constant
                stack.append(constant)
    live = []
    for value in list(vars(module).values()):
        if isinstance(value, type) and getattr(value, "__module__", None) == module.__name__:
            members: list[object] = list(vars(value).values())
        else:
            members = [value]
        for member in members:
            function = getattr(member, "__func__", member)  # classmethod, staticmethod
            if isinstance(function, FunctionType) and function.__code__.co_filename == path:
                live.append(function.__code__)
    if not live:
        return None
    return any(compiled.get((code.co_name, code.co_firstlineno)) != code for code in live)
