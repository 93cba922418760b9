"""modwrite's pytest plugin: the ``modwrite_root`` fixture.

Registered through the ``pytest11`` entry point, so it is active wherever
modwrite is installed (``-p no:modwrite`` turns it off).  Loading it imports
nothing of modwrite's write path: that happens when a test asks for the
fixture.

.. code-block:: python

   def test_generated_module(modwrite_root):
       modwrite_root.write_module("helper", "X = 1\\n")
       import helper
       assert helper.X == 1
       # after the test: helper is gone from sys.modules, the root from
       # sys.path, its finder from sys.path_importer_cache

Under pytest-xdist each worker is a process of its own; the fixture isolates
the tests within it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import pytest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["ImportRoot", "modwrite_root"]


class ImportRoot:
    """A test's own directory at the front of :data:`sys.path`, with
    modwrite's writers bound to it.

    :ivar path: the directory (:class:`pathlib.Path`), empty at the start of
        the test.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def write_module(self, name: str, source: str | bytes, **options: Any) -> Path:
        """:func:`modwrite.write_module` with ``root=self.path``; *options*
        are its keyword arguments.  Returns the file's path; raises what it
        raises."""
        import modwrite

        return modwrite.write_module(name, source, root=self.path, **options)

    def write_package(self, name: str, files: Any, **options: Any) -> Path:
        """:func:`modwrite.write_package` with ``root=self.path``."""
        import modwrite

        return modwrite.write_package(name, files, root=self.path, **options)

    def write_and_import(self, name: str, source: str | bytes, **options: Any) -> ModuleType:
        """:func:`modwrite.write_and_import` with ``root=self.path``; returns
        the module."""
        import modwrite

        return modwrite.write_and_import(name, source, root=self.path, **options)

    def __repr__(self) -> str:
        return f"<ImportRoot {str(self.path)!r}>"


@pytest.fixture
def modwrite_root(tmp_path: Path) -> Iterator[ImportRoot]:
    """An :class:`ImportRoot`: an empty directory under ``tmp_path`` put
    first on :data:`sys.path`.

    On teardown the import state is put back as it was before the test
    (``modwrite._isolation.ImportState``): modules imported during the
    test are dropped from :data:`sys.modules` (and unset on parent packages
    that were loaded before), replaced or removed ones put back,
    :data:`sys.path` restored, the :data:`sys.path_importer_cache` entries
    the test added removed, and :mod:`linecache` restored.  No global
    :func:`importlib.invalidate_caches` is made.
    """
    import modwrite
    from modwrite._isolation import ImportState

    # modwrite's own modules load before the snapshot: dropped at teardown,
    # they would load again as second copies beside the package's references.
    modwrite.write_module  # noqa: B018 - loads the write path (PEP 562)
    state = ImportState.capture()
    directory = tmp_path / "modwrite_root"
    directory.mkdir()
    sys.path.insert(0, str(directory))
    try:
        yield ImportRoot(directory)
    finally:
        state.restore()
