"""Compile once (G10): the code object compiled to validate a source is the
one that runs when the import system imports or reloads that file.

The import itself stays the import system's (:func:`importlib.import_module`
or :func:`importlib.reload`): module locks, :data:`sys.modules`, the spec and
the attributes it sets (``__spec__``, ``__loader__``, ``__file__``,
``__cached__``), the parent package's attribute.  Only the compile is saved:
:class:`CompiledSourceFinder`, on :data:`sys.meta_path`, asks the finders
after it, in order, for the spec of the module being imported, and when the
answer is a plain source spec (stock or :mod:`modwrite.machinery`
``SourceFileLoader``) for the file just written or read, hands its loader the
code object.  Any other answer (pytest's assertion rewriter, an import hook, a
module found elsewhere on the path) is returned as it is, and compiles as it
always does.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from types import CodeType, ModuleType

from . import _machinery
from ._write import ModuleLanded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from importlib.machinery import ModuleSpec
    from typing import Any

__all__ = ["CompiledSourceFinder", "CompiledSourceLoader", "Run", "running"]


class Run:
    """What happened to the code object of one :func:`running` block:
    *ran_code* is true once a :class:`CompiledSourceLoader` handed it to the
    module; *from_source* (given) makes that loader compile the file's
    current bytes, never a pyc, when the file is no longer the one the code
    was compiled from."""

    __slots__ = ("compiled_data", "from_source", "landed", "name", "ran_code")

    def __init__(self, name: str, landed: ModuleLanded, from_source: bool) -> None:
        self.name = name
        self.landed = landed
        self.from_source = from_source
        self.ran_code = False
        #: For a ``from_source`` run whose file had changed: the bytes that
        #: were compiled instead of the code object (what ran).
        self.compiled_data: bytes | None = None


@contextmanager
def running(name: str, landed: ModuleLanded, *, from_source: bool = False) -> Iterator[Run]:
    """Within the block, an import or reload of *name* that finds the file
    of *landed* with a plain source loader runs ``landed.code``.

    :param from_source: if the file changed since (another identity), compile
        its current bytes rather than let the loader use a bytecode cache
        (:func:`~modwrite.reload`: never a pyc older than the source); the
        run's ``compiled_data`` then holds them.
    """
    _put_finder_on_meta_path()
    run = Run(name, landed, from_source)
    token = _pending.set(run)
    try:
        yield run
    finally:
        _pending.reset(token)


#: The import running() arranges in this context.
_pending: ContextVar[Run | None] = ContextVar("modwrite_pending_import", default=None)

#: The loaders whose compile the code object may replace: they compile the
#: file's bytes with ``source_to_code`` and nothing else.
_PLAIN_SOURCE_LOADERS = (importlib.machinery.SourceFileLoader, _machinery.SourceFileLoader)


class CompiledSourceFinder:
    """A meta path finder that answers only for the module
    :func:`write_and_import` is importing in this context: it asks the
    finders after it on :data:`sys.meta_path`, in order, as the import
    system would (:func:`importlib.util.find_spec`'s protocol), and returns
    their answer, with a :class:`CompiledSourceLoader` in place of a plain
    ``SourceFileLoader`` for the file just written.  For every other name it
    returns ``None`` at once (one context variable read).
    """

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        run = _pending.get()
        if run is None or run.name != fullname:
            return None
        meta_path = sys.meta_path
        try:
            after = meta_path.index(self) + 1
        except ValueError:
            return None
        for finder in meta_path[after:]:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                return None  # a legacy finder: the import system goes on as usual
            spec: ModuleSpec | None = find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        landed = run.landed
        loader = spec.loader
        if (
            type(loader) in _PLAIN_SOURCE_LOADERS
            and landed.identity is not None
            and spec.origin is not None
            and os.path.normcase(spec.origin) == os.path.normcase(landed.path)
        ):
            spec.loader = CompiledSourceLoader(loader, run)
        return spec


class CompiledSourceLoader(importlib.machinery.SourceFileLoader):
    """The loader of a file just written or read: :meth:`get_code` returns
    the code object compiled from it, while the file is the one that landed
    (same device, inode, size and ``st_mtime_ns``); else the code of the
    file's current bytes for a ``from_source`` run, and for everything else
    the *loader* it stands in for.  After the module ran, the module's
    ``__loader__`` and ``__spec__.loader`` are that loader again, as a plain
    import leaves them.
    """

    def __init__(self, loader: Any, run: Run) -> None:
        super().__init__(loader.name, loader.path)
        self._loader = loader
        self._run = run

    def get_code(self, fullname: str) -> CodeType | None:
        if fullname == self.name:
            try:
                st = os.stat(self.path)
            except OSError:
                pass
            else:
                landed = self._run.landed
                if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == landed.identity:
                    self._run.ran_code = True
                    return landed.code
            if self._run.from_source:
                data = self.get_data(self.path)
                self._run.compiled_data = data
                return self.source_to_code(data, self.path)
        code: CodeType | None = self._loader.get_code(fullname)
        return code

    def exec_module(self, module: ModuleType) -> None:
        try:
            super().exec_module(module)
        finally:
            spec = getattr(module, "__spec__", None)
            if spec is not None and spec.loader is self:
                spec.loader = self._loader
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = self._loader


_FINDER = CompiledSourceFinder()


def _put_finder_on_meta_path() -> None:
    """modwrite's finder, put first on :data:`sys.meta_path` if it is not
    there (a test that restored ``sys.meta_path`` may have dropped it).  It
    stays: removing it could make an import running in another thread skip
    the finder after it."""
    if not any(f is _FINDER for f in sys.meta_path):
        sys.meta_path.insert(0, _FINDER)
