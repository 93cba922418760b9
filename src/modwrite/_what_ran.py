"""What a module the stock import system loaded ran, learnt after the fact
from the evidence it left (G9): the process's start time, the bytecode
cache beside the source, and the module's own objects.

:func:`modwrite._changes.first_sight` asks this module when it meets a
loaded module for which no loader recorded the bytes it ran.
"""

from __future__ import annotations

import ast
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
    """Do the bytecode cache or the module's own objects say that other bytes
    than *data* (the source file at *path* now, its :data:`StatKey` *key*)
    ran?  ``False`` when they say *data* ran, or nothing tells.

    A cache written before this process started was there at the import, so
    what it says of the import holds.  One written since may have been
    written *after* the import, by another process that replaced the file
    and its cache together (another process's ``write_module()``): the
    module's own objects are asked first -- its functions' code (compared
    with the cache's code when the cache names these bytes, else with the
    bytes compiled), else, when the cache is a hash-based pyc naming these
    bytes (which no stock import writes), the values of the immutable
    literals it binds once (``V = 2``) -- and the cache only when they
    cannot tell.
    """
    cached = _read_pyc(module, path)
    said = None if cached is None else _cache_says_other_bytes(cached[0], data, key, cached[1])
    if said is not None and cached is not None and not _maybe_written_after_import(cached[1]):
        return said
    now = _cached_code(cached[0]) if cached is not None and said is False else None
    if now is None:  # the cache does not hold the code of these bytes: compile them
        try:
            now = compile(data, path, "exec", dont_inherit=True)
        except Exception:  # it imported, so what ran compiled: not these bytes
            return True
    differs = _live_code_differs(module, path, now)
    if differs is None and cached is not None and said is False and _hash_based(cached[0]):
        # A hash-based pyc naming these bytes, written since the process
        # started: no stock import of this process wrote it (imports write
        # timestamp pycs), another writer did, perhaps after the import.
        # Only then are constants compared: a program may rebind them at
        # run time (IPython sets jedi.settings'), which must not read as a
        # change of a module this process imported and cached itself.
        differs = _live_constants_differ(module, data)
    if differs is not None:
        return differs
    if cached is None:
        return False  # nothing tells: the file's bytes are taken for what ran
    if said is not None:
        return said
    try:
        ran = marshal.loads(cached[0][16:])
    except Exception:  # a corrupt cache did not run
        return False
    return not (isinstance(ran, CodeType) and ran == now)


def _hash_based(pyc: bytes) -> bool:
    """Is *pyc* a hash-based pyc (PEP 552)?"""
    return bool(int.from_bytes(pyc[4:8], "little") & 0b1)


def _cached_code(pyc: bytes) -> CodeType | None:
    """The code object in the pyc *pyc*, or ``None`` if it holds none."""
    try:
        code = marshal.loads(pyc[16:])
    except Exception:  # a corrupt cache
        return None
    return code if isinstance(code, CodeType) else None


def _maybe_written_after_import(pyc_mtime_s: int) -> bool:
    """Could a pyc last written at *pyc_mtime_s* (whole seconds) have been
    written after the module's import?  Only one written before the process
    started cannot (or when the start cannot be read, none can be ruled out)."""
    started_ns = _process_start_ns()
    return started_ns is None or (pyc_mtime_s + 1) * NS_PER_S >= started_ns - SETTLE_NS


def _cache_says_other_bytes(
    pyc: bytes, data: bytes, key: StatKey, pyc_mtime_s: int
) -> bool | None:
    """What the pyc *pyc* (last written at *pyc_mtime_s*) says of the import
    that used or wrote it: ``False``, it ran *data* (or these bytes were
    compiled); ``True``, it ran other bytes; ``None``, it does not tell."""
    flags = int.from_bytes(pyc[4:8], "little")
    if flags & 0b1:  # hash-based (PEP 552): it names its source
        if pyc[8:16] == source_hash(data):
            return False  # it ran, or these bytes were compiled
        if not flags & 0b10:
            return True  # unchecked: the import ran it, whatever the source
        # Checked: it ran if the source still matched it at the import, else
        # the import compiled the source; the code tells which.
        return None
    if (
        int.from_bytes(pyc[8:12], "little") == (key[0] // NS_PER_S) & 0xFFFFFFFF
        and int.from_bytes(pyc[12:16], "little") == key[1] & 0xFFFFFFFF
        and pyc_mtime_s >= key[3] // NS_PER_S + SETTLED_S
    ):
        # A timestamp pyc stamped with this file's mtime and size, written a
        # settled while after the file last changed (its ctime, which no tool
        # can set back as utime() sets an mtime): from these bytes.
        return False
    return None


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


#: The types of the literals whose values a module keeps as it bound them
#: (nothing can mutate them in place).
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), type(...), tuple, frozenset)


def _live_constants_differ(module: ModuleType, data: bytes) -> bool | None:
    """Do the module's values differ from the immutable literals *data*
    binds at its top level (``V = 2``, ``NAMES = ('a', 'b')``)?  Only names
    the source binds once, in one assignment of a literal, are compared (a
    name rebound, deleted, imported or assigned in a function is not).
    ``None`` when there is none to compare.  A value the program rebound
    at run time (``module.V = 3``) looks like a change: at worst the module
    is reloaded once."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return None
    bindings: dict[str, int] = {}
    for node in ast.walk(tree):
        for name in _names_bound(node):
            bindings[name] = bindings.get(name, 0) + 1
    namespace = vars(module)
    compared = False
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value_node = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value_node = statement.target, statement.value
        else:
            continue
        if not isinstance(target, ast.Name) or bindings.get(target.id) != 1:
            continue
        try:
            value = ast.literal_eval(value_node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if not _immutable(value):
            continue
        if target.id not in namespace or not _same(namespace[target.id], value):
            return True
        compared = True
    return False if compared else None


def _names_bound(node: ast.AST) -> list[str]:
    """The names *node* binds or deletes, wherever it is."""
    if isinstance(node, ast.Name):
        return [node.id] if isinstance(node.ctx, (ast.Store, ast.Del)) else []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.alias):
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return list(node.names)
    name = getattr(node, "name", None)  # except ... as name; match patterns
    return [name] if isinstance(name, str) else []


def _immutable(value: object) -> bool:
    if isinstance(value, (tuple, frozenset)):
        return all(_immutable(item) for item in value)
    return type(value) in _IMMUTABLE


def _same(live: object, literal: object) -> bool:
    """Is *live* the value *literal* (a literal of :data:`_IMMUTABLE`)? Of
    the same type, equal, and NaN equal to NaN."""
    if type(live) is not type(literal):
        return False
    if isinstance(live, tuple) and isinstance(literal, tuple):
        return len(live) == len(literal) and all(map(_same, live, literal))
    if isinstance(literal, float) and literal != literal:
        return live != live
    return live == literal
