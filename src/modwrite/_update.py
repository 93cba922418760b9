"""In-place update after a reload: the old functions and classes take the new
code, and the reloaded modules hold the old objects again, so what was bound
elsewhere (``from m import f``, instances of old classes, subclasses in other
modules, bound methods) runs the new code and keeps its identity.

Only the reloaded modules' namespaces are visited: each module's namespace
before the reload (a ``dict(vars(module))`` snapshot) is compared with the
namespace after it, name by name, and classes member by member.  There is no
heap scan: IPython's autoreload moves instances to the new class with
:func:`gc.get_referrers` on every old class, a walk over the heap each
(slow with much data loaded: IPython #12269); keeping the old class and
updating it needs no instance.

A pair (old, new) found under one name is updated when both are plain
functions, or both are classes, with the same ``__qualname__`` and defined by
the reloaded module (their ``__module__``).  What cannot be updated safely is
left as a plain reload leaves it (the module holds the new object, what was
bound elsewhere keeps the old one) and reported with the reason:

- a function whose free variables changed (a closure's cells cannot be
  re-shaped, and ``__code__`` takes only a code object with the same free
  variables); a closure with the same free variables takes the new code and
  the new cells' contents;
- a class whose metaclass is not :class:`type` or :class:`abc.ABCMeta`
  (enums, and other metaclasses keep state of their own), a dataclass, an
  attrs class, a named tuple (generated methods tied to their fields), a
  class whose bases, ``__slots__`` or instance layout changed.

An updated class keeps its old ``__dict__`` entries where they were updated
in place (functions; ``classmethod``, ``staticmethod`` and ``property``
objects, whose functions are updated in place), takes the new class's other
entries, and loses the functions, class/static methods and properties its
class body no longer defines (other attributes that are gone, possibly set
at run time, stay).  Its slot and ``__dict__``/``__weakref__`` descriptors
and ABC caches stay its own.  The new class's ``__class__`` cell (zero-
argument ``super()``) is pointed at the old class, and the module's values
that are instances of the new class (a module-level singleton) are given the
old class.  Instances of the new class held anywhere else (a list built at
module level) are not looked for.
"""

from __future__ import annotations

import abc
import enum
import sys
from types import FunctionType, GetSetDescriptorType, MemberDescriptorType, ModuleType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["UpdateReport", "update_in_place"]

_MISSING = object()

# Class dict entries that belong to the old class itself, besides its layout
# descriptors (_is_layout_descriptor): its slots declaration, and ABCMeta's
# registry and caches.
_OWN_ENTRIES = frozenset({"__slots__", "_abc_impl"})

_UPDATABLE_METACLASSES = (type, abc.ABCMeta)


class UpdateReport:
    """What :func:`update_in_place` did: *updated*, the dotted names
    (``module.qualname``) of the old functions and classes that took the new
    code; *skipped*, ``(name, reason)`` for those left as the reload left
    them."""

    __slots__ = ("skipped", "updated")

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.skipped: list[tuple[str, str]] = []


def update_in_place(snapshots: Mapping[ModuleType, Mapping[str, object]]) -> UpdateReport:
    """Update the old functions and classes of reloaded modules in place.

    :param snapshots: for each reloaded module, its namespace before the
        reload (``dict(vars(module))``, taken before the reload ran).  A
        module whose reload failed (its namespace restored) or did not run
        may be passed too: nothing of it changed, nothing is done.
    :returns: what was updated and what was skipped, and why.

    Never calls :func:`gc.get_referrers` nor walks the heap.
    """
    return _Updater(snapshots).run()


class _ClassPair:
    __slots__ = ("label", "new", "old", "outer", "reason")

    def __init__(self, old: type, new: type, label: str, outer: _ClassPair | None) -> None:
        self.old = old
        self.new = new
        self.label = label
        self.outer = outer
        self.reason: str | None = None


class _Updater:
    def __init__(self, snapshots: Mapping[ModuleType, Mapping[str, object]]) -> None:
        self.snapshots = snapshots
        self.report = UpdateReport()
        self.classes: dict[int, _ClassPair] = {}  # id(new class) -> pair
        self.class_map: dict[int, type] = {}  # id(new class) -> old class, once decided
        self.function_map: dict[int, FunctionType] = {}  # id(new function) -> old function

    def run(self) -> UpdateReport:
        functions: list[tuple[FunctionType, FunctionType, str]] = []
        for module, old_namespace in self.snapshots.items():
            name = module.__name__
            for key, new in list(vars(module).items()):
                old = old_namespace.get(key, _MISSING)
                if old is new or old is _MISSING:
                    continue
                if _is_function_pair(old, new, name):
                    assert isinstance(old, FunctionType) and isinstance(new, FunctionType)
                    functions.append((old, new, f"{name}.{new.__qualname__}"))
                elif isinstance(old, type) and isinstance(new, type):
                    self._collect_classes(old, new, name, None)
        self._decide_classes()
        for pair in self.classes.values():
            if pair.reason is None:
                _point_class_cell(pair.new, pair.old)
        for old, new, label in functions:
            self._update_function_reporting(old, new, label, top=True)
        for pair in self.classes.values():
            if pair.reason is None:
                self._update_class(pair)
                self.report.updated.append(pair.label)
            elif pair.outer is None or pair.outer.reason is None:
                self.report.skipped.append((pair.label, pair.reason))
        self._rebind()
        return self.report

    # -- classes ---------------------------------------------------------------

    def _collect_classes(
        self, old: type, new: type, module_name: str, outer: _ClassPair | None
    ) -> None:
        if id(new) in self.classes:
            return  # the same class under two names
        if not (
            old.__module__ == new.__module__ == module_name
            and old.__qualname__ == new.__qualname__
        ):
            return
        pair = _ClassPair(old, new, f"{module_name}.{new.__qualname__}", outer)
        self.classes[id(new)] = pair
        for key, new_member in list(vars(new).items()):
            old_member = vars(old).get(key)
            if isinstance(old_member, type) and isinstance(new_member, type):
                self._collect_classes(old_member, new_member, module_name, pair)

    def _decide_classes(self) -> None:
        """Each pair's reason to be left alone (``None``: update it): its own,
        or its outer class's, or a base class that is not updated."""
        for pair in self.classes.values():
            pair.reason = _class_unfit(pair.old, pair.new)
        changed = True
        while changed:  # until no pair loses its outer class or a base
            changed = False
            for pair in self.classes.values():
                if pair.reason is not None:
                    continue
                if pair.outer is not None and pair.outer.reason is not None:
                    pair.reason = "its enclosing class is left alone"
                elif self._mapped_bases(pair.new) != pair.old.__bases__:
                    pair.reason = "its base classes changed"
                else:
                    continue
                changed = True
        for key, pair in self.classes.items():
            if pair.reason is None:
                self.class_map[key] = pair.old

    def _mapped_bases(self, new: type) -> tuple[type, ...]:
        bases = []
        for base in new.__bases__:
            pair = self.classes.get(id(base))
            bases.append(pair.old if pair is not None and pair.reason is None else base)
        return tuple(bases)

    def _update_class(self, pair: _ClassPair) -> None:
        old, new = pair.old, pair.new
        old_dict, new_dict = vars(old), vars(new)
        for key, new_value in list(new_dict.items()):
            if key in _OWN_ENTRIES or _is_layout_descriptor(new_value, new):
                continue
            old_value = old_dict.get(key, _MISSING)
            if old_value is new_value or self._update_member(old_value, new_value, pair, key):
                continue
            try:
                setattr(old, key, self._mapped(new_value))
            except (AttributeError, TypeError) as exc:
                self.report.skipped.append((f"{pair.label}.{key}", f"not settable: {exc}"))
        for key in [k for k in old_dict if k not in new_dict]:
            if key not in _OWN_ENTRIES and _defined_by_class_body(old, key, old_dict[key]):
                try:
                    delattr(old, key)
                except (AttributeError, TypeError):
                    pass

    def _update_member(self, old: object, new: object, pair: _ClassPair, key: str) -> bool:
        """Update the old class member *old* in place from *new*; ``False``
        when the new member must be set instead."""
        label = f"{pair.label}.{key}"
        module_name = pair.new.__module__
        if isinstance(old, type) and isinstance(new, type):
            return self.class_map.get(id(new)) is old
        if isinstance(old, FunctionType) and isinstance(new, FunctionType):
            return _is_function_pair(old, new, module_name) and self._update_function_reporting(
                old, new, label
            )
        if isinstance(old, (classmethod, staticmethod)) and type(old) is type(new):
            assert isinstance(new, (classmethod, staticmethod))
            old_function, new_function = old.__func__, new.__func__
            return (
                isinstance(old_function, FunctionType)
                and isinstance(new_function, FunctionType)
                and _is_function_pair(old_function, new_function, module_name)
                and self._update_function_reporting(old_function, new_function, label)
            )
        if type(old) is property and type(new) is property:
            assert isinstance(old, property) and isinstance(new, property)
            return self._update_property(old, new, module_name, label)
        return False

    def _update_property(self, old: property, new: property, module_name: str, label: str) -> bool:
        """Update the accessors of the old property in place: all of them or
        none (a setter added or removed, a closure that changed shape)."""
        pairs: list[tuple[FunctionType, FunctionType]] = []
        for o, n in ((old.fget, new.fget), (old.fset, new.fset), (old.fdel, new.fdel)):
            if o is None and n is None:
                continue
            if not (
                isinstance(o, FunctionType)
                and isinstance(n, FunctionType)
                and _is_function_pair(o, n, module_name)
            ):
                return False
            pairs.append((o, n))
        for o, n in pairs:
            reason = _cells_unfit(o, n)
            if reason is not None:
                self.report.skipped.append((label, reason))
                return False
        for o, n in pairs:
            self._update_function(o, n)
        try:
            old.__doc__ = new.__doc__
        except AttributeError:
            pass
        return True

    # -- functions -------------------------------------------------------------

    def _update_function_reporting(
        self, old: FunctionType, new: FunctionType, label: str, *, top: bool = False
    ) -> bool:
        """Update *old* from *new* (once: a function found under two names);
        ``False`` (reported under *label*) when it cannot be."""
        done = self.function_map.get(id(new))
        if done is not None:
            return done is old
        reason = _cells_unfit(old, new)
        if reason is not None:
            self.report.skipped.append((label, reason))
            return False
        self._update_function(old, new)
        if top:
            self.report.updated.append(label)
        return True

    def _update_function(self, old: FunctionType, new: FunctionType) -> None:
        """Give *old* the code, the cells' contents, the defaults and the
        attributes of *new* (their free variables are the same)."""
        old.__code__ = new.__code__
        for old_cell, new_cell in zip(old.__closure__ or (), new.__closure__ or ()):
            try:
                value = new_cell.cell_contents
            except ValueError:  # an empty cell
                try:
                    del old_cell.cell_contents
                except ValueError:
                    pass
            else:
                old_cell.cell_contents = self._mapped(value)
        old.__defaults__ = new.__defaults__
        old.__kwdefaults__ = new.__kwdefaults__
        old.__doc__ = new.__doc__
        old.__dict__ = dict(new.__dict__)
        if sys.version_info >= (3, 14):  # lazy annotations: reading them would evaluate them
            old.__annotate__ = new.__annotate__
        else:
            old.__annotations__ = new.__annotations__
        if sys.version_info >= (3, 12):
            old.__type_params__ = new.__type_params__
        self.function_map[id(new)] = old

    # -- after the updates -------------------------------------------------------

    def _mapped(self, value: object) -> object:
        """The old object that now stands for the new *value*, or *value*."""
        key = id(value)
        if key in self.class_map:
            return self.class_map[key]
        return self.function_map.get(key, value)

    def _rebind(self) -> None:
        """Put the old objects back where the reloads put new ones (the
        modules' namespaces), and give the old class to the instances of a
        new class found there and in the updated classes."""
        for module in self.snapshots:
            namespace = vars(module)
            for key, value in list(namespace.items()):
                mapped = self._mapped(value)
                if mapped is not value:
                    namespace[key] = mapped
                else:
                    self._reclass(value)
        for old in self.class_map.values():
            for value in list(vars(old).values()):
                self._reclass(value)

    def _reclass(self, value: object) -> None:
        old_class = self.class_map.get(id(type(value)))
        if old_class is not None:
            try:
                value.__class__ = old_class
            except TypeError:  # a layout __class__ assignment refuses
                pass


def _is_function_pair(old: object, new: object, module_name: str) -> bool:
    return (
        type(old) is FunctionType
        and type(new) is FunctionType
        and old.__module__ == new.__module__ == module_name
        and old.__qualname__ == new.__qualname__
        and old.__globals__ is new.__globals__
    )


def _cells_unfit(old: FunctionType, new: FunctionType) -> str | None:
    if old.__code__.co_freevars != new.__code__.co_freevars:
        return "a closure whose free variables changed"
    return None


def _class_unfit(old: type, new: type) -> str | None:
    """Why the old class cannot take the new one's contents (``None``: it
    can, if its bases are updated too)."""
    metaclass = type(new)
    if type(old) is not metaclass or metaclass not in _UPDATABLE_METACLASSES:
        if issubclass(metaclass, enum.EnumMeta):
            return "an enum"
        return f"its metaclass is {metaclass.__qualname__}"
    for marker, kind in (
        ("__dataclass_fields__", "a dataclass"),
        ("__attrs_attrs__", "an attrs class"),
        ("_fields", "a named tuple"),
    ):
        if marker in vars(old) or marker in vars(new):
            return kind
    if vars(old).get("__slots__") != vars(new).get("__slots__") or _layout(old) != _layout(new):
        return "its __slots__ or instance layout changed"
    return None


def _is_layout_descriptor(value: object, cls: type) -> bool:
    """Is *value* a descriptor of *cls*'s instance layout (a slot, the
    instance ``__dict__``), which only instances of *cls* accept?"""
    return (
        isinstance(value, (MemberDescriptorType, GetSetDescriptorType))
        and value.__objclass__ is cls
    )


def _layout(cls: type) -> tuple[int, int, int, int]:
    return (
        cls.__basicsize__,
        cls.__itemsize__,
        cls.__dictoffset__,
        cls.__weakrefoffset__,
    )


def _functions_of(value: object) -> Iterator[FunctionType]:
    """The functions behind a class member."""
    if isinstance(value, FunctionType):
        yield value
    elif isinstance(value, (classmethod, staticmethod)):
        inner = value.__func__
        if isinstance(inner, FunctionType):
            yield inner
    elif isinstance(value, property):
        for accessor in (value.fget, value.fset, value.fdel):
            if isinstance(accessor, FunctionType):
                yield accessor


def _point_class_cell(new: type, old: type) -> None:
    """Point the new class's ``__class__`` cell (zero-argument ``super()``,
    shared by every method of its body) at the old class."""
    for value in vars(new).values():
        for function in _functions_of(value):
            names = function.__code__.co_freevars
            if "__class__" in names and function.__closure__ is not None:
                cell = function.__closure__[names.index("__class__")]
                try:
                    if cell.cell_contents is new:
                        cell.cell_contents = old
                        return
                except ValueError:
                    pass


def _defined_by_class_body(cls: type, key: str, value: object) -> bool:
    """Is the class member *value* a function (or a class/static method, a
    property) that the body of *cls* defined under *key*?"""
    functions = list(_functions_of(value))
    return bool(functions) and all(
        f.__qualname__ == f"{cls.__qualname__}.{key}" for f in functions
    )
