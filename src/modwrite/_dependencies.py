"""Who imports whom, for the order of a reload (G9).

Two sources, for two questions:

* :func:`imports_of` reads a module's *new* code: the ``IMPORT_NAME``
  instructions its module body (and the class bodies in it) runs at import
  time, so that a changed ``a`` that does ``from b import X`` is run after a
  changed ``b``.  Imports inside functions run later and do not order a
  reload.
* :func:`binds_from` reads a *loaded* module's namespace: the module objects,
  and the functions, classes and other objects of another module it holds
  (what ``import b`` and ``from b import f`` leave behind).  That is what a
  dependent keeps of an old version, and why ``reload_changed(dependents=True)``
  reloads it.  An immutable value (``from b import LIMIT`` where ``LIMIT`` is
  an ``int`` or ``str``) cannot be told from an equal one defined elsewhere,
  so it does not make a dependent.

:func:`dependency_order` sorts by either: dependencies first, otherwise in
the given order; an import cycle is broken where it is met.
"""

from __future__ import annotations

import dis
import importlib.util
from types import CodeType, ModuleType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
    from typing import TypeVar

    T = TypeVar("T", bound=Hashable)

__all__ = ["binds_from", "dependency_order", "identity_index", "imports_of"]

_CO_OPTIMIZED = 0x0001  # set on function bodies, not on module or class bodies
_LOADS_A_CONSTANT = frozenset({"LOAD_CONST", "LOAD_SMALL_INT"})
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, range)


def imports_of(code: CodeType, package: str | None) -> set[str]:
    """The absolute names of the modules *code* imports when it runs as a
    module body: each ``import a.b`` gives ``a`` and ``a.b``, each
    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a submodule),
    relative imports resolved against *package* (the module's
    ``__package__``)."""
    names: set[str] = set()
    _collect_imports(code, package, names)
    return names


def _collect_imports(code: CodeType, package: str | None, names: set[str]) -> None:
    constants: list[object] = []
    for instruction in dis.get_instructions(code):
        if instruction.opname in _LOADS_A_CONSTANT:
            constants.append(instruction.argval)
            continue
        if instruction.opname == "IMPORT_NAME" and len(constants) >= 2:
            level, fromlist = constants[-2], constants[-1]
            name = instruction.argval
            if not isinstance(name, str):
                constants.clear()
                continue
            if isinstance(level, int) and level > 0:
                try:
                    name = importlib.util.resolve_name("." * level + name, package)
                except (ImportError, ValueError):
                    name = ""
            if name:
                parts = name.split(".")
                names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
                if isinstance(fromlist, tuple):
                    names.update(f"{name}.{item}" for item in fromlist if item != "*")
        constants.clear()
    for constant in code.co_consts:
        if isinstance(constant, CodeType) and not constant.co_flags & _CO_OPTIMIZED:
            _collect_imports(constant, package, names)  # a class body: runs at import


def identity_index(namespaces: Mapping[str, dict[str, object]]) -> dict[int, str]:
    """``id(value) -> module name`` for the mutable values of each module's
    namespace (*namespaces*: module name to a copy of its ``__dict__``)."""
    index: dict[int, str] = {}
    for name, namespace in namespaces.items():
        for key, value in namespace.items():
            if not key.startswith("__") and not isinstance(value, _IMMUTABLE):
                index[id(value)] = name
    return index


def binds_from(module: ModuleType, names: set[str], old_values: dict[int, str]) -> set[str]:
    """The names, among *names*, of the modules whose objects *module*'s
    namespace holds: the module itself, a function or class whose
    ``__module__`` it is, or an object that was in its namespace
    (*old_values*, from :func:`identity_index`)."""
    found: set[str] = set()
    own = module.__name__
    for key, value in list(vars(module).items()):
        if key.startswith("__"):
            continue
        owner: str | None
        if isinstance(value, ModuleType):
            owner = value.__name__
        elif isinstance(value, _IMMUTABLE):
            continue
        else:
            owner = old_values.get(id(value)) or _defining_module(value)
        if owner is not None and owner != own and owner in names:
            found.add(owner)
    return found


def _defining_module(value: object) -> str | None:
    if isinstance(value, type) or callable(value):
        try:
            owner = getattr(value, "__module__", None)
        except Exception:  # a proxy that raises on attribute access
            return None
        return owner if isinstance(owner, str) else None
    return None


def dependency_order(items: Iterable[T], depends_on: Callable[[T], Iterable[T]]) -> list[T]:
    """*items*, each after the items it depends on (``depends_on(item)``,
    restricted to *items*), otherwise in the given order; a cycle is broken
    at the item met first."""
    given = list(items)
    members = set(given)
    started: set[T] = set()
    order: list[T] = []
    for first in given:
        if first in started:
            continue
        started.add(first)
        # An iterative depth-first walk: a chain of thousands of modules
        # must not meet the recursion limit.
        stack: list[tuple[T, Iterator[T]]] = [(first, iter(list(depends_on(first))))]
        while stack:
            item, dependencies = stack[-1]
            for dependency in dependencies:
                if dependency in members and dependency not in started:
                    started.add(dependency)
                    stack.append((dependency, iter(list(depends_on(dependency)))))
                    break
            else:
                stack.pop()
                order.append(item)
    return order
