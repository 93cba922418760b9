"""Write, then import: :func:`write_and_import`."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from ._plan import PathArg, Visibility
from ._settle import DEFAULT_VISIBILITY_TIMEOUT_S
from ._source import Source
from ._write import write_module

__all__ = ["write_and_import"]


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
) -> ModuleType:
    """:func:`write_module`, then return the module, imported fresh.

    A name already in :data:`sys.modules` is :func:`importlib.reload`-ed (the
    module object keeps its identity, as ``reload`` does), any other name is
    imported with :func:`importlib.import_module`.  *root* must be on
    :data:`sys.path` (or inside a package on it) for the import to find it.

    :raises ImportError: the import failed (as :func:`importlib.import_module`
        raises it); plus everything :func:`write_module` raises.
    """
    write_module(
        name,
        source,
        root=root,
        visibility=visibility,
        durable=durable,
        parents=parents,
        create_root=create_root,
        visibility_timeout=visibility_timeout,
    )
    module = sys.modules.get(name)
    if module is not None:
        return importlib.reload(module)
    return importlib.import_module(name)
