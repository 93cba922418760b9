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
"""

from __future__ import annotations

from ._invalidate import invalidate_caches
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
    VisibilityWarning,
)

__version__ = "0.1.0"

# typing is not imported at run time: the machinery is loaded at interpreter
# start-up (sitecustomize, .pth) and typing costs ~10 ms there.
TYPE_CHECKING = False

__all__ = [
    "ArgumentTypeError",
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
    "Visibility",
    "VisibilityWarning",
    "__version__",
    "batch",
    "install",
    "installed",
    "invalidate_caches",
    "uninstall",
    "write_and_import",
    "write_module",
    "write_package",
]


if TYPE_CHECKING:
    from typing import Any

    from ._write import (
        FileTree,
        Visibility,
        batch,
        write_and_import,
        write_module,
        write_package,
    )

# The write protocol loads on first use: an interpreter that only installs
# the machinery at start-up (sitecustomize, .pth) does not pay for it.
_LAZY = frozenset(
    {"FileTree", "Visibility", "batch", "write_and_import", "write_module", "write_package"}
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import _write

        value = getattr(_write, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modwrite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
