"""modwrite.imp side by side with the real imp: every function, the same
inputs, equal results, equal module attributes, the same exception types
(and messages, and ``ImportError.name``/``.path``).

The real imp is the standard library's up to 3.11 and zombie-imp's copy of
it on 3.12+ (a test dependency there).  Each call is made on both, in a
directory of each implementation's own (``<base>/real``, ``<base>/mine``)
under a module name of its own (``..._real`` / ``..._mine``); both are
normalised away (``<root>``, ``<name>``) before comparing.  Bytecode writing
is on wherever a load may write a ``.pyc``, and the files each load left are
compared too.  The expected differences are not compared: the loader's
class (modwrite's subclass of the stock one: compared with ``isinstance``)
and the freshness fixes (shown in test_imp.py; no case here involves a
same-second rewrite).
"""

from __future__ import annotations

import _imp
import importlib
import importlib.machinery
import importlib.util
import os
import py_compile
import shutil
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modwrite.imp

from .property.strategies import identifiers

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import imp as real_imp

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: The reference is zombie-imp (3.12+), not the standard library's imp.
ZOMBIE = sys.version_info >= (3, 12)
BOTH = (real_imp, modwrite.imp)
#: Tags of one length: a path or name differs only by them between the two.
TAG = {id(real_imp): "real", id(modwrite.imp): "mine"}
_counter = iter(range(10**9))
Result = tuple[Any, ...]


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh directory (hypothesis reuses function-scoped fixtures)."""
    directory = Path(tempfile.mkdtemp(prefix="imp-diff-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def normaliser(root: Path, name: str) -> Callable[[object], object]:
    """*value* with the implementation's directory and module name made
    ``<root>`` and ``<name>``, in strings at any depth."""

    def norm(value: object) -> object:
        if isinstance(value, str):
            return value.replace(str(root), "<root>").replace(name, "<name>")
        if isinstance(value, dict):
            return {norm(k): norm(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return tuple(norm(v) for v in value)
        if isinstance(value, list) or type(value).__name__ == "_NamespacePath":
            return [norm(v) for v in value]  # type: ignore[attr-defined]
        return value

    return norm


def _raised_here(exc: BaseException) -> bool:
    """Whether *exc* is an assertion of this file (not an outcome to compare)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return (
        isinstance(exc, AssertionError)
        and tb is not None
        and (tb.tb_frame.f_code.co_filename == __file__)
    )


def raised(exc: BaseException) -> tuple[object, ...]:
    """What is compared of an exception: type, message, and an
    ImportError's ``name`` and ``path``."""
    if isinstance(exc, ImportError):
        return (type(exc), str(exc), exc.name, exc.path)
    return (type(exc), str(exc))


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("raised", raised(exception))``; this file's
    own failed assertions propagate."""
    try:
        return "ok", call()
    except Exception as exc:  # any exception is a result to compare
        if _raised_here(exc):
            raise
        return "raised", raised(exc)


def same(call: Callable[[types.ModuleType], Any]) -> tuple[str, Any]:
    """Call *call* with each imp; assert equal outcomes; return modwrite's."""
    real, mine = (outcome(lambda imp=imp: call(imp)) for imp in BOTH)
    assert mine == real
    return mine


STOCK_LOADERS = (
    importlib.machinery.SourceFileLoader,
    importlib.machinery.SourcelessFileLoader,
    importlib.machinery.ExtensionFileLoader,
)


def attributes(module: types.ModuleType) -> dict[str, object]:
    """What the two must agree on of a loaded module (not normalised)."""
    spec = getattr(module, "__spec__", None)
    loader = getattr(module, "__loader__", None)
    if isinstance(loader, type):  # BuiltinImporter, FrozenImporter: the class itself
        loader_kind: object = ("class", loader.__name__)
    else:
        loader_kind = (
            [isinstance(loader, kind) for kind in STOCK_LOADERS],
            getattr(loader, "name", None),
            getattr(loader, "path", None),
        )
    return {
        "__name__": module.__name__,
        "__file__": getattr(module, "__file__", "<absent>"),
        "__cached__": getattr(module, "__cached__", "<absent>"),
        "__package__": getattr(module, "__package__", "<absent>"),
        "__path__": list(getattr(module, "__path__", ["<absent>"])),
        "spec": None
        if spec is None
        else {
            "name": spec.name,
            "origin": spec.origin,
            "submodule_search_locations": None
            if spec.submodule_search_locations is None
            else list(spec.submodule_search_locations),
            "cached": spec.cached,
            "has_location": spec.has_location,
            "parent": spec.parent,
            "loader is __loader__": spec.loader is loader,
        },
        "loader": loader_kind,
        "in sys.modules": sys.modules.get(module.__name__) is module,
        "own": {
            k: own_value(module, v) for k, v in vars(module).items() if not k.startswith("__")
        },
    }


def own_value(module: types.ModuleType, value: object) -> object:
    """A module variable as compared: functions the module defines by name
    and result, modules by name."""
    if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
        return ("function", value.__qualname__, value())
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, (int, float, str, bytes, tuple, type(None))):
        return value
    return ("object", type(value).__name__)


def describe(value: object) -> object:
    """*value* with each module in it replaced by its :func:`attributes`."""
    if isinstance(value, types.ModuleType):
        return attributes(value)
    if isinstance(value, dict):
        return {k: describe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(describe(v) for v in value)
    return value


def listing(root: Path) -> list[object]:
    """The files under *root*; for a ``.pyc``, its flags and source-size
    fields too (what kind of bytecode was written, and for which source)."""
    entries: list[object] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".pyc":
            data = path.read_bytes()
            entries.append((rel, data[4:8], data[12:16]))
        else:
            entries.append(rel + ("/" if path.is_dir() else ""))
    return entries


Build = Callable[[Path, str], object]
Act = Callable[[types.ModuleType, Path, str], object]


def run_both(build: Build, act: Act, stem: str = "m", name: str | None = None) -> list[Result]:
    """For the real imp, then modwrite.imp: make a directory of its own,
    *build* the files of the module there (``build(root, name)``), run
    ``act(imp, root, name)``; return both normalised ``(kind, value,
    files)``: *value* the :func:`describe`-d result or the exception, *files*
    the :func:`listing` of the directory afterwards.  *name* defaults to a
    fresh ``mwd<n>_<stem>_<tag>``."""
    results: list[Result] = []
    with scratch() as base:
        fresh = f"mwd{next(_counter)}_{stem}"
        for imp in BOTH:
            tag = TAG[id(imp)]
            root = base / tag
            root.mkdir()
            module_name = name or f"{fresh}_{tag}"
            build(root, module_name)
            kind, value = outcome(lambda: describe(act(imp, root, module_name)))  # noqa: B023
            norm = normaliser(root, module_name)
            results.append((kind, norm(value), norm(listing(root))))
    return results


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def compile_to(source: str, root: Path, target: Path) -> None:
    """A ``.pyc`` of *source* at *target* (sourceless: the source is removed)."""
    src = root / "_source_of_pyc.py"
    write(src, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    py_compile.compile(str(src), cfile=str(target), doraise=True)
    src.unlink()


literals = st.one_of(
    st.integers(),
    st.text(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False),
    st.binary(max_size=4),
    st.booleans(),
    st.none(),
)
statements = st.one_of(
    st.builds(lambda n, v: f"v_{n} = {v!r}\n", identifiers, literals),
    st.builds(lambda n, v: f"def f_{n}():\n    return {v!r}\n", identifiers, literals),
    st.just("SEEN = (__name__, __package__, __spec__.name, globals().get('__file__'))\n"),
)
#: Simple module sources: assignments, functions, what the module sees of itself.
sources = st.lists(statements, max_size=5).map("".join)


# -- functions of no files -------------------------------------------------------------


def test_type_constants_are_equal() -> None:
    names = [
        "SEARCH_ERROR",
        "PY_SOURCE",
        "PY_COMPILED",
        "C_EXTENSION",
        "PY_RESOURCE",
        "PKG_DIRECTORY",
        "C_BUILTIN",
        "PY_FROZEN",
        "PY_CODERESOURCE",
        "IMP_HOOK",
    ]
    assert [getattr(modwrite.imp, n) for n in names] == [getattr(real_imp, n) for n in names]


def test_get_magic_get_tag_get_suffixes() -> None:
    assert same(lambda imp: imp.get_magic())[0] == "ok"
    assert same(lambda imp: imp.get_tag())[0] == "ok"
    assert same(lambda imp: imp.get_suffixes())[0] == "ok"


@SETTINGS
@given(
    path=st.one_of(
        st.text(max_size=30),
        st.builds(lambda d, n: f"/{d}/{n}.py", identifiers, identifiers),
    ),
    debug_override=st.sampled_from([None, True, False]),
)
def test_cache_from_source_and_back(path: str, debug_override: bool | None) -> None:
    cached = same(lambda imp: imp.cache_from_source(path, debug_override))
    if cached[0] == "ok":
        same(lambda imp: imp.source_from_cache(cached[1]))
    same(lambda imp: imp.source_from_cache(path))  # mostly not a cache path: ValueError


@pytest.mark.parametrize(
    ("path", "good"),
    [
        (importlib.util.cache_from_source("/a/b/mod.py"), True),
        (importlib.util.cache_from_source("/a/b/mod.py", optimization=2), True),
        ("/a/b/mod.py", False),
        ("/a/b/__pycache__/mod.pyc", False),
        ("/a/b/__pycache__/mod.a.b.c.d.pyc", False),
        (f"/a/b/__pycache__/mod.{sys.implementation.cache_tag}.opt-.pyc", False),
        (f"/a/b/__pycache__/mod.{sys.implementation.cache_tag}.x-1.pyc", False),
    ],
)
def test_source_from_cache_of_good_and_bad_paths(path: str, good: bool) -> None:
    kind, value = same(lambda imp: imp.source_from_cache(path))
    assert kind == ("ok" if good else "raised")  # the case is the one meant
    if not good:
        assert value[0] is ValueError


@SETTINGS
@given(name=st.one_of(identifiers, st.text(max_size=10)))
def test_new_module(name: str) -> None:
    before = name in sys.modules
    real, mine = real_imp.new_module(name), modwrite.imp.new_module(name)
    assert (type(mine), vars(mine)) == (type(real), vars(real))
    assert (name in sys.modules) == before
    assert mine is not real


@pytest.mark.parametrize(
    "name",
    [
        "sys",
        "_imp",
        "builtins",
        "__hello__",
        "__phello__",
        "__phello__.spam",
        "_frozen_importlib",
        "zipimport",
        "nope_x",
    ],
)
def test_is_builtin_is_frozen_and_find_module_without_a_path(name: str) -> None:
    """find_module(name): built-in, frozen, else sys.path (nope_x: ImportError)."""
    same(lambda imp: imp.is_builtin(name))
    same(lambda imp: imp.is_frozen(name))
    same(lambda imp: imp.is_frozen_package(name))
    kind, value = same(lambda imp: imp.find_module(name))
    if _imp.is_builtin(name) or _imp.is_frozen(name):
        assert kind == "ok"
    else:
        assert kind == "raised" and value[2] == name  # ImportError.name compared above


def test_init_builtin_of_an_existing_and_a_missing_module() -> None:
    results = [attributes(imp.init_builtin("_imp")) for imp in BOTH]
    assert results[1] == results[0]
    assert same(lambda imp: imp.init_builtin("nope_x_builtin")) == ("ok", None)


@pytest.mark.parametrize("name", ["__hello__", "__phello__", "__phello__.spam", "nope_x"])
def test_init_frozen(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    results = []
    for imp in BOTH:
        for loaded in [n for n in sys.modules if n.startswith(name)]:
            del sys.modules[loaded]
        kind, value = outcome(lambda: describe(imp.init_frozen(name)))  # noqa: B023
        results.append((kind, value, capsys.readouterr().out))
    assert results[1] == results[0]


@pytest.mark.parametrize("name", ["__hello__", "__phello__", "nope_x"])
def test_get_frozen_object(name: str) -> None:
    kind, _ = same(lambda imp: imp.get_frozen_object(name))  # code objects compare by value
    assert kind == ("raised" if name == "nope_x" else "ok")


def test_the_import_lock() -> None:
    for imp in BOTH:
        assert not imp.lock_held()
        imp.acquire_lock()
        imp.acquire_lock()  # re-entrant
        assert imp.lock_held()
        imp.release_lock()
        assert imp.lock_held()
        imp.release_lock()
        assert not imp.lock_held()
    kind, value = same(lambda imp: imp.release_lock())  # not held
    assert kind == "raised" and value[0] is RuntimeError


def test_null_importer() -> None:
    with scratch() as directory:
        file = directory / "file"
        file.write_text("")
        for path in ("", str(directory)):
            kind, value = same(lambda imp: imp.NullImporter(path))  # noqa: B023
            assert kind == "raised" and value[0] is ImportError
        for path in (str(file), str(directory / "missing")):
            kind, value = same(lambda imp: type(imp.NullImporter(path)).__name__)  # noqa: B023
            assert kind == "ok"
            same(lambda imp: imp.NullImporter(path).find_module("x"))  # noqa: B023


# -- find_module ------------------------------------------------------------------------


def found(imp: types.ModuleType, name: str, path: list[Any] | None) -> object:
    """find_module's tuple, its file described (and read, and closed)."""
    file, pathname, description = imp.find_module(name, path)
    if file is None:
        return None, pathname, description
    with file:
        if "b" in file.mode:
            data = file.read()
            content: object = (data[:4], len(data))  # a pyc's mtime field may differ
        else:
            content = file.read()
        return (
            (type(file).__name__, file.mode, getattr(file, "encoding", None), file.name, content),
            pathname,
            description,
        )


ENCODINGS = ["utf-8", "latin-1", "iso-8859-15", "cp1252", "BOM", "no cookie", "bogus-codec"]


@SETTINGS
@given(
    stem=identifiers,
    encoding=st.sampled_from(ENCODINGS),
    text=st.text(st.characters(min_codepoint=0xA0, max_codepoint=0xFF), max_size=10),
    source=sources,
)
def test_find_module_of_a_source_then_load_module(
    stem: str, encoding: str, text: str, source: str, bytecode_on: None
) -> None:
    """The text file find_module opens has the source's encoding (coding
    cookie, BOM, UTF-8 default) and reads the same text; load_module of
    it gives the same module."""
    if encoding == "BOM":
        data = ("\ufeff" + f"T = {text!r}\nA = 'caf\u00e9'\n" + source).encode("utf-8")
    else:
        cookie = "" if encoding == "no cookie" else f"# -*- coding: {encoding} -*-\n"
        codec = "utf-8" if encoding in ("no cookie", "bogus-codec") else encoding
        # the characters as they are, not escaped: the decoding counts
        body = f"{cookie}T = '{text}'\nA = 'caf\u00e9'\n{source}"
        data = body.encode(codec, errors="backslashreplace")  # one the codec lacks: escaped

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        first = found(imp, name, [str(root)])
        file, pathname, description = imp.find_module(name, [str(root)])
        try:
            module = imp.load_module(name, file, pathname, description)
        finally:
            closed = file.closed
            file.close()
        assert Path(importlib.util.cache_from_source(pathname)).exists()  # bytecode was on
        return first, module, closed

    real, mine = run_both(lambda root, name: (root / f"{name}.py").write_bytes(data), act, stem)
    assert mine == real
    assert real[0] == ("raised" if encoding == "bogus-codec" else "ok")


KINDS = [
    "nothing",
    "missing directory",
    "source",
    "pyc",
    "package",
    "sourceless package",
    "package and source",
    "namespace directory",
    "extension",
    "abi3 extension",
    "bare file",
    "directory named like a source",
]


def build_kind(kind: str, directory: Path, name: str) -> None:
    """Make *name* in *directory* as *kind* of :data:`KINDS`."""
    if kind == "missing directory":
        return
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "source":
        write(directory / f"{name}.py", f"K = {str(directory)!r}\n")
    elif kind == "pyc":
        compile_to("K = 'pyc'\n", directory, directory / f"{name}.pyc")
    elif kind in ("package", "package and source"):
        write(directory / name / "__init__.py", "K = 'package'\n")
        if kind == "package and source":
            write(directory / f"{name}.py", "K = 'source'\n")
    elif kind == "sourceless package":
        compile_to("K = 'sourceless'\n", directory, directory / name / "__init__.pyc")
    elif kind == "namespace directory":
        write(directory / name / "inside.py", "K = 'inside'\n")  # no __init__: not a package
    elif kind == "extension":
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        (directory / f"{name}{suffix}").write_bytes(b"\x7fELF not really")
    elif kind == "abi3 extension":
        (directory / f"{name}.abi3.so").write_bytes(b"\x7fELF not really")
    elif kind == "bare file":
        (directory / name).write_text("K = 'bare'\n")
    elif kind == "directory named like a source":
        (directory / f"{name}.py").mkdir()


@SETTINGS
@given(stem=identifiers, kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))
def test_find_module_in_path_entries(stem: str, kinds: list[str]) -> None:
    """The first entry holding a package or a module file, in imp's order
    (package, then the suffixes of get_suffixes), else ImportError."""

    def build(root: Path, name: str) -> None:
        for i, kind in enumerate(kinds):
            build_kind(kind, root / f"d{i}", name)

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        return found(imp, name, [str(root / f"d{i}") for i in range(len(kinds))])

    real, mine = run_both(build, act, stem)
    assert mine == real


def test_find_module_of_nothing_is_an_import_error_naming_the_module() -> None:
    real, mine = run_both(lambda root, name: None, lambda imp, root, name: found(imp, name, []))
    assert mine == real
    assert real[0] == "raised" and real[1][0] is ImportError and real[1][2] == "<name>"


EXTENSION_MODULE = importlib.import_module("array")
#: The array extension module's file (PyInit_array): copies keep its base name.
EXTENSION = Path(EXTENSION_MODULE.__file__ or "")


@pytest.mark.parametrize("suffix", importlib.machinery.EXTENSION_SUFFIXES)
def test_find_module_of_an_extension_module(suffix: str) -> None:
    """A copy of the array extension (PyInit_array), under each suffix."""
    real, mine = run_both(
        lambda root, name: shutil.copy(EXTENSION, root / f"{name}{suffix}"),
        lambda imp, root, name: found(imp, name, [str(root)]),
        name="array",
    )
    assert mine == real
    assert real[0] == "ok" and real[1][2] == (suffix, "rb", real_imp.C_EXTENSION)


@pytest.mark.parametrize(
    ("name", "path"),
    [(b"bytes", None), (42, None), ("x", ("a", "tuple")), ("x", "a string"), ("x", {"a": 1})],
)
def test_find_module_bad_arguments(name: object, path: object) -> None:
    kind, value = same(lambda imp: imp.find_module(name, path))
    assert kind == "raised" and value[0] is (TypeError if path is None else RuntimeError)


# -- load_source, load_compiled, load_module ------------------------------------------------


@SETTINGS
@given(
    stem=identifiers, source=sources, again=sources, file_mode=st.sampled_from([None, "r", "rb"])
)
def test_load_source_new_then_again_in_place(
    stem: str, source: str, again: str, file_mode: str | None, bytecode_on: None
) -> None:
    """A new module, then (a different-size rewrite, the module in
    sys.modules) the same module object run again; *file* given or not."""

    def load(imp: types.ModuleType, path: Path, name: str) -> tuple[types.ModuleType, object]:
        if file_mode is None:
            return imp.load_source(name, str(path)), None
        with open(path, file_mode) as file:
            module = imp.load_source(name, str(path), file)
            return module, file.closed

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        path = root / f"{name}.py"
        first, first_closed = load(imp, path, name)
        first_attributes = attributes(first)
        assert Path(importlib.util.cache_from_source(str(path))).exists()  # bytecode was on
        write(path, again + "SECOND = 2\n" + "#" * len(source.encode()))
        second, second_closed = load(imp, path, name)
        return first_attributes, first_closed, second is first, second, second_closed

    real, mine = run_both(lambda root, name: write(root / f"{name}.py", source), act, stem)
    assert mine == real
    assert real[0] == "ok"


@pytest.mark.parametrize("again", [False, True], ids=["new", "in place"])
@pytest.mark.parametrize(
    "source", ["x = = 1\n", "X = 1\nraise KeyError('boom')\n", "import nope_x_missing\n"]
)
def test_load_source_errors(source: str, again: bool) -> None:
    """A module new to sys.modules is removed again; one run again keeps
    what its code set before the error."""

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        path = root / f"{name}.py"
        if again:
            imp.load_source(name, str(path))
            write(path, "BEFORE = 1\n" + source)
        result = outcome(lambda: imp.load_source(name, str(path)))
        assert (name in sys.modules) is again
        return result, sys.modules.get(name)

    first = "OK = 1\n" if again else source
    real, mine = run_both(lambda root, name: write(root / f"{name}.py", first), act)
    assert mine == real
    assert real[0] == "ok" and real[1][0][0] == "raised"


def test_load_source_of_a_missing_file() -> None:
    real, mine = run_both(
        lambda root, name: None, lambda imp, root, name: imp.load_source(name, str(root / "no.py"))
    )
    assert mine == real
    assert real[0] == "raised" and real[1][0] is FileNotFoundError


@SETTINGS
@given(
    stem=identifiers,
    source=sources,
    layout=st.sampled_from(["source", "pyc", "package", "sourceless package"]),
)
def test_find_module_then_load_module(
    stem: str, source: str, layout: str, bytecode_on: None
) -> None:
    """PY_SOURCE, PY_COMPILED, PKG_DIRECTORY through find_module; the file
    closed (or not) alike."""

    def build(root: Path, name: str) -> None:
        if layout == "source":
            write(root / f"{name}.py", source)
        elif layout == "package":
            write(root / name / "__init__.py", source)
        elif layout == "pyc":
            compile_to(source, root, root / f"{name}.pyc")
        else:
            compile_to(source, root, root / name / "__init__.pyc")

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        file, pathname, description = imp.find_module(name, [str(root)])
        try:
            module = imp.load_module(name, file, pathname, description)
        finally:
            closed = None if file is None else file.closed
            if file is not None:
                file.close()
        if layout in ("source", "package"):
            init = root / name / "__init__.py" if layout == "package" else root / f"{name}.py"
            assert Path(importlib.util.cache_from_source(str(init))).exists()  # bytecode was on
        return description, module, closed

    real, mine = run_both(build, act, stem)
    assert mine == real
    assert real[0] == "ok"


@pytest.mark.parametrize(
    ("file", "details"),
    [
        ("open", (".py", "w", 1)),
        ("open", (".py", "r+", 1)),
        ("open", (".py", "rb+", 1)),
        ("open", (".py", "a", 1)),
        (None, (".py", "r", 1)),
        (None, (".pyc", "rb", 2)),
        (None, ("", "", 1)),
        (None, ("", "", 99)),
        (None, ("", "", 4)),
        (None, ("", "", 0)),
        ("open", ("", "", 8)),
        (None, (".py", "rb", 3)),
    ],
)
def test_load_module_bad_details(file: str | None, details: tuple[str, str, int]) -> None:
    """Bad modes and missing files: ValueError; unknown types: ImportError."""

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        path = root / f"{name}.py"
        if file is None:
            return imp.load_module(name, None, str(path), details)
        with open(path) as f:
            return imp.load_module(name, f, str(path), details)

    real, mine = run_both(lambda root, name: write(root / f"{name}.py", "X = 1\n"), act)
    assert mine == real
    assert real[0] == "raised" and real[1][0] in (ValueError, ImportError)


@pytest.mark.parametrize("name", ["_imp", "nope_x_builtin", "__hello__", "__phello__"])
def test_find_module_then_load_module_of_builtin_and_frozen(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """C_BUILTIN and PY_FROZEN (a missing built-in: init_builtin's None)."""
    results = []
    for imp in BOTH:
        sys.modules.pop(name, None)
        details = ("", "", imp.C_BUILTIN) if name.startswith("nope") else imp.find_module(name)[2]
        kind, value = outcome(lambda: describe(imp.load_module(name, None, None, details)))  # noqa: B023
        results.append((details, kind, value, capsys.readouterr().out))
    assert results[1] == results[0]
    assert results[0][1] == "ok"


@pytest.mark.parametrize("with_file", [False, True], ids=["file None", "file given"])
@pytest.mark.parametrize("suffix", importlib.machinery.EXTENSION_SUFFIXES)
def test_find_module_then_load_module_of_an_extension_module(suffix: str, with_file: bool) -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        file, pathname, description = imp.find_module(name, [str(root)])
        with file:
            module = imp.load_module(name, file if with_file else None, pathname, description)
        seen = attributes(module)
        assert module is not EXTENSION_MODULE
        return as_311_extension(imp, seen)

    real, mine = run_both(
        lambda root, name: shutil.copy(EXTENSION, root / f"{name}{suffix}"), act, name="array"
    )
    assert mine == real
    assert real[0] == "ok"


def as_311_extension(imp: types.ModuleType, seen: dict[str, Any]) -> dict[str, Any]:
    """zombie-imp's load_dynamic builds its spec with spec_from_file_location,
    so its module has a location (``__file__``); 3.11's imp, which
    modwrite.imp follows, made a bare ``ModuleSpec(origin=path)``: undone
    for the real imp on 3.12+ (after checking it is that and only that)."""
    if imp is real_imp and ZOMBIE:
        assert seen["__file__"] == seen["spec"]["origin"]
        assert seen["spec"]["has_location"] is True
        seen["__file__"] = "<absent>"
        seen["spec"]["has_location"] = False
    return seen


def test_load_dynamic() -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        so = root / EXTENSION.name
        module = imp.load_dynamic(name, str(so))
        assert module is not EXTENSION_MODULE  # always a new module (issue #24748)
        again = imp.load_dynamic(name, str(so), None)
        missing = outcome(lambda: imp.load_dynamic(name, str(root / "no.so")))
        return as_311_extension(imp, attributes(module)), again is module, missing

    real, mine = run_both(lambda root, name: shutil.copy(EXTENSION, root), act, name="array")
    assert mine == real
    assert real[0] == "ok" and real[1][2][0] == "raised"


@pytest.mark.parametrize("with_file", [False, True], ids=["file None", "file given"])
@pytest.mark.parametrize("content", ["good", "bad magic", "truncated", "empty"])
def test_load_compiled(content: str, with_file: bool) -> None:
    def build(root: Path, name: str) -> None:
        compile_to("C = 3\ndef f():\n    return C\n", root, root / f"{name}.pyc")
        data = (root / f"{name}.pyc").read_bytes()
        if content == "bad magic":
            (root / f"{name}.pyc").write_bytes(b"\0\0\r\n" + data[4:])
        elif content == "truncated":
            (root / f"{name}.pyc").write_bytes(data[:10])
        elif content == "empty":
            (root / f"{name}.pyc").write_bytes(b"")

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        path = root / f"{name}.pyc"
        if not with_file:
            return imp.load_compiled(name, str(path))
        with open(path, "rb") as file:
            result = outcome(lambda: imp.load_compiled(name, str(path), file))
            return result, file.closed

    real, mine = run_both(build, act)
    assert mine == real
    kind = real[1][0][0] if with_file else real[0]
    assert kind == ("ok" if content == "good" else "raised")


# -- load_package and a package tree ---------------------------------------------------


@SETTINGS
@given(
    stem=identifiers,
    source=sources,
    how=st.sampled_from(
        [
            "directory",
            "init file",
            "sourceless directory",
            "sourceless init file",
            "source and bytecode directory",
            "directory without __init__",
            "missing",
        ]
    ),
)
def test_load_package(stem: str, source: str, how: str, bytecode_on: None) -> None:
    def build(root: Path, name: str) -> None:
        (root / name).mkdir()
        if how in ("directory", "init file", "source and bytecode directory"):
            write(root / name / "__init__.py", source)
        if how in (
            "sourceless directory",
            "sourceless init file",
            "source and bytecode directory",
        ):
            compile_to(source + "B = 1\n", root, root / name / "__init__.pyc")

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        target = {
            "init file": root / name / "__init__.py",
            "sourceless init file": root / name / "__init__.pyc",
            "missing": root / "missing" / "__init__.py",
        }.get(how, root / name)
        module = imp.load_package(name, str(target))
        if how in ("directory", "init file", "source and bytecode directory"):
            assert Path(importlib.util.cache_from_source(module.__file__)).exists()
        return module

    real, mine = run_both(build, act, stem)
    assert mine == real
    assert real[0] == ("raised" if how in ("directory without __init__", "missing") else "ok")


@pytest.mark.parametrize("target", ["directory", "init file"])
def test_load_package_by_a_relative_path(target: str, bytecode_on: None) -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        cwd = os.getcwd()
        os.chdir(root)
        try:
            return imp.load_package(name, name if target == "directory" else f"{name}/__init__.py")
        finally:
            os.chdir(cwd)

    real, mine = run_both(lambda root, name: write(root / name / "__init__.py", "P = 1\n"), act)
    assert mine == real
    assert real[0] == "ok"


@pytest.mark.parametrize("target", ["directory", "init file"])
def test_load_package_by_a_path_like(target: str, bytecode_on: None) -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        return imp.load_package(
            name, root / name if target == "directory" else root / name / "__init__.py"
        )

    real, mine = run_both(lambda root, name: write(root / name / "__init__.py", "P = 1\n"), act)
    assert mine == real
    assert real[0] == "ok"


def test_load_package_of_a_file_of_no_known_suffix() -> None:
    real, mine = run_both(
        lambda root, name: write(root / name / "__init__.txt", "P = 1\n"),
        lambda imp, root, name: imp.load_package(name, str(root / name / "__init__.txt")),
    )
    assert mine == real
    assert real[0] == "raised"


Tree = Union[str, tuple[str, dict[str, Any]]]
modules = st.recursive(
    sources,
    lambda children: st.tuples(
        sources, st.dictionaries(identifiers.map(lambda s: "s_" + s), children, max_size=3)
    ),
    max_leaves=6,
)
packages = st.tuples(
    sources, st.dictionaries(identifiers.map(lambda s: "s_" + s), modules, max_size=3)
)


def build_tree(directory: Path, tree: Tree) -> None:
    """A module (a source) or a package (``(init source, children)``)."""
    if isinstance(tree, str):
        write(directory.with_suffix(".py"), tree + "WHO = __name__\n")
        return
    init, children = tree
    write(directory / "__init__.py", init + "WHO = (__name__, __package__)\n")
    for child, subtree in children.items():
        build_tree(directory / child, subtree)


@SETTINGS
@given(stem=identifiers, tree=packages)
def test_a_package_tree_by_load_package_find_module_and_load_module(
    stem: str, tree: tuple[str, dict[str, Any]], bytecode_on: None
) -> None:
    """load_package of the top, then each submodule and subpackage by
    find_module(child, parent.__path__) and load_module(dotted name)."""

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        top = imp.load_package(name, str(root / name))
        loaded: dict[str, object] = {name: top}

        def walk(parent_name: str, parent: types.ModuleType, children: dict[str, Any]) -> None:
            for child, subtree in sorted(children.items()):
                file, pathname, description = imp.find_module(child, parent.__path__)
                try:
                    module = imp.load_module(f"{parent_name}.{child}", file, pathname, description)
                finally:
                    if file is not None:
                        file.close()
                loaded[module.__name__] = (description, module)
                if not isinstance(subtree, str):
                    walk(module.__name__, module, subtree[1])

        walk(name, top, tree[1])
        return loaded

    real, mine = run_both(lambda root, name: build_tree(root / name, tree), act, stem)
    assert mine == real
    assert real[0] == "ok"
    assert any(p[0].endswith(".pyc") for p in real[2] if isinstance(p, tuple))  # bytecode on


# -- reload -------------------------------------------------------------------------------


@contextmanager
def on_sys_path(root: Path) -> Iterator[None]:
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))


def rewrite_later(path: Path, text: str) -> None:
    """Rewrite *path* to a different size with an mtime 10 s later: no
    staleness can be involved."""
    before = path.stat()
    path.write_text(text)
    assert path.stat().st_size != before.st_size
    os.utime(path, (before.st_mtime + 10, before.st_mtime + 10))


@SETTINGS
@given(
    stem=identifiers,
    source=sources,
    edited=sources,
    layout=st.sampled_from(["module", "package", "submodule"]),
)
def test_reload_of_a_module_on_sys_path(
    stem: str, source: str, edited: str, layout: str, bytecode_on: None
) -> None:
    def file_of(root: Path, name: str) -> Path:
        return {
            "module": root / f"{name}.py",
            "package": root / name / "__init__.py",
            "submodule": root / name / "sub.py",
        }[layout]

    def build(root: Path, name: str) -> None:
        write(file_of(root, name), source)
        if layout == "submodule":
            write(root / name / "__init__.py", "")

    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        dotted = f"{name}.sub" if layout == "submodule" else name
        with on_sys_path(root):
            module = importlib.import_module(dotted)
            before = attributes(module)
            path = file_of(root, name)
            assert Path(importlib.util.cache_from_source(str(path))).exists()  # bytecode on
            rewrite_later(path, edited + "RELOADED = True\n" + "#" * len(source.encode()))
            reloaded = imp.reload(module)
            return before, reloaded is module, reloaded

    real, mine = run_both(build, act, stem)
    assert mine == real
    assert real[0] == "ok"


def test_reload_of_a_namespace_package() -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        with on_sys_path(root):
            module = importlib.import_module(name)
            (root / "elsewhere" / name).mkdir(parents=True)
            sys.path.append(str(root / "elsewhere"))
            try:
                return imp.reload(module)
            finally:
                sys.path.remove(str(root / "elsewhere"))

    real, mine = run_both(lambda root, name: (root / name).mkdir(), act)
    assert mine == real
    assert real[0] == "ok"


def test_reload_errors() -> None:
    """Not a module: TypeError; not in sys.modules, parent not in
    sys.modules: ImportError; found nowhere: ModuleNotFoundError."""
    kinds = [same(lambda imp: imp.reload(types.ModuleType("nope_x_not_loaded")))]
    kinds.append(same(lambda imp: imp.reload(42)))
    orphan = types.ModuleType("nope_x_parent.child")
    sys.modules["nope_x_parent.child"] = orphan
    kinds.append(same(lambda imp: imp.reload(orphan)))
    loose = types.ModuleType("nope_x_loose")
    sys.modules["nope_x_loose"] = loose
    kinds.append(same(lambda imp: imp.reload(loose)))
    assert [(kind, value[0]) for kind, value in kinds] == [
        ("raised", ImportError),
        ("raised", TypeError),
        ("raised", ImportError),
        ("raised", ModuleNotFoundError),
    ]


def test_reload_of_a_module_loaded_from_outside_sys_path() -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        return imp.reload(imp.load_source(name, str(root / f"{name}.py")))

    real, mine = run_both(lambda root, name: write(root / f"{name}.py", "X = 1\n"), act)
    assert mine == real
    assert real[0] == "raised"


class LegacyFinder:
    """A PEP 302 meta path finder and loader: find_module/load_module only
    (importlib used them, with a warning, up to 3.11)."""

    def find_module(self, name: str, path: object = None) -> LegacyFinder | None:
        return self if name.startswith("mwd") and name.endswith(("_real", "_mine")) else None

    def load_module(self, name: str) -> types.ModuleType:
        module = sys.modules[name]
        module.LOADS = getattr(module, "LOADS", 0) + 1
        return module


def test_reload_through_a_legacy_meta_path_finder() -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        module = sys.modules[name] = types.ModuleType(name)
        sys.meta_path.insert(0, LegacyFinder())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # find_module() fallback, load_module()
                return imp.reload(module), getattr(module, "LOADS", None)
        finally:
            del sys.meta_path[0]

    real, mine = run_both(lambda root, name: None, act)
    assert mine == real


class LockSpy:
    """A meta path finder that finds nothing and records whether the import
    lock is held while it is asked."""

    seen: ClassVar[list[bool]] = []

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name.startswith("mwd"):
            self.seen.append(_imp.lock_held())


def test_reload_asks_the_finders_under_the_import_lock(bytecode_on: None) -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        with on_sys_path(root):
            module = importlib.import_module(name)
            LockSpy.seen.clear()
            sys.meta_path.insert(0, LockSpy())
            try:
                return imp.reload(module), list(LockSpy.seen)
            finally:
                del sys.meta_path[0]

    real, mine = run_both(lambda root, name: write(root / f"{name}.py", "X = 1\n"), act)
    assert mine == real
    assert real[0] == "ok"


def test_reload_with_an_empty_meta_path_warns() -> None:
    def act(imp: types.ModuleType, root: Path, name: str) -> object:
        module = sys.modules[name] = types.ModuleType(name)
        saved = sys.meta_path[:]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sys.meta_path[:] = []
            try:
                result = outcome(lambda: imp.reload(module))
            finally:
                sys.meta_path[:] = saved
        return result, [(w.category, str(w.message)) for w in caught]

    real, mine = run_both(lambda root, name: None, act)
    assert mine == real
    assert real[0] == "ok" and real[1][0][0] == "raised"
