"""The :mod:`!imp` API that Python 3.12 removed, on modwrite's machinery.

``import modwrite.imp as imp`` gives code written against :mod:`!imp` the
module it was written for, on every supported Python (3.9 to 3.13), with the
behaviour of CPython 3.11's ``Lib/imp.py`` (results, module attributes,
exceptions and their types), except where the real module runs stale code:

* :func:`load_source`, :func:`load_module` (``PY_SOURCE``),
  :func:`load_package` and :func:`reload` load sources with
  :class:`modwrite.machinery.SourceFileLoader`, which never runs a timestamp
  ``.pyc`` written in the same second as its source (a same-size rewrite in
  that second, by any tool, runs the new source; the real ``imp`` runs the
  old bytecode).
* :func:`reload` invalidates the path finder's caches of the directories it
  searches before looking for the module: a directory created after the
  first lookup, or a file created in the same timestamp tick as the last
  listing of its directory, is found.

Importing this module issues no :class:`DeprecationWarning`: the real
``imp`` warned because it was to be removed from the standard library; this
one is maintained with modwrite.  The migration table in modwrite's docs
(``imp``) gives each call's modern equivalent.

For code that does ``import imp`` and cannot be edited (a dependency),
:func:`register` makes ``import imp`` give this module, and ``python -m
modwrite.imp script.py`` runs a program that way.  Nothing is registered
without one of them: ``import modwrite.imp`` does not touch
:data:`sys.modules` ``["imp"]``.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

import _imp
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import tokenize
import types
import warnings
from collections.abc import Iterable
from importlib._bootstrap import _exec, _load  # type: ignore[attr-defined]  # as Lib/imp.py
from importlib._bootstrap import _find_spec as _bootstrap_find_spec  # type: ignore[attr-defined]
from typing import IO, Any

from . import machinery

__all__ = [
    "C_BUILTIN",
    "C_EXTENSION",
    "IMP_HOOK",
    "PKG_DIRECTORY",
    "PY_CODERESOURCE",
    "PY_COMPILED",
    "PY_FROZEN",
    "PY_RESOURCE",
    "PY_SOURCE",
    "SEARCH_ERROR",
    "NullImporter",
    "acquire_lock",
    "cache_from_source",
    "find_module",
    "get_frozen_object",
    "get_magic",
    "get_suffixes",
    "get_tag",
    "init_builtin",
    "init_frozen",
    "is_builtin",
    "is_frozen",
    "is_frozen_package",
    "load_compiled",
    "load_dynamic",
    "load_module",
    "load_package",
    "load_source",
    "lock_held",
    "new_module",
    "register",
    "release_lock",
    "reload",
    "source_from_cache",
]

# The import lock and the frozen and built-in module queries are the
# interpreter's own, as in Lib/imp.py.
lock_held = _imp.lock_held
acquire_lock = _imp.acquire_lock
release_lock = _imp.release_lock
get_frozen_object = _imp.get_frozen_object
is_frozen_package = _imp.is_frozen_package
init_frozen = _imp.init_frozen
is_builtin = _imp.is_builtin
is_frozen = _imp.is_frozen

# Module types, as find_module() and get_suffixes() report them (Lib/imp.py).
SEARCH_ERROR = 0
PY_SOURCE = 1
PY_COMPILED = 2
C_EXTENSION = 3
PY_RESOURCE = 4
PKG_DIRECTORY = 5
C_BUILTIN = 6
PY_FROZEN = 7
PY_CODERESOURCE = 8
IMP_HOOK = 9

_ERR_MSG = "No module named {!r}"  # importlib._bootstrap._ERR_MSG of 3.11

Description = tuple[str, str, int]
"""``(suffix, mode, type)``, an entry of :func:`get_suffixes`."""


def new_module(name: str) -> types.ModuleType:
    """A new, empty module named *name* (``types.ModuleType(name)``), not
    entered in :data:`sys.modules`."""
    return types.ModuleType(name)


def get_magic() -> bytes:
    """The magic number of this interpreter's ``.pyc`` files
    (:data:`importlib.util.MAGIC_NUMBER`), 4 bytes."""
    return importlib.util.MAGIC_NUMBER


def get_tag() -> str | None:
    """The tag of this interpreter's cached bytecode names
    (``sys.implementation.cache_tag``, e.g. ``"cpython-311"``)."""
    return sys.implementation.cache_tag


def cache_from_source(path: str, debug_override: bool | None = None) -> str:
    """The path of the ``.pyc`` of the source *path*
    (:func:`importlib.util.cache_from_source`, its ``debug_override``
    deprecation warning silenced as ``imp`` did).

    :raises NotImplementedError: ``sys.implementation.cache_tag`` is ``None``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.util.cache_from_source(path, debug_override)


def source_from_cache(path: str) -> str:
    """The path of the source of the ``.pyc`` *path*
    (:func:`importlib.util.source_from_cache`).

    :raises ValueError: *path* is not a PEP 3147 or PEP 488 cache path.
    :raises NotImplementedError: ``sys.implementation.cache_tag`` is ``None``.
    """
    return importlib.util.source_from_cache(path)


def get_suffixes() -> list[Description]:
    """``(suffix, mode, type)`` for every suffix the import system loads:
    extension modules (``"rb"``, ``C_EXTENSION``), then sources
    (``"r"``, ``PY_SOURCE``), then bytecode (``"rb"``,
    ``PY_COMPILED``), from :mod:`importlib.machinery`'s lists now."""
    extensions = [(s, "rb", C_EXTENSION) for s in importlib.machinery.EXTENSION_SUFFIXES]
    source = [(s, "r", PY_SOURCE) for s in importlib.machinery.SOURCE_SUFFIXES]
    bytecode = [(s, "rb", PY_COMPILED) for s in importlib.machinery.BYTECODE_SUFFIXES]
    return extensions + source + bytecode


class NullImporter:
    """The path entry finder ``imp`` gave a path entry that is not a
    directory: it finds nothing.

    :raises ImportError: *path* is ``""`` or an existing directory.
    """

    def __init__(self, path: str) -> None:
        if path == "":
            raise ImportError("empty pathname", path="")
        elif os.path.isdir(path):
            raise ImportError("existing directory", path=path)

    def find_module(self, fullname: str) -> None:
        """Always ``None``."""
        return None


# -- loading from a file ------------------------------------------------------------


class _FileArgument:
    """The *file* argument of the ``load_*`` functions (``imp``'s
    ``_HackedGetData``): the loader reads the module's own path from that
    open file (a text-mode file is closed and the path opened again in
    binary, as ``get_data`` returns bytes)."""

    path: str
    file: IO[Any] | None

    def __init__(self, fullname: str, path: str, file: IO[Any] | None = None) -> None:
        super().__init__(fullname, path)  # type: ignore[call-arg]
        self.file = file

    def get_data(self, path: str) -> bytes:
        if self.file and path == self.path:
            file = self.file
            if not file.closed and "b" not in file.mode:
                file.close()
            if file.closed:
                self.file = file = open(self.path, "rb")  # noqa: SIM115  # closed below
            with file:
                data: bytes = file.read()
                return data
        return super().get_data(path)  # type: ignore[misc, no-any-return]


class _SourceFromFile(_FileArgument, machinery.SourceFileLoader):
    """:func:`load_source`'s loader."""


class _CompiledFromFile(_FileArgument, machinery.SourcelessFileLoader):
    """:func:`load_compiled`'s loader."""


def _run(spec: importlib.machinery.ModuleSpec, name: str) -> types.ModuleType:
    """Execute *spec*: in the loaded module of *name* (a reload, in place),
    else in a new module entered in :data:`sys.modules`."""
    if name in sys.modules:
        module: types.ModuleType = _exec(spec, sys.modules[name])
    else:
        module = _load(spec)
    return module


def load_source(name: str, pathname: str, file: IO[Any] | None = None) -> types.ModuleType:
    """Load (or, if *name* is in :data:`sys.modules`, run again in that
    module) the Python source file *pathname* as the module *name*.

    As ``imp.load_source`` of CPython 3.11, with
    :class:`modwrite.machinery.SourceFileLoader`: a ``.pyc`` written in the
    second of its source's mtime is not trusted, so a same-size rewrite in
    that second runs the new source.  *file*, an open file of *pathname*:
    read instead of the path if opened in binary mode, else closed (and the
    path read), as ``imp`` does.

    :returns: the module; its ``__loader__`` and ``__spec__.loader`` are a
        :class:`modwrite.machinery.SourceFileLoader` for *pathname*.
    :raises FileNotFoundError: *pathname* does not exist.
    :raises SyntaxError: the source does not compile; anything the module's
        code raises.  A module new to :data:`sys.modules` is then removed
        again; a module run again keeps what its code set before the error.
    """
    loader = _SourceFromFile(name, pathname, file)
    spec = importlib.util.spec_from_file_location(name, pathname, loader=loader)
    assert spec is not None  # a loader was given
    module = _run(spec, name)
    # As imp: a loader for the next reload that does not hold a closed file.
    reloader = machinery.SourceFileLoader(name, pathname)
    reloader.executed_source = loader.executed_source  # what changed_modules() compares with
    module.__loader__ = reloader
    spec.loader = reloader  # module.__spec__ is spec
    return module


def load_compiled(name: str, pathname: str, file: IO[Any] | None = None) -> types.ModuleType:
    """Load (or run again) the bytecode file *pathname* as the module
    *name*, as ``imp.load_compiled``.

    :raises ImportError: *pathname* is not bytecode of this interpreter
        (bad magic number).
    :raises EOFError: the file is truncated.
    """
    loader = _CompiledFromFile(name, pathname, file)
    spec = importlib.util.spec_from_file_location(name, pathname, loader=loader)
    assert spec is not None
    module = _run(spec, name)
    reloader = machinery.SourcelessFileLoader(name, pathname)
    module.__loader__ = reloader
    spec.loader = reloader  # module.__spec__ is spec
    return module


def load_package(name: str, path: str) -> types.ModuleType:
    """Load (or run again) the package *name* from the directory *path*
    (its ``__init__`` source or bytecode) or from the ``__init__`` file
    *path*, as ``imp.load_package``; ``__path__`` is the directory.  The
    loader ``spec_from_file_location`` picks by suffix is replaced by
    modwrite's class of it (:mod:`modwrite.machinery`).

    :param path: ``str`` or path-like, relative to the working directory or
        absolute.
    :raises ValueError: *path* is a directory without an ``__init__`` file.
    :raises AttributeError: *path* has no known module suffix (as ``imp``:
        no spec to load).
    """
    if os.path.isdir(path):
        extensions = importlib.machinery.SOURCE_SUFFIXES + importlib.machinery.BYTECODE_SUFFIXES
        for extension in extensions:
            init_path = os.path.join(path, "__init__" + extension)
            if os.path.exists(init_path):
                path = init_path
                break
        else:
            raise ValueError(f"{path!r} is not a package")
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=[])
    if spec is not None:
        spec.loader = _ours(spec.loader)
    return _run(spec, name)  # type: ignore[arg-type]  # None: AttributeError, as imp


#: The stock loader classes and modwrite's class of each.
_OUR_LOADERS: dict[type, type] = {
    importlib.machinery.SourceFileLoader: machinery.SourceFileLoader,
    importlib.machinery.SourcelessFileLoader: machinery.SourcelessFileLoader,
    importlib.machinery.ExtensionFileLoader: machinery.ExtensionFileLoader,
}


def _ours(loader: Any) -> Any:
    """modwrite's loader in place of a stock file *loader* (the same name
    and path); any other loader as it is."""
    ours = _OUR_LOADERS.get(type(loader))
    return loader if ours is None else ours(loader.name, loader.path)


def load_dynamic(name: str, path: str, file: IO[Any] | None = None) -> types.ModuleType:
    """Load the extension module *name* from *path*, always a new module
    (``imp.load_dynamic``; CPython issue #24748).  *file* is ignored.

    :raises ImportError: *path* is not an extension module exporting
        ``PyInit_<name>``.
    """
    loader = machinery.ExtensionFileLoader(name, path)
    spec = importlib.machinery.ModuleSpec(name=name, loader=loader, origin=path)
    module: types.ModuleType = _load(spec)
    return module


def init_builtin(name: str) -> types.ModuleType | None:
    """The built-in module *name*, initialised if it was not, or ``None``
    when there is no such built-in module (``imp.init_builtin``)."""
    spec = importlib.machinery.BuiltinImporter.find_spec(name)
    if spec is None:
        return None
    module: types.ModuleType = _load(spec)
    return module


def load_module(
    name: str, file: IO[Any] | None, filename: str, details: Description
) -> types.ModuleType:
    """Load the module that :func:`find_module` found, as ``imp.load_module``:
    *details* is its ``(suffix, mode, type)``.  A module already in
    :data:`sys.modules` is run again in place (a reload).

    :raises ValueError: *mode* is not a read mode, or *file* is ``None``
        for ``PY_SOURCE`` or ``PY_COMPILED``.
    :raises ImportError: an unknown module type.
    """
    _, mode, type_ = details
    if mode and (not mode.startswith("r") or "+" in mode):
        raise ValueError(f"invalid file open mode {mode!r}")
    elif file is None and type_ in {PY_SOURCE, PY_COMPILED}:
        raise ValueError(f"file object required for import (type code {type_})")
    elif type_ == PY_SOURCE:
        return load_source(name, filename, file)
    elif type_ == PY_COMPILED:
        return load_compiled(name, filename, file)
    elif type_ == C_EXTENSION:
        if file is None:
            with open(filename, "rb") as opened_file:
                return load_dynamic(name, filename, opened_file)
        return load_dynamic(name, filename, file)
    elif type_ == PKG_DIRECTORY:
        return load_package(name, filename)
    elif type_ == C_BUILTIN:
        return init_builtin(name)  # type: ignore[return-value]  # as imp: None for no such module
    elif type_ == PY_FROZEN:
        return init_frozen(name)
    raise ImportError(f"Don't know how to import {name} (type code {type_})", name=name)


def find_module(
    name: str, path: list[str] | None = None
) -> tuple[IO[Any] | None, str | None, Description]:
    """Find the top-level module *name* in the directories *path* (default:
    built-in, frozen, then :data:`sys.path`), as ``imp.find_module``.

    Each directory is looked at on disk now (no finder cache is used, as in
    ``imp``): a file made a moment ago is found.

    :returns: ``(file, pathname, (suffix, mode, type))``: *file* an open file
        (text with the source's encoding for ``PY_SOURCE``, binary
        otherwise) that the caller closes; ``(None, package_directory, ("",
        "", PKG_DIRECTORY))`` for a package; ``(None, None, ("", "",
        C_BUILTIN or PY_FROZEN))``.
    :raises TypeError: *name* is not a ``str``.
    :raises RuntimeError: *path* is neither ``None`` nor a ``list``.
    :raises ImportError: not found.
    """
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str, not {type(name)}")
    elif not isinstance(path, (type(None), list)):
        raise RuntimeError(f"'path' must be None or a list, not {type(path)}")

    if path is None:
        if is_builtin(name):
            return None, None, ("", "", C_BUILTIN)
        elif is_frozen(name):
            return None, None, ("", "", PY_FROZEN)
        path = sys.path

    found = _search(name, path)
    if found is None:
        raise ImportError(_ERR_MSG.format(name), name=name)
    file_path, (suffix, mode, type_) = found
    if type_ == PKG_DIRECTORY:
        return None, file_path, ("", "", PKG_DIRECTORY)
    encoding = None
    if "b" not in mode:
        with open(file_path, "rb") as file:
            encoding = tokenize.detect_encoding(file.readline)[0]
    opened = open(file_path, mode, encoding=encoding)  # noqa: SIM115  # the caller closes it
    return opened, file_path, (suffix, mode, type_)


def _search(name: str, path: list[str]) -> tuple[str, Description] | None:
    """The first package directory or module file of *name* in the
    directories *path*, in ``imp.find_module``'s order: in each directory a
    package (``__init__.py``, then ``__init__.pyc``), then the suffixes of
    :func:`get_suffixes`."""
    for entry in path:
        package_directory = os.path.join(entry, name)
        for init in ("__init__.py", "__init__" + importlib.machinery.BYTECODE_SUFFIXES[0]):
            if os.path.isfile(os.path.join(package_directory, init)):
                return package_directory, ("", "", PKG_DIRECTORY)
        for description in get_suffixes():
            file_path = os.path.join(entry, name + description[0])
            if os.path.isfile(file_path):
                return file_path, description
    return None


# -- reload -------------------------------------------------------------------------


def reload(module: types.ModuleType) -> types.ModuleType:
    """Run the module's code again in the module object, found anew on
    :data:`sys.meta_path`, as ``imp.reload`` (``importlib.reload`` of
    CPython 3.11) does, and return ``sys.modules[name]``.

    Differences, both freshness: the path finder's caches of the directories
    searched (:data:`sys.path`, or the parent package's ``__path__``) are
    invalidated first (``None`` entries of :data:`sys.path_importer_cache`
    dropped, each cached finder's ``invalidate_caches()`` called), and a source found by the stock
    ``FileFinder`` is loaded with :class:`modwrite.machinery.SourceFileLoader`
    (no same-second ``.pyc``).  For a reload that reads the module's own
    file whatever the finders say, see :func:`modwrite.reload`.

    :raises TypeError: *module* is not a module.
    :raises ImportError: the module, or its parent package, is not in
        :data:`sys.modules`.
    :raises ModuleNotFoundError: no finder finds it any more.
    """
    try:
        name = module.__spec__.name  # type: ignore[union-attr]  # None: AttributeError, as importlib
    except AttributeError:
        try:
            name = module.__name__
        except AttributeError:
            raise TypeError("reload() argument must be a module") from None
    if sys.modules.get(name) is not module:
        raise ImportError(f"module {name} not in sys.modules", name=name)
    reloading: dict[str, types.ModuleType] = importlib._RELOADING  # type: ignore[attr-defined]
    if name in reloading:
        return reloading[name]
    reloading[name] = module
    try:
        parent_name = name.rpartition(".")[0]
        if parent_name:
            try:
                parent = sys.modules[parent_name]
            except KeyError:
                raise ImportError(
                    f"parent {parent_name!r} not in sys.modules", name=parent_name
                ) from None
            pkgpath: Any = parent.__path__  # a _NamespacePath stays one
        else:
            pkgpath = None
        _invalidate_search_path(sys.path if pkgpath is None else pkgpath)
        spec = module.__spec__ = _find_spec(name, pkgpath, module)
        if spec is None:
            raise ModuleNotFoundError(f"spec not found for the module {name!r}", name=name)
        _exec(spec, module)
        return sys.modules[name]
    finally:
        reloading.pop(name, None)


def _invalidate_search_path(entries: Iterable[object]) -> None:
    """Make the path finder look at the directories *entries* afresh: a
    ``None`` entry of :data:`sys.path_importer_cache` (no directory there
    at the last lookup) is dropped, and each cached path entry finder is
    invalidated (a ``FileFinder`` reads its directory again at its next
    lookup, which stops at the first entry holding the module).  What
    :func:`importlib.invalidate_caches` does, for these entries only.
    modwrite's own :class:`~modwrite.machinery.FileFinder` (installed by
    :func:`modwrite.install`) is left as it is: it reads its directory again
    by itself while a listing may have missed a change made in its tick."""
    cache = sys.path_importer_cache
    for entry in entries:
        if not isinstance(entry, str):
            continue
        if entry == "":  # PathFinder keys the empty entry by the working directory
            try:
                entry = os.getcwd()
            except FileNotFoundError:
                continue
        finder = cache.get(entry, _NOT_CACHED)
        if finder is None:
            del cache[entry]
        elif finder is not _NOT_CACHED and not isinstance(finder, machinery.FileFinder):
            invalidate = getattr(finder, "invalidate_caches", None)
            if invalidate is not None:
                invalidate()


_NOT_CACHED = object()


def _find_spec(
    name: str, path: Any, target: types.ModuleType
) -> importlib.machinery.ModuleSpec | None:
    """importlib's ``_find_spec`` for a module being reloaded (under the
    import lock, :data:`sys.meta_path` in order, its warnings and its legacy
    ``find_module`` fallback as the running Python has them), with the stock
    source loader made modwrite's."""
    spec: importlib.machinery.ModuleSpec | None = _bootstrap_find_spec(name, path, target)
    if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
        spec.loader = _ours(spec.loader)
    return spec


# -- the opt-in for ``import imp`` ----------------------------------------------------


def register() -> types.ModuleType | None:
    """Make ``import imp`` give this module, in this process, from now on.

    For code that does ``import imp`` and cannot be edited: call this before
    that code is imported (in the program's entry point, a ``conftest.py``,
    ``sitecustomize``), or run the program with ``python -m modwrite.imp``.
    Modules that imported ``imp`` before keep what they got.  Calling it
    again does nothing.

    :returns: the module ``sys.modules["imp"]`` held before (the standard
        library's ``imp`` on Python <= 3.11 if it was imported, or
        zombie-imp's), or ``None``.
    """
    this = sys.modules[__name__]
    previous = sys.modules.get("imp")
    sys.modules["imp"] = this
    return None if previous is this else previous


def _main(argv: list[str] | None = None) -> int:
    """``python -m modwrite.imp (script | -m module) [args ...]``: run a
    program as ``python`` would, with :func:`register` called first."""
    import argparse
    import runpy

    parser = argparse.ArgumentParser(
        prog="python -m modwrite.imp",
        usage="%(prog)s (script | -m module) [args ...]",
        description="Run a Python program with `import imp` giving modwrite.imp "
        "(code written for the imp module that Python 3.12 removed).",
    )
    parser.add_argument("script", help="the script to run, or -m and a module name")
    parser.add_argument("args", nargs="*", help="the program's arguments")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["-m"] and len(argv) >= 2:
        module, script, args = argv[1], None, argv[2:]
    elif argv and not argv[0].startswith("-"):
        module, script, args = None, argv[0], argv[1:]
    else:
        if argv[:1] in (["-h"], ["--help"]):
            parser.parse_args(argv[:1])  # prints the help and exits
        parser.error("give a script, or -m and a module name")
    register()
    if module is not None:
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        assert script is not None
        sys.argv = [script, *args]
        sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script`
        runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    from modwrite.imp import _main as main  # the module, not this __main__ copy

    sys.exit(main())
