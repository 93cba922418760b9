"""Re-import (G9): :func:`reload`, :func:`reload_changed`, and
:func:`write_and_import`; each runs a code object compiled from bytes it
holds (compile once, :mod:`modwrite._compile_once`), through the import
system.

The import itself is the import system's (:func:`importlib.import_module`
or :func:`importlib.reload`: module locks, :data:`sys.modules`, the spec and
the attributes it sets); modwrite only decides what code runs.  A reload
reads the source file, compiles those bytes, and hands that code object to
the loader: the timestamps of the file and of its bytecode cache play no
part, so a same-second, same-size edit is never run from a stale ``.pyc``.
The directory's finder is invalidated first (the file may have been replaced
by a rename, or its package grown; on a network filesystem the listing that
follows also revalidates the client's view of the directory, so the file
found may be newer than the bytes read: then those newer bytes are compiled
and run, and recorded as what ran), and after the run the bytecode cache is
rewritten as a checked hash-based pyc of that code (PEP 552), so that no
later import, in this process or another, runs the stale one.

A reload that raises leaves the module's namespace as it was before (CPython
would leave it half-executed): the old version stays usable.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import threading
import warnings
from types import CodeType, ModuleType

from . import _changes
from ._bytecode import write_pyc
from ._changes import Change, find_changes, read_source, record_executed
from ._compile_once import running
from ._dependencies import binds_from, dependency_order, identity_index, imports_of
from ._invalidate import invalidate_file
from ._plan import PathArg, Visibility, WriteOptions
from ._settle import DEFAULT_VISIBILITY_TIMEOUT_S
from ._source import Source
from ._write import ModuleLanded, land_module
from .errors import ArgumentTypeError, ReloadError, ReloadFailedWarning

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["changed_modules", "reload", "reload_changed", "write_and_import"]

changed_modules = _changes.changed_modules


def write_and_import(
    name: str,
    source: Source,
    *,
    root: PathArg,
    visibility: Visibility = "system",
    durable: bool = False,
    parents: bool = False,
    create_root: bool = False,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT_S,
    bytecode: bool = True,
) -> ModuleType:
    """:func:`write_module`, then return the module, imported fresh.

    A name already in :data:`sys.modules` is :func:`importlib.reload`-ed (the
    module object keeps its identity, as ``reload`` does), any other name is
    imported with :func:`importlib.import_module`.  *root* must be on
    :data:`sys.path` (or inside a package on it) for the import to find it.

    The source is compiled once: the code object that validated it runs,
    when the import system finds the file just written with a plain source
    loader; otherwise (an import hook such as pytest's assertion rewriter, a
    module of that name found earlier on the path) the import compiles as it
    always does.  modwrite's meta path finder that arranges this is put
    first on :data:`sys.meta_path` at the first call and stays there (see
    *Compile once* in the documentation).

    :param name: the dotted module name (``str``); *source*, *root*,
        *visibility*, *durable*, *parents*, *create_root*,
        *visibility_timeout* (seconds) and *bytecode*: as for
        :func:`write_module`.
    :returns: the module object, as it is in :data:`sys.modules` afterwards
        (for a reload, the same object as before).
    :raises ImportError: the import failed (as :func:`importlib.import_module`
        raises it); plus everything :func:`write_module` raises.
    """
    options = WriteOptions.checked(
        visibility=visibility,
        durable=durable,
        parents=parents,
        create_root=create_root,
        visibility_timeout=visibility_timeout,
        bytecode=bytecode,
    )
    landed = land_module(name, source, root, options)
    with running(name, landed) as run:
        loaded = sys.modules.get(name)
        module = importlib.reload(loaded) if loaded is not None else importlib.import_module(name)
    if run.ran_code:
        record_executed(module, landed.path, landed.data, None)
    return module


def reload(module: ModuleType, *, submodules: bool = False) -> ModuleType:
    """Reload *module* in place from the source on disk now, whatever the
    timestamps say; return it.

    As :func:`importlib.reload`, the module object stays the same and the
    import system finds its spec anew (so a module moved on the path is
    found where it is now).  Unlike it, the code that runs is compiled from
    the bytes read from the file at this call, never taken from a bytecode
    cache stamped with an older version's mtime; the file's directory is
    invalidated first (``modwrite.invalidate_caches(path)``), and the
    module's bytecode cache is rewritten afterwards.  If the run raises, the
    module's namespace is put back as it was, and the exception propagates.

    :param module: a module in :data:`sys.modules` under its ``__name__``,
        executed from a source file (or a sourceless ``.pyc``, reloaded as
        :func:`importlib.reload` does).
    :param submodules: for a package, also reload its submodules that are
        loaded, after it or before it as their imports require
        (the imports its code makes when it runs); every source is compiled before any
        runs.  Submodules that cannot be reloaded from a file (namespace
        packages, extension modules) are left alone.
    :returns: *module*.
    :raises ArgumentTypeError: *module* is not a module object.
    :raises ReloadError: *module* cannot be reloaded from a file (not in
        :data:`sys.modules`, no spec, built-in, frozen, namespace package,
        extension module, source file gone); nothing ran.
    :raises SyntaxError: the source does not compile; nothing ran.
    :raises Exception: whatever the module's code raised (its namespace is
        restored).
    """
    if not isinstance(module, ModuleType):
        raise ArgumentTypeError(f"reload() takes a module, not {type(module).__name__}")
    with _lock:
        planned = [_planned_reload(module, path=_reload_path(module))]
        if submodules and hasattr(module, "__path__"):
            prefix = module.__name__ + "."
            for name, submodule in sorted(sys.modules.items()):
                if name.startswith(prefix) and isinstance(submodule, ModuleType):
                    try:
                        path = _reload_path(submodule)
                    except ReloadError:
                        continue
                    planned.append(_planned_reload(submodule, path=path))
        for step in _import_order(planned):
            step.run()
    return module


def reload_changed(
    *, dependents: bool = False, modules: Iterable[ModuleType] | None = None
) -> list[ModuleType]:
    """Reload the modules :func:`changed_modules` reports; return them in
    the order they were reloaded.

    A changed module is reloaded after the changed modules it imports when
    it runs (so that ``from b import X`` in a changed ``a`` sees the new
    ``b``), otherwise in :data:`sys.modules` order.  Each reload is
    :func:`reload`'s: compiled from the bytes just read, run in place.

    A module whose new source fails to compile or to run keeps its old
    version (its namespace is restored) and is reported by one
    :class:`~modwrite.ReloadFailedWarning`; the others are still reloaded.
    The same failing bytes are not tried again; other bytes (the fix, also
    within the same timestamp tick) are reloaded by the next call.

    :param dependents: then also reload, afterwards, the loaded modules that
        hold objects of a reloaded module (what ``import b`` or
        ``from b import f`` bound in them), and theirs in turn, each after
        the ones it holds objects of.  An immutable value imported by name
        (an ``int``, a ``str``) does not make a dependent.
    :param modules: consider only these modules (as for
        :func:`changed_modules`); dependents are looked for among all
        loaded modules.
    :returns: the reloaded module objects (``[]``: nothing changed).
    :raises ArgumentTypeError: *modules* holds something that is not a module.

    Exceptions that are not :class:`Exception` (:class:`KeyboardInterrupt`,
    :class:`SystemExit`) raised by a module's code restore its namespace and
    propagate.
    """
    with _lock:
        changes = [
            change for change in find_changes(modules) if not _changes.failed_before(change)
        ]
        planned = [step for step in map(_compiled_change, changes) if step is not None]
        old = {step.name: dict(vars(step.module)) for step in planned} if dependents else {}
        reloaded = _run_reporting(_import_order(planned))
        if dependents and reloaded:
            reloaded += _reload_dependents(reloaded, old)
        return reloaded


# -- one reload ----------------------------------------------------------------

# One reload at a time: a watcher thread and the main thread may both call.
_lock = threading.RLock()

_EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES)
_BYTECODE_SUFFIXES = tuple(importlib.machinery.BYTECODE_SUFFIXES)


class _PlannedReload:
    """The reload of *module* (named *name*) from the file at *path*, whose
    bytes *data* (identity *identity*, key *key*) compiled to *code*
    (``None``: a sourceless module, reloaded by its own loader)."""

    __slots__ = ("code", "data", "digest", "identity", "key", "module", "name", "path")

    def __init__(
        self,
        module: ModuleType,
        path: str,
        data: bytes,
        identity: tuple[int, int, int, int],
        key: _changes.StatKey,
        code: CodeType | None,
        digest: bytes | None = None,
    ) -> None:
        self.module = module
        self.name: str = module.__spec__.name if module.__spec__ else module.__name__
        self.path = path
        self.data = data
        self.identity = identity
        self.key = key
        self.code = code
        self.digest = digest

    def run(self) -> None:
        """Reload the module from the code; on any exception, restore its
        namespace and :data:`sys.modules` entry, and re-raise."""
        module, name = self.module, self.name
        # The finder lists the directory again at the import: on a network
        # filesystem that also revalidates the client's cached names, so the
        # file found may be newer than the bytes read for this plan.
        invalidate_file(self.path)
        namespace = dict(vars(module))
        try:
            if self.code is None:
                importlib.reload(module)
                return
            landed = ModuleLanded(self.path, self.data, self.code, self.identity)
            with running(name, landed, from_source=True) as run:
                importlib.reload(module)
        except BaseException:
            vars(module).clear()
            vars(module).update(namespace)
            sys.modules[name] = module
            raise
        if not run.ran_code:
            # The file found was not the one read (replaced meanwhile, or
            # seen anew once the finder listed its directory): record what ran.
            if run.compiled_data is not None:
                record_executed(module, self.path, run.compiled_data, None)
            else:
                _changes.forget(module)
            return
        record_executed(module, self.path, self.data, self.key, self.digest)
        if not sys.dont_write_bytecode:
            try:
                mode: int | None = os.stat(self.path).st_mode
            except OSError:
                mode = None
            write_pyc(self.path, self.data, self.code, mode)


def _reload_path(module: ModuleType) -> str:
    """The file *module* is reloaded from.

    :raises ReloadError: it cannot be reloaded from a file."""
    name = getattr(module, "__name__", None)
    spec = getattr(module, "__spec__", None)
    if spec is None:
        raise ReloadError(f"module {name!r} has no spec (a script's __main__?)", name=name)
    name = spec.name
    if sys.modules.get(name) is not module:
        raise ReloadError(f"module {name!r} is not in sys.modules", name=name)
    origin: str | None = spec.origin
    if origin in ("built-in", "frozen") or spec.loader in (
        importlib.machinery.BuiltinImporter,
        importlib.machinery.FrozenImporter,
    ):
        raise ReloadError(
            f"module {name!r} is {origin or 'built-in'}, not loaded from a file", name=name
        )
    if origin is None or not spec.has_location:
        what = (
            "a namespace package"
            if spec.submodule_search_locations is not None
            else "not loaded from a file"
        )
        raise ReloadError(f"module {name!r} is {what}", name=name)
    if origin.endswith(_EXTENSION_SUFFIXES):
        raise ReloadError(
            f"module {name!r} is an extension module, which cannot run again",
            name=name,
            path=origin,
        )
    if not os.path.isfile(origin):
        raise ReloadError(f"the file of module {name!r} is gone: {origin}", name=name, path=origin)
    return origin


def _planned_reload(module: ModuleType, path: str) -> _PlannedReload:
    if path.endswith(_BYTECODE_SUFFIXES):
        return _PlannedReload(module, path, b"", (0, 0, 0, 0), (0, 0, 0, 0), None)
    try:
        data, identity, key = read_source(path)
    except FileNotFoundError:
        raise ReloadError(
            f"the file of module {module.__name__!r} is gone: {path}",
            name=module.__name__,
            path=path,
        ) from None
    code = compile(data, path, "exec", dont_inherit=True)
    return _PlannedReload(module, path, data, identity, key, code)


def _compiled_change(change: Change) -> _PlannedReload | None:
    """The reload of a changed module, or ``None`` (reported) when its new
    source does not compile."""
    try:
        code = compile(change.data, change.path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: NUL bytes before 3.12
        _report(change.module, change.digest, exc)
        return None
    return _PlannedReload(
        change.module, change.path, change.data, change.identity, change.key, code, change.digest
    )


def _report(module: ModuleType, digest: bytes, exc: BaseException) -> None:
    if _changes.record_failure(module, digest):
        warnings.warn(ReloadFailedWarning(module.__name__, exc), stacklevel=4)


def _run_reporting(steps: list[_PlannedReload]) -> list[ModuleType]:
    reloaded = []
    for step in steps:
        try:
            step.run()
        except Exception as exc:
            _report(step.module, step.digest or _changes.digest_of(step.data), exc)
        else:
            reloaded.append(step.module)
    return reloaded


def _import_order(steps: list[_PlannedReload]) -> list[_PlannedReload]:
    """*steps*, each after the steps of the modules its code imports."""
    by_name = {step.name: step for step in steps}
    if len(by_name) < 2:
        return steps

    def imported(step: _PlannedReload) -> list[_PlannedReload]:
        if step.code is None:
            return []
        package = getattr(step.module, "__package__", None)
        return [by_name[n] for n in sorted(imports_of(step.code, package)) if n in by_name]

    return dependency_order(steps, imported)


# -- dependents ------------------------------------------------------------------


def _reload_dependents(
    reloaded: list[ModuleType], old: dict[str, dict[str, object]]
) -> list[ModuleType]:
    """Reload the loaded modules that hold objects of the *reloaded* ones
    (whose namespaces before the reload are *old*), transitively."""
    names = {module.__name__ for module in reloaded}
    index = identity_index(old)
    holds: dict[str, set[str]] = {}
    found: dict[str, ModuleType] = {}
    candidates = []
    for module in list(sys.modules.values()):
        if not isinstance(module, ModuleType) or module.__name__ in names:
            continue
        if _changes.source_path(module) is not None:
            candidates.append(module)
    grew = True
    while grew:  # until no candidate holds objects of what is to be reloaded
        grew = False
        for module in candidates:
            name = module.__name__
            if name in found:
                continue
            held = binds_from(module, names | found.keys(), index)
            if held:
                holds[name] = held
                found[name] = module
                index.update(identity_index({name: dict(vars(module))}))
                grew = True
    steps = []
    for module in found.values():
        try:
            steps.append(_planned_reload(module, _reload_path(module)))
        except (ReloadError, SyntaxError, ValueError) as exc:
            _report(module, b"", exc)
    by_name = {step.name: step for step in steps}
    ordered = dependency_order(
        steps, lambda step: [by_name[n] for n in holds.get(step.name, ()) if n in by_name]
    )
    return _run_reporting(ordered)
