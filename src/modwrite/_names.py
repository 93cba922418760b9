"""Validation of the arguments that name things: dotted module names and
filesystem paths."""

from __future__ import annotations

import keyword
import os
import sys
import unicodedata

from .errors import ArgumentTypeError, InvalidModuleName

__all__ = ["POSIX_PATHS", "is_normal_absolute", "str_path", "validate_module_name"]

#: Are paths POSIX paths (``posixpath``), on which ``normcase`` does nothing?
POSIX_PATHS = os.path is sys.modules.get("posixpath")


def is_normal_absolute(path: str) -> bool:
    """Is *path* already what :func:`os.path.abspath` makes of it?  On POSIX:
    absolute, with no empty, ``.`` or ``..`` part and no trailing separator.
    A few scans of a string, much cheaper than ``abspath`` (four Python
    calls) on the hot paths that take paths; ``False`` elsewhere (Windows:
    call ``abspath``)."""
    return (
        POSIX_PATHS
        and path.startswith("/")
        and "//" not in path
        and "/./" not in path
        and "/../" not in path
        and not path.endswith(("/", "/.", "/.."))
    )


def str_path(value: object, *, what: str) -> str:
    """*value* as a ``str`` path (:func:`os.fspath`).

    :raises ArgumentTypeError: *value* is neither ``str`` nor a path-like
        object, or it is a ``bytes`` path.
    """
    try:
        path = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        raise ArgumentTypeError(
            f"{what} must be str or path-like, not {type(value).__name__}"
        ) from None
    if not isinstance(path, str):
        raise ArgumentTypeError(f"{what} must be a str path, not bytes")
    return path


def validate_module_name(name: object, *, what: str = "module name") -> tuple[str, ...]:
    """Return the parts of the dotted module name *name*.

    :raises ArgumentTypeError: *name* is not a :class:`str`.
    :raises InvalidModuleName: *name* is empty, has an empty part (stray,
        leading or trailing dots), a part that is not an identifier, a
        keyword (``True``/``None``/``False`` included), or is not in NFKC
        normal form (PEP 3131: the parser normalizes identifiers, so a file
        named otherwise could never be imported by that name).
    """
    if not isinstance(name, str):
        raise ArgumentTypeError(f"{what} must be str, not {type(name).__name__}")
    if not name:
        raise InvalidModuleName(name, "the name is empty")
    parts = tuple(name.split("."))
    for part in parts:
        if not part:
            raise InvalidModuleName(name, "empty part (stray, leading or trailing dot)")
        if not part.isidentifier():
            raise InvalidModuleName(name, f"{part!r} is not a Python identifier")
        if keyword.iskeyword(part):
            raise InvalidModuleName(name, f"{part!r} is a keyword")
        if not part.isascii() and unicodedata.normalize("NFKC", part) != part:
            raise InvalidModuleName(
                name,
                f"{part!r} is not NFKC-normalized (PEP 3131); the parser would read "
                f"{unicodedata.normalize('NFKC', part)!r}",
            )
    return parts
