"""Updating the objects of a module's old version in place after a reload,
so that references held elsewhere (``from m import f`` in another module, an
instance of an old class) run the new code.

For each name whose old and new values are both functions, the old function
takes the new one's code, defaults, keyword defaults, annotations, docstring
and attributes, and goes back into the module under that name: it keeps its
identity.  For a class defined in the module, the old class takes the new
class's attributes (its methods updated as functions are, the rest
replaced), loses the ones the new class dropped, and goes back into the
module.  Nothing scans the heap (IPython's autoreload walks
``gc.get_referrers`` for every class, which takes minutes on large heaps:
IPython #11817, #14430): only the module's own namespace is visited.

Limits: a function whose new code has other free variables than the old
(a closure that captures something else) cannot take the new code and is
left as the new object, as is a class whose attributes refuse assignment
(``__slots__`` layouts, enums, some extension types); instances keep their
``__slots__`` and ``__init__``-made state; a class that changed its bases
keeps its old bases.
"""

from __future__ import annotations

from types import FunctionType, ModuleType

__all__ = ["update_in_place"]

_NOT_COPIED = frozenset({"__dict__", "__weakref__", "__module__", "__qualname__", "__slots__"})


def update_in_place(module: ModuleType, old_namespace: dict[str, object]) -> list[str]:
    """Update the old functions and classes of *module* (its namespace
    before the reload: *old_namespace*) from the new ones, and put them back
    in the module; return the names updated."""
    namespace = vars(module)
    updated = []
    for name, old in old_namespace.items():
        new = namespace.get(name)
        if new is None or new is old:
            continue
        if isinstance(old, FunctionType) and isinstance(new, FunctionType):
            if _update_function(old, new):
                namespace[name] = old
                updated.append(name)
        elif (
            isinstance(old, type)
            and isinstance(new, type)
            and old.__module__ == new.__module__ == module.__name__
            and old.__bases__ == new.__bases__
            and _update_class(old, new)
        ):
            namespace[name] = old
            updated.append(name)
    return updated


def _update_function(old: FunctionType, new: FunctionType) -> bool:
    if old.__code__.co_freevars != new.__code__.co_freevars:
        return False
    old.__code__ = new.__code__
    old.__defaults__ = new.__defaults__
    old.__kwdefaults__ = new.__kwdefaults__
    old.__annotations__ = new.__annotations__
    old.__doc__ = new.__doc__
    old.__dict__.update(new.__dict__)
    return True


def _update_class(old: type, new: type) -> bool:
    old_attributes = dict(vars(old))
    try:
        for key, value in vars(new).items():
            if key in _NOT_COPIED:
                continue
            previous = old_attributes.get(key)
            old_function = getattr(previous, "__func__", previous)
            new_function = getattr(value, "__func__", value)
            if (
                type(previous) is type(value)
                and isinstance(old_function, FunctionType)
                and isinstance(new_function, FunctionType)
                and _update_function(old_function, new_function)
            ):
                continue
            setattr(old, key, value)
        for key in old_attributes.keys() - vars(new).keys():
            if not key.startswith("__"):
                delattr(old, key)
    except (AttributeError, TypeError):
        return False
    return True
