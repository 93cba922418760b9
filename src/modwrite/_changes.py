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
import used or wrote and from the module itself (:func:`first_sight`, with
the evidence in :mod:`modwrite._what_ran`).  A source unchanged since before
the process (and its parent) started is what ran (its ctime tells, read
against the start time in ``/proc``).  Else a pyc written before the process
started says it: a hash-based pyc (PEP 552) names the source hash; a
timestamp pyc whose stamp matches the source and that was written a settled
while after it was compiled from these bytes.  A pyc written since may have
been written after the import (another process's ``write_module()`` replaces
a file and its cache together), so the module is asked first: the current
source is compiled and its code compared with the code of the module's own
functions and methods (what ran), else, when the pyc is a hash-based one
naming the source (no import writes those), the immutable literals the
source binds once (``V = 2``) are compared with the module's values; only
when neither tells does that pyc decide.  A write by modwrite that is about to
replace a loaded module's file and cache looks first
(:func:`learn_what_ran`).

What cannot be known, and is taken from the file (or its cache) at the first
check: what ran for a module without functions whose source changed
between the import and that first check, when its import left no bytecode
cache to read (:data:`sys.dont_write_bytecode`, an unwritable
``__pycache__``), another process rewrote the cache too with other than a
hash-based pyc (or the module binds no literal constant), or an import hook
loaded it (its cache is its own).  :func:`modwrite.install` closes it (its
loader records the bytes it compiles), as does a call to
:func:`changed_modules` after start-up.  The
converse error is harmless: a bytecode cache left over from an older
version, with bytecode writing off, reports the module changed once, and the
reload runs the same source.

**Across hosts.**  On a network filesystem the ``stat`` of step 1 may be
answered from the client's attribute cache, seconds old: a change made on
another host is then seen once that cache expires.  A check that follows
``modwrite.invalidate_caches(path)`` does better for the modules under
*path*: it lists their directories first (a listing makes the client
revalidate a directory and the names in it) and reads their sources (an
``open`` revalidates a file: NFS close-to-open) whatever their ``stat``
says (:class:`_Revalidation`).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import threading
import time
import weakref
from importlib.util import source_hash
from types import ModuleType

from . import _invalidate, _machinery, _what_ran

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
    "forget",
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
_SETTLE_NS = _what_ran.SETTLE_NS

_SOURCE_SUFFIXES = tuple(importlib.machinery.SOURCE_SUFFIXES)

#: The loaders that run a module from its source or from the pyc at
#: ``cache_from_source()``, and write that pyc: their cache tells what ran.
#: An import hook's loader (pytest's assertion rewriter, Hy, ...) keeps its
#: own cache, or none.
_PLAIN_SOURCE_LOADERS = (importlib.machinery.SourceFileLoader, _machinery.SourceFileLoader)

#: A digest no source has (SipHash is 8 bytes): "what ran is unknown, and
#: is not the file's current content".
UNKNOWN_DIFFERENT = b"unknown!\x00"


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


def forget(module: ModuleType) -> None:
    """Drop the record of what ran for *module*: the next check learns it
    anew (:func:`first_sight`)."""
    with _lock:
        _records.pop(module, None)


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
    After ``modwrite.invalidate_caches(path)``, the modules under *path*
    are read whatever their ``stat`` says, after one listing of each of
    their directories: on a network filesystem a ``stat`` may come from the
    client's attribute cache, so a change made on another host is seen at
    once only so (see *Network filesystems* in the documentation).
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
        # Taken for good only by a check of every module: one of some
        # modules leaves the others' revalidation to the next check.
        everything, directories = _invalidate.take_revalidations(keep=modules is not None)
        revalidation = (
            _Revalidation(everything, directories) if everything or directories else None
        )
        for module in candidates:
            if not isinstance(module, ModuleType) or id(module) in seen:
                continue  # sys.modules may hold other objects (PEP 562 stand-ins, ...)
            seen.add(id(module))
            change = _check(module, now_ns, revalidation)
            if change is not None:
                changes.append(change)
    return changes


class _Revalidation:
    """The directories :func:`~modwrite.invalidate_caches` named (all of
    them if *everything*): a module under one of them is checked by reading
    its source, after one listing of its directory, whatever its ``stat``
    says (see the module docstring, *Across hosts*)."""

    __slots__ = ("_covered", "directories", "everything")

    def __init__(self, everything: bool, directories: frozenset[str]) -> None:
        self.everything = everything
        self.directories = directories | {os.path.realpath(d) for d in directories}
        #: Directory of a module source -> whether it is covered (and listed).
        self._covered: dict[str, bool] = {}

    def covers(self, path: str) -> bool:
        """Is the source *path* under a named directory?  The first time a
        covered directory is asked about, it is listed."""
        directory = os.path.dirname(os.path.normcase(os.path.abspath(path)))
        covered = self._covered.get(directory)
        if covered is None:
            covered = self.everything or any(
                self._under(spelling)
                for spelling in {directory, os.path.normcase(os.path.realpath(directory))}
            )
            if covered:
                try:
                    os.listdir(directory)  # revalidates the client's view of it
                except OSError:
                    pass
            self._covered[directory] = covered
        return covered

    def _under(self, directory: str) -> bool:
        while True:
            if directory in self.directories:
                return True
            parent = os.path.dirname(directory)
            if parent == directory:
                return False
            directory = parent


def _check(
    module: ModuleType, now_ns: int, revalidation: _Revalidation | None = None
) -> Change | None:
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
    # Covered: listed first, so that the stat and the read below see the
    # file as the server has it now, and read whatever the stat says.
    revalidate = revalidation is not None and revalidation.covers(path)
    try:
        st = os.stat(path)
    except OSError:
        return None  # gone: nothing to reload from
    key = stat_key(st)
    if record is not None and record.settled and record.key == key and not revalidate:
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
    since before the process started (*data*); then
    :func:`modwrite._what_ran.other_bytes_ran`: a pyc written before the
    process started, the module's own functions and methods, the literal
    constants it binds, a pyc written since.  Other bytes get a digest
    nothing matches.  A module an import hook loaded (its loader is not a
    plain ``SourceFileLoader``: its code and cache are the hook's) is taken
    to have run *data*.
    """
    spec = module.__spec__
    loader = getattr(spec, "loader", None)
    ran = getattr(loader, "executed_source", None)
    if ran is not None and ran[0] == path:
        return Executed(path, ran[1], ran[2], spec, now_ns)
    if _what_ran.unchanged_since_start(key[3]):
        # Unchanged since before this process (and its parent) started, so
        # before its import: these bytes ran, whatever cache lies beside them.
        return Executed(path, digest, key, spec, now_ns)
    plain = type(loader) in _PLAIN_SOURCE_LOADERS
    if plain and _what_ran.other_bytes_ran(module, path, data, key):
        return Executed(path, UNKNOWN_DIFFERENT, None, spec, now_ns)
    return Executed(path, digest, key, spec, now_ns)
