"""modwrite's import machinery (the public face of ``modwrite._machinery``).

Mirrors :mod:`importlib.machinery` name for name, so that code can switch
with one import::

    from modwrite import machinery
    machinery.FileFinder.path_hook(...)

Install it with :func:`modwrite.install` (see there).
"""

from __future__ import annotations

from ._machinery import (
    BYTECODE_SUFFIXES,
    DEBUG_BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    OPTIMIZED_BYTECODE_SUFFIXES,
    SETTLED_S,
    SOURCE_SUFFIXES,
    ExtensionFileLoader,
    FileFinder,
    Installation,
    PathFinder,
    SourceFileLoader,
    SourcelessFileLoader,
    all_suffixes,
    install,
    installed,
    uninstall,
)

__all__ = [
    "BYTECODE_SUFFIXES",
    "DEBUG_BYTECODE_SUFFIXES",
    "EXTENSION_SUFFIXES",
    "OPTIMIZED_BYTECODE_SUFFIXES",
    "SETTLED_S",
    "SOURCE_SUFFIXES",
    "ExtensionFileLoader",
    "FileFinder",
    "Installation",
    "PathFinder",
    "SourceFileLoader",
    "SourcelessFileLoader",
    "all_suffixes",
    "install",
    "installed",
    "uninstall",
]


def __dir__() -> list[str]:
    return __all__
