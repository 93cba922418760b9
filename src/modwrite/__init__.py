"""modwrite: write Python modules and packages that are importable at once.

In the writing process and in every other one, on every filesystem, with no
stale bytecode.  See https://modwrite.readthedocs.io (the ``docs/`` folder)
for the guarantees and what each one costs.

>>> import modwrite, sys, tempfile
>>> root = tempfile.mkdtemp()
>>> sys.path.insert(0, root)
>>> modwrite.write_module("hello_modwrite", "WHO = 'world'\\n", root=root).name
'hello_modwrite.py'
>>> import hello_modwrite
>>> hello_modwrite.WHO
'world'

PYTEST_DONT_REWRITE: pytest marks the packages of its plugins (modwrite ships
one) for assertion rewriting, and warns when one was imported before it,
as this package is when the machinery is installed at start-up.  modwrite's
code has no assertions to rewrite.
"""

from __future__ import annotations

from ._machinery import Installation, install, installed, uninstall
from .errors import (
    ArgumentTypeError,
    InvalidArgument,
    InvalidModuleName,
    InvalidSource,
    ModuleConflictError,
    ModuleSyntaxError,
    ModuleWriteError,
    ModwriteError,
    ModwriteWarning,
    PostCommitWarning,
    ReloadError,
    ReloadFailedWarning,
    VisibilityWarning,
)

__version__ = "0.1.0"

# Only the machinery and the exceptions load with the package (the exception
# classes must be one set of objects, whatever is imported later): an
# interpreter that installs the machinery at start-up (sitecustomize, .pth)
# pays about 2 ms.  The rest loads on first use (PEP 562), and typing is not
# imported at run time at all.
TYPE_CHECKING = False

__all__ = [
    "ArgumentTypeError",
    "CleanReport",
    "FileTree",
    "Installation",
    "InvalidArgument",
    "InvalidModuleName",
    "InvalidSource",
    "ModuleConflictError",
    "ModuleSyntaxError",
    "ModuleWriteError",
    "ModwriteError",
    "ModwriteWarning",
    "PostCommitWarning",
    "ReloadError",
    "ReloadFailedWarning",
    "Visibility",
    "VisibilityWarning",
    "Watcher",
    "__version__",
    "batch",
    "changed_modules",
    "clean",
    "install",
    "installed",
    "invalidate_caches",
    "reload",
    "reload_changed",
    "uninstall",
    "watch",
    "write_and_import",
    "write_module",
    "write_package",
]

if TYPE_CHECKING:
    from typing import Any

    from ._clean import CleanReport, clean
    from ._invalidate import invalidate_caches
    from ._plan import Visibility
    from ._reload import changed_modules, reload, reload_changed, write_and_import
    from ._settle import batch
    from ._tree import FileTree
    from ._watch import Watcher, watch
    from ._write import write_module, write_package

_LAZY = {
    "CleanReport": "_clean",
    "clean": "_clean",
    "FileTree": "_tree",
    "Visibility": "_plan",
    "batch": "_settle",
    "write_and_import": "_reload",
    "reload": "_reload",
    "reload_changed": "_reload",
    "changed_modules": "_reload",
    "write_module": "_write",
    "write_package": "_write",
    "invalidate_caches": "_invalidate",
    "Watcher": "_watch",  # watchdog is imported when a watcher starts, not here
    "watch": "_watch",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'modwrite' has no attribute {name!r}")
    # All the lazy names at once: they must come from one import of the
    # write path (batch() and write_module() share a context variable), also
    # when a test's snapshot of sys.modules dropped some of its modules since.
    import importlib

    for lazy_name, module_name in _LAZY.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        globals()[lazy_name] = getattr(module, lazy_name)
    return globals()[name]


def __dir__() -> list[str]:
    return __all__
