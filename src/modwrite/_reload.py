"""Write, then import: :func:`write_and_import`, which runs the code object
compiled to validate the source (compile once, :mod:`modwrite._compile_once`),
through the import system.

The import itself is the import system's (:func:`importlib.import_module` or
:func:`importlib.reload`); only the compile is saved.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from ._compile_once import running
from ._plan import PathArg, Visibility, WriteOptions
from ._settle import DEFAULT_VISIBILITY_TIMEOUT_S
from ._source import Source
from ._write import land_module

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
    with running(name, landed):
        module = sys.modules.get(name)
        if module is not None:
            return importlib.reload(module)
        return importlib.import_module(name)
