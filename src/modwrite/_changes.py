"""Which loaded modules' sources changed (G9): decided by content, behind a
cheap ``stat``, never by the clock alone.

For every loaded module that was executed from a source file, modwrite keeps
an :class:`Executed` record: the source hash of the bytes that ran
(:func:`importlib.util.source_hash`, the SipHash of PEP 552) and the file's
:data:`StatKey` (``st_mtime_ns``, ``st_size``, ``st_ino``, ``st_ctime_ns``)
when those bytes were read or last confirmed.

A check of one module:

1. ``stat`` the source.  If its key equals the record's and the record is
   *settled*, the content is the same: a key is settled when its
   ``st_ctime_ns`` was already more than one largest tick (plus the kernel
   clock's lag) in the past when it was taken, so any later change of the
   file (written in place, replaced by a rename, deleted and recreated) gets
   a later ctime.  No file read.
2. Otherwise read the file and hash it.  The same hash is no change (a touch,
   a rewrite with the same bytes, an atomic replace with an identical file);
   the record takes the new key.  Another hash is a change.

Neither field decides alone: an mtime misses a same-size edit within one
tick (1 s on many filesystems, 2 s on FAT) and modwrite's own stamp rule
moves mtimes; inode numbers alternate between two values under successive
atomic replaces on ext4; a ctime cannot be set but shares the mtime's tick.

**What ran, when modwrite did not load the module.**  The record comes from
the loader when modwrite ran the module (:func:`~modwrite.reload`,
:func:`~modwrite.write_and_import`, :mod:`modwrite.machinery`'s
``SourceFileLoader`` compiling a source).  For a module the stock import
system loaded, the first check learns what ran from the bytecode cache the
import used or wrote (:func:`first_sight`).  A source unchanged since before
the process (and its parent) started is what ran (its ctime tells, read
against the start time in ``/proc``).  Else: a hash-based pyc (PEP 552)
that names the source's hash, or a timestamp pyc whose stamp matches the
source and that was written a settled while after it, holds the code of
these bytes; they ran unless the module's own functions and methods (what
ran) differ from that code (another process replaced the file *and* its
cache since the import).  Otherwise the current source is compiled and its
code compared with the module's functions and methods, or with the pyc's.
A write by modwrite that is about to replace a loaded module's file and
cache looks first (:func:`learn_what_ran`).

What cannot be known, and is taken from the file at the first check: what
ran for a module without functions or classes whose import left no bytecode
cache to read
(:data:`sys.dont_write_bytecode`, an unwritable ``__pycache__``) or that an
import hook loaded (its cache is its own), when its source changed between
the import and that first check; and a cache another process rewrote in that
interval.  :func:`modwrite.install` closes the first case (its loader records
the bytes it compiles), as does a call to :func:`changed_modules` after
start-up.  The converse error is harmless: a bytecode cache left over from
an older version, with bytecode writing off, reports the module changed
once, and the reload runs the same source.
"""

from __future__ import annotations

import importlib.machinery
import marshal
import os
import sys
import threading
import time
import weakref
from importlib.util import MAGIC_NUMBER, cache_from_source, source_hash
from types import CodeType, FunctionType, ModuleType

from . import _machinery
from ._clock import CLOCK_LAG_NS, LARGEST_TICK_NS, NS_PER_S, SETTLED_S

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Change",
    "Executed",
    "StatKey",
    "changed_modules",
    "digest_of",
    "failed_before",
    "find_changes",
    "learn_what_ran",
    "read_source",
    "record_executed",
    "record_failure",
    "source_hash",
    "source_path",
]

#: ``(st_mtime_ns, st_size, st_ino, st_ctime_ns)`` of a source file.
StatKey = tuple[int, int, int, int]

#: A key is settled when its ctime is this far behind the clock that read it.
_SETTLE_NS = LARGEST_TICK_NS + CLOCK_LAG_NS

_SOURCE_SUFFIXES = tuple(importlib.machinery.SOURCE_SUFFIXES)

#: The loaders that run a module from its source or from the pyc at
#: ``cache_from_source()``, and write that pyc: their cache tells what ran.
#: An import hook's loader (pytest's assertion rewriter, Hy, ...) keeps its
#: own cache, or none.
_PLAIN_SOURCE_LOADERS = (importlib.machinery.SourceFileLoader, _machinery.SourceFileLoader)


def digest_of(data: bytes) -> bytes:
    """The digest a source's content is compared by: the
    :func:`~importlib.util.source_hash` of its bytes without trailing
    newlines, which modwrite's stamp rule may append to a rewrite of the same
    source (:mod:`modwrite._stamp`) and which change no code."""
    return source_hash(data.rstrip(b"\n"))


def stat_key(st: os.stat_result) -> StatKey:
    """The :data:`StatKey` of a ``stat`` result."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def _settled(key: StatKey, now_ns: int) -> bool:
    return key[3] < now_ns - _SETTLE_NS


class Executed:
    """What ran for one module: *path*, the source file; *digest*, the
    :func:`digest_of` the bytes that ran; *key*, the
    file's :data:`StatKey` when they were read (``None``: unknown) and
    *settled*, whether an equal key proves equal content.  *failed_digest*:
    the hash of a source whose reload failed and was reported (not retried
    until the file changes again)."""

    __slots__ = ("digest", "failed_digest", "key", "path", "settled", "spec")

    def __init__(
        self, path: str, digest: bytes, key: StatKey | None, spec: object, now_ns: int
    ) -> None:
        self.path = path
        self.digest = digest
        self.key = key
        self.settled = key is not None and _settled(key, now_ns)
        self.spec = spec  # the module's __spec__ when recorded: a new one means a new import
        self.failed_digest: bytes | None = None


class Change:
    """A loaded *module* whose source file at *path* now holds *data*
    (:func:`digest_of` them: *digest*), read from the file whose identity was *identity*
    (``(st_dev, st_ino, st_size, st_mtime_ns)``, from the descriptor read)
    and :data:`StatKey` *key*: other bytes than those that ran."""

    __slots__ = ("data", "digest", "identity", "key", "module", "path")

    def __init__(
        self,
        module: ModuleType,
        path: str,
        data: bytes,
        digest: bytes,
        identity: tuple[int, int, int, int],
        key: StatKey,
    ) -> None:
        self.module = module
        self.path = path
        self.data = data
        self.digest = digest
        self.identity = identity
        self.key = key


# Per module object (weakly: a module dropped from sys.modules and collected
# takes its record along).  Guarded by _lock: a watcher thread and the main
# thread may check at once.
_records: weakref.WeakKeyDictionary[ModuleType, Executed] = weakref.WeakKeyDictionary()
_lock = threading.RLock()


def source_path(module: ModuleType) -> str | None:
    """The source file *module* was executed from (its spec's origin, when
    the spec has a location and the origin ends in a source suffix), or
    ``None``: built-in, frozen, namespace, extension, sourceless modules,
    modules without a spec (a script's ``__main__``), and ``__main__``."""
    spec = getattr(module, "__spec__", None)
    if spec is None or not getattr(spec, "has_location", False):
        return None
    origin = spec.origin
    if not isinstance(origin, str) or not origin.endswith(_SOURCE_SUFFIXES):
        return None
    if spec.name == "__main__":
        return None
    return origin


def read_source(path: str) -> tuple[bytes, tuple[int, int, int, int], StatKey]:
    """The bytes of the file at *path*, with the identity and the
    :data:`StatKey` of the file they were read from (``fstat`` of the same
    descriptor, taken before the read).

    :raises OSError: the file cannot be opened or read.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        chunks = []
        while True:
            chunk = os.read(fd, max(st.st_size, 8192) + 1)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return b"".join(chunks), identity, stat_key(st)


def record_executed(
    module: ModuleType,
    path: str,
    data: bytes | None,
    key: StatKey | None,
    digest: bytes | None = None,
) -> None:
    """Record that *module* ran the bytes *data* (or the source with hash
    *digest*) of the file at *path*, whose :data:`StatKey` was *key* when they
    were read (``None`` if unknown: the next check reads the file)."""
    if digest is None:
        assert data is not None
        digest = digest_of(data)
    record = Executed(path, digest, key, module.__spec__, time.time_ns())
    with _lock:
        _records[module] = record


def record_failure(module: ModuleType, digest: bytes) -> bool:
    """Note that reloading *module* from the source with hash *digest*
    failed; ``False`` if that source had failed before (it was reported
    already)."""
    with _lock:
        record = _records.get(module)
        if record is None:
            return True
        if record.failed_digest == digest:
            return False
        record.failed_digest = digest
        return True


def failed_before(change: Change) -> bool:
    """Did a reload of these very bytes fail, and was it reported?"""
    with _lock:
        record = _records.get(change.module)
        return record is not None and record.failed_digest == change.digest


def learn_what_ran(modules: Iterable[object]) -> None:
    """Record what ran for those of *modules* modwrite has no record of
    (:func:`first_sight`), while their files and caches still tell."""
    now_ns = time.time_ns()
    with _lock:
        for module in modules:
            if isinstance(module, ModuleType):
                record = _records.get(module)
                if record is None or record.spec is not getattr(module, "__spec__", None):
                    _check(module, now_ns)


def changed_modules(modules: Iterable[ModuleType] | None = None) -> list[ModuleType]:
    """The loaded modules whose source file now holds other bytes than the
    bytes that were executed, in :data:`sys.modules` order.

    :param modules: check only these (any iterable of module objects);
        ``None`` (the default): every module in :data:`sys.modules`.
    :returns: a new list of module objects (``[]`` when nothing changed).
        Modules that were not executed from a source file are never in it
        (built-in, frozen, extension, sourceless and namespace modules,
        ``__main__``), nor a module whose source file is gone.
    :raises ArgumentTypeError: *modules* holds something that is not a module.

    A file rewritten with identical bytes (a touch, an editor saving an
    unmodified buffer) is unchanged: only content counts.  Cost: one
    ``stat`` per module whose file was last changed more than about two
    seconds before the previous check; a read and a hash of the others.
    How modwrite knows what ran: see *Re-importing edited modules* in the
    documentation.
    """
    return [change.module for change in find_changes(modules)]


def find_changes(modules: Iterable[ModuleType] | None = None) -> list[Change]:
    """:func:`changed_modules`, with the bytes read from each changed file."""
    from .errors import ArgumentTypeError

    if modules is None:
        candidates = list(sys.modules.values())
    else:
        candidates = list(modules)
        for module in candidates:
            if not isinstance(module, ModuleType):
                raise ArgumentTypeError(
                    f"modules must hold module objects, not {type(module).__name__}"
                )
    now_ns = time.time_ns()
    changes: list[Change] = []
    seen: set[int] = set()
    with _lock:
        for module in candidates:
            if not isinstance(module, ModuleType) or id(module) in seen:
                continue  # sys.modules may hold other objects (PEP 562 stand-ins, ...)
            seen.add(id(module))
            change = _check(module, now_ns)
            if change is not None:
                changes.append(change)
    return changes


def _check(module: ModuleType, now_ns: int) -> Change | None:
    record = _records.get(module)
    spec = getattr(module, "__spec__", None)
    if record is not None and record.spec is spec:
        path = record.path
    else:  # never seen, or imported anew (a new spec) since
        found = source_path(module)
        if found is None:
            return None
        path = found
        record = None
    try:
        st = os.stat(path)
    except OSError:
        return None  # gone: nothing to reload from
    key = stat_key(st)
    if record is not None and record.settled and record.key == key:
        return None
    try:
        data, identity, key = read_source(path)
    except OSError:
        return None
    digest = digest_of(data)
    if record is None:
        record = first_sight(module, path, data, digest, key, now_ns)
        _records[module] = record
    if digest == record.digest:
        record.key = key
        record.settled = _settled(key, now_ns)
        return None
    return Change(module, path, data, digest, identity, key)


def first_sight(
    module: ModuleType, path: str, data: bytes, digest: bytes, key: StatKey, now_ns: int
) -> Executed:
    """The record of a module modwrite sees for the first time, whose
    source file at *path* holds *data* (source hash *digest*, key *key*).

    What ran is taken, in this order, from: the record modwrite's
    ``SourceFileLoader`` left on the module's loader; a source unchanged
    since before the process started (*data*); a hash-based pyc naming
    *data*'s hash, or a timestamp pyc stamped with this file's mtime and
    size and written :data:`~modwrite.machinery.SETTLED_S` seconds after it:
    *data*, unless the code in the pyc differs from the module's own
    functions and methods (then "other bytes").  Else *data* is compiled
    and its code compared with the module's own functions and methods (the
    code that ran), or, for a module without any, with the pyc's code:
    equal is *data*, different is "other bytes" (a digest nothing matches).
    A module an import hook loaded (its loader is not a plain
    ``SourceFileLoader``: its code and cache are the hook's) is taken to
    have run *data*.
    """
    spec = module.__spec__
    loader = getattr(spec, "loader", None)
    ran = getattr(loader, "executed_source", None)
    if ran is not None and ran[0] == path:
        return Executed(path, ran[1], ran[2], spec, now_ns)
    started_ns = _process_start_ns()
    if started_ns is not None and key[3] < started_ns - _SETTLE_NS:
        # Unchanged since before this process (and its parent) started, so
        # before its import: these bytes ran, whatever cache lies beside them.
        return Executed(path, digest, key, spec, now_ns)
    if type(loader) in _PLAIN_SOURCE_LOADERS and _other_bytes_ran(module, path, data, key):
        return Executed(path, _UNKNOWN_DIFFERENT, None, spec, now_ns)
    return Executed(path, digest, key, spec, now_ns)


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


#: A digest no source has (SipHash is 8 bytes): "what ran is unknown, and
#: is not the file's current content".
_UNKNOWN_DIFFERENT = b"unknown!\x00"


def _other_bytes_ran(module: ModuleType, path: str, data: bytes, key: StatKey) -> bool:
    """Do the bytecode cache or the module's own code objects say that other
    bytes than *data* ran?  ``False`` when they say *data* ran, or nothing
    tells."""
    cached = _read_pyc(module, path)
    if cached is not None:
        pyc, pyc_mtime_s = cached
        flags = int.from_bytes(pyc[4:8], "little")
        if flags & 0b1:  # hash-based (PEP 552): it names its source
            if pyc[8:16] == source_hash(data):
                return _cached_code_differs(module, path, pyc)
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
            return _cached_code_differs(module, path, pyc)
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


def _cached_code_differs(module: ModuleType, path: str, pyc: bytes) -> bool:
    """The cache *pyc* holds the code of the bytes on disk: they ran, or
    they replaced the bytes that ran, file and cache together (another
    process's write), after the import.  The module's own functions and
    methods tell which; a module without any is taken to have run them.
    Unmarshalling the cache costs a small part of compiling the source."""
    try:
        code = marshal.loads(pyc[16:])
    except Exception:  # a corrupt cache did not run
        return False
    if not isinstance(code, CodeType):
        return False
    return bool(_live_code_differs(module, path, code))


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
