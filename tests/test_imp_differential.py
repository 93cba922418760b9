"""modwrite.imp side by side with the real imp: every function, the same
inputs, equal results, equal module attributes, the same exception types
and messages.

The real imp is the standard library's up to 3.11 and zombie-imp's copy of
it on 3.12+ (a test dependency there).  Each call is made on both, in
separate directories under separate module names (``_real`` / ``_mine``
suffixes, normalised away when comparing), with bytecode writing on.  The
one expected difference, the loader's class (modwrite's subclass of the
stock one), is compared with ``isinstance``; the freshness fixes are shown
in test_imp.py.
"""

from __future__ import annotations

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
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modwrite.imp

from .property.strategies import identifiers

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import imp as real_imp

SETTINGS = settings(max_examples=25, deadline=None)
#: The reference is zombie-imp (3.12+), not the standard library's imp.
ZOMBIE = sys.version_info >= (3, 12)
SUFFIX = {id(real_imp): "_real", id(modwrite.imp): "_mine"}
BOTH = (real_imp, modwrite.imp)
_counter = iter(range(10**9))


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", result)`` or ``("raised", (type, str(exception)))``."""
    try:
        return "ok", call()
    except Exception as exc:  # any exception is a result to compare
        return "raised", (type(exc), str(exc))


def same(call: Callable[[types.ModuleType], Any]) -> Any:
    """Call *call* with each imp; assert equal outcomes; return the result."""
    real, mine = (outcome(lambda imp=imp: call(imp)) for imp in BOTH)
    assert mine == real
    return mine


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh directory (hypothesis reuses function-scoped fixtures)."""
    directory = Path(tempfile.mkdtemp(prefix="imp-diff-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def unique(stem: str) -> str:
    return f"{stem}_{next(_counter)}"


STOCK_LOADERS = (
    importlib.machinery.SourceFileLoader,
    importlib.machinery.SourcelessFileLoader,
    importlib.machinery.ExtensionFileLoader,
    importlib.machinery.BuiltinImporter,
    importlib.machinery.FrozenImporter,
)


def attributes(module: types.ModuleType, root: Path, suffix: str) -> dict[str, object]:
    """What the real imp and modwrite.imp must agree on, with *root* (the
    implementation's own directory) and the name *suffix* normalised away."""

    def norm(value: object) -> object:
        if isinstance(value, str):
            return value.replace(str(root), "<root>").replace(suffix, "")
        if isinstance(value, (list, tuple)) or type(value).__name__ == "_NamespacePath":
            return [norm(v) for v in value]  # type: ignore[union-attr]
        return value

    spec = module.__spec__
    loader = module.__loader__
    own = {
        k: v
        for k, v in vars(module).items()
        if not k.startswith("__") and isinstance(v, (int, str, float, bytes, tuple))
    }
    return {
        "__name__": norm(module.__name__),
        "__file__": norm(getattr(module, "__file__", None)),
        "__cached__": norm(getattr(module, "__cached__", "<absent>")),
        "__package__": norm(module.__package__),
        "__path__": norm(list(getattr(module, "__path__", ["<absent>"]))),
        "spec": None
        if spec is None
        else (
            norm(spec.name),
            norm(spec.origin),
            norm(spec.submodule_search_locations),
            norm(spec.cached),
            spec.has_location,
            norm(spec.parent),
            spec.loader is loader,
        ),
        "loader kind": [isinstance(loader, kind) for kind in STOCK_LOADERS],
        "loader": (norm(getattr(loader, "name", None)), norm(getattr(loader, "path", None))),
        "in sys.modules": sys.modules.get(module.__name__) is module,
        "own": {k: norm(v) for k, v in own.items()},
    }


def per_implementation(
    stem: str, build: Callable[[Path, str], object]
) -> Iterator[tuple[types.ModuleType, Path, str, str]]:
    """For the real imp, then modwrite.imp: ``(imp, root, suffix, name)``,
    *root* a directory of its own in which *build* made the files of the
    module *name* (a fresh name ending in *suffix*)."""
    with scratch() as base:
        stem = unique(stem)
        for imp in BOTH:
            suffix = SUFFIX[id(imp)]
            root = base / suffix.strip("_")
            root.mkdir()
            build(root, stem + suffix)
            yield imp, root, suffix, stem + suffix


def load_both(
    build: Callable[[Path, str], object],
    load: Callable[[types.ModuleType, Path, str], types.ModuleType],
    stem: str = "mod",
) -> tuple[dict[str, object], dict[str, object]]:
    """Build the same files in a directory per implementation (*build*
    gets the directory and the module name), load with each, and return
    both modules' attributes, or both outcomes when one raised."""
    results = []
    for imp, root, suffix, name in per_implementation(stem, build):
        kind, value = outcome(lambda: load(imp, root, name))  # noqa: B023  # called at once
        if kind == "ok":
            results.append(("ok", attributes(value, root, suffix)))
        else:
            exc_type, message = value
            message = message.replace(str(root), "<root>").replace(suffix, "")
            results.append(("raised", (exc_type, message)))
    return results[0], results[1]


sources = st.lists(
    st.tuples(
        identifiers.map(lambda s: "v_" + s),
        st.one_of(
            st.integers(), st.text(max_size=8), st.floats(allow_nan=False), st.binary(max_size=4)
        ),
    ),
    max_size=5,
).map(lambda pairs: "".join(f"{name} = {value!r}\n" for name, value in pairs))


# -- functions of no files -------------------------------------------------------------


def test_the_constants_are_the_real_ones() -> None:
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


def test_magic_tag_and_suffixes() -> None:
    same(lambda imp: imp.get_magic())
    same(lambda imp: imp.get_tag())
    same(lambda imp: imp.get_suffixes())


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


@given(name=identifiers)
@SETTINGS
def test_new_module(name: str) -> None:
    real, mine = real_imp.new_module(name), modwrite.imp.new_module(name)
    assert (type(mine), vars(mine).keys(), mine.__name__) == (
        type(real),
        vars(real).keys(),
        real.__name__,
    )
    assert name not in sys.modules or sys.modules[name] is not mine


@pytest.mark.parametrize(
    "name", ["sys", "_imp", "builtins", "__hello__", "__phello__", "_frozen_importlib", "nope_x"]
)
def test_builtin_and_frozen_queries(name: str) -> None:
    same(lambda imp: imp.is_builtin(name))
    same(lambda imp: imp.is_frozen(name))
    same(lambda imp: imp.is_frozen_package(name))
    same(lambda imp: imp.find_module(name))  # built-in, frozen, else sys.path


def test_init_builtin() -> None:
    real, mine = real_imp.init_builtin("_imp"), modwrite.imp.init_builtin("_imp")
    assert (mine.__name__, type(mine.__loader__)) == (real.__name__, type(real.__loader__))
    assert same(lambda imp: imp.init_builtin("nope_x")) == ("ok", None)


def test_init_frozen(capsys: pytest.CaptureFixture[str]) -> None:
    results = []
    for imp in BOTH:
        sys.modules.pop("__hello__", None)
        module = imp.init_frozen("__hello__")
        results.append((module.__name__, sorted(vars(module)), capsys.readouterr().out))
    assert results[1] == results[0]
    same(lambda imp: imp.init_frozen("nope_x"))


def test_the_import_lock() -> None:
    for imp in BOTH:
        assert not imp.lock_held()
        imp.acquire_lock()
        assert imp.lock_held()
        imp.release_lock()
        assert not imp.lock_held()
    same(lambda imp: imp.release_lock())  # not held: RuntimeError


def test_null_importer(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("")
    same(lambda imp: imp.NullImporter(""))
    same(lambda imp: imp.NullImporter(str(tmp_path)))
    same(lambda imp: imp.NullImporter(str(file)).find_module("x"))
    same(lambda imp: imp.NullImporter(str(tmp_path / "missing")).find_module("x"))


# -- find_module ------------------------------------------------------------------------


def _find(imp: types.ModuleType, root: Path, name: str, path: object = None) -> object:
    file, pathname, description = imp.find_module(name, [str(root)] if path is None else path)
    try:
        opened = None if file is None else (file.mode, getattr(file, "encoding", None), file.name)
        first = None if file is None else file.read(8)
    finally:
        if file is not None:
            file.close()
    return opened, pathname, description, first


def _norm_found(found: object, root: Path, suffix: str) -> object:
    return repr(found).replace(str(root), "<root>").replace(suffix, "")


def find_both(build: Callable[[Path, str], object], **kwargs: object) -> None:
    outcomes = []
    for imp, root, suffix, name in per_implementation("found", build):
        kind, value = outcome(lambda: _find(imp, root, name, **kwargs))  # noqa: B023
        outcomes.append((kind, _norm_found(value, root, suffix)))
    assert outcomes[1] == outcomes[0]


@SETTINGS
@given(source=sources, encoding=st.sampled_from(["utf-8", "latin-1", "cp1252"]))
def test_find_module_of_a_source(source: str, encoding: str) -> None:
    text = f"# -*- coding: {encoding} -*-\nA = 'caf\u00e9'\n{source}"
    find_both(
        lambda root, name: (root / f"{name}.py").write_bytes(
            text.encode(encoding, errors="backslashreplace")  # a literal the codec lacks: escaped
        )
    )


@SETTINGS
@given(
    layout=st.sampled_from(
        ["package", "sourceless package", "pyc", "nothing", "both", "namespace directory"]
    )
)
def test_find_module_of_other_layouts(layout: str) -> None:
    def build(root: Path, name: str) -> None:
        if layout == "namespace directory":
            (root / name).mkdir()  # no __init__: imp finds no package there
            (root / name / "inside.py").write_text("I = 1\n")
        if layout in ("package", "both"):
            (root / name).mkdir()
            (root / name / "__init__.py").write_text("P = 1\n")
        if layout == "sourceless package":
            (root / name).mkdir()
            (root / "src.py").write_text("P = 2\n")
            py_compile.compile(str(root / "src.py"), cfile=str(root / name / "__init__.pyc"))
        if layout in ("pyc", "both"):
            (root / "src.py").write_text("P = 3\n")
            py_compile.compile(str(root / "src.py"), cfile=str(root / f"{name}.pyc"))

    find_both(build)


def test_find_module_of_an_extension_module(tmp_path: Path) -> None:
    import array

    so = Path(array.__file__)
    for imp in BOTH:
        directory = tmp_path / SUFFIX[id(imp)]
        directory.mkdir()
        shutil.copy(so, directory / so.name)
    found = [
        _norm_found(
            _find(imp, tmp_path / SUFFIX[id(imp)], "array"), tmp_path / SUFFIX[id(imp)], ""
        )
        for imp in BOTH
    ]
    assert found[1] == found[0]


@pytest.mark.parametrize(
    ("name", "path"),
    [(b"bytes", None), (42, None), ("x", ("a", "tuple")), ("x", "a string")],
)
def test_find_module_bad_arguments(name: object, path: object) -> None:
    same(lambda imp: imp.find_module(name, path))


# -- loading -----------------------------------------------------------------------------


@SETTINGS
@given(source=sources)
def test_load_source_new_then_again_in_place(source: str) -> None:
    sys.dont_write_bytecode = False

    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        first = imp.load_source(name, str(root / f"{name}.py"))
        (root / f"{name}.py").write_text(source + "SECOND = 2\n")
        again = imp.load_source(name, str(root / f"{name}.py"))
        assert again is first
        assert Path(importlib.util.cache_from_source(str(root / f"{name}.py"))).exists()
        return again

    real, mine = load_both(lambda root, name: (root / f"{name}.py").write_text(source), load)
    assert mine == real


@pytest.mark.parametrize(
    "source", ["x = = 1\n", "raise KeyError('boom')\n", "import nope_x_missing\n"]
)
def test_load_source_errors(source: str) -> None:
    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        try:
            return imp.load_source(name, str(root / f"{name}.py"))
        finally:
            assert name not in sys.modules

    real, mine = load_both(lambda root, name: (root / f"{name}.py").write_text(source), load)
    assert mine == real
    assert real[0] == "raised"


def test_load_source_of_a_missing_file() -> None:
    real, mine = load_both(
        lambda root, name: None, lambda imp, root, name: imp.load_source(name, str(root / "no.py"))
    )
    assert mine == real and real[0] == "raised"


@SETTINGS
@given(source=sources, layout=st.sampled_from(["source", "package", "pyc", "sourceless package"]))
def test_find_module_then_load_module(source: str, layout: str) -> None:
    sys.dont_write_bytecode = False

    def build(root: Path, name: str) -> None:
        if layout == "source":
            (root / f"{name}.py").write_text(source)
        elif layout == "package":
            (root / name).mkdir()
            (root / name / "__init__.py").write_text(source)
        else:
            (root / "src.py").write_text(source)
            target = root / (f"{name}.pyc" if layout == "pyc" else f"{name}/__init__.pyc")
            target.parent.mkdir(exist_ok=True)
            py_compile.compile(str(root / "src.py"), cfile=str(target))

    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        file, pathname, description = imp.find_module(name, [str(root)])
        try:
            module: types.ModuleType = imp.load_module(name, file, pathname, description)
            return module
        finally:
            if file is not None:
                file.close()

    real, mine = load_both(build, load)
    assert mine == real


@pytest.mark.parametrize(
    ("file", "details"),
    [
        ("open", (".py", "w", 1)),
        ("open", (".py", "r+", 1)),
        (None, (".py", "r", 1)),
        (None, (".pyc", "rb", 2)),
        (None, ("", "", 99)),
        (None, ("", "", 4)),
    ],
)
def test_load_module_bad_details(file: str | None, details: tuple[str, str, int]) -> None:
    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        path = root / f"{name}.py"
        if file is None:
            module: types.ModuleType = imp.load_module(name, None, str(path), details)
            return module
        with open(path) as f:
            module = imp.load_module(name, f, str(path), details)
            return module

    real, mine = load_both(lambda root, name: (root / f"{name}.py").write_text("X = 1\n"), load)
    assert mine == real and real[0] == "raised"


@pytest.mark.parametrize("details", [("", "", 6), ("", "", 7)], ids=["C_BUILTIN", "PY_FROZEN"])
def test_load_module_of_builtin_and_frozen(details: tuple[str, str, int]) -> None:
    name = "_imp" if details[2] == 6 else "__hello__"
    results = []
    for imp in BOTH:
        module = imp.load_module(name, None, "", details)
        spec = module.__spec__
        results.append((module.__name__, type(module.__loader__), getattr(spec, "origin", None)))
    assert results[1] == results[0]


@SETTINGS
@given(source=sources, how=st.sampled_from(["directory", "init file", "sourceless", "empty"]))
def test_load_package(source: str, how: str) -> None:
    sys.dont_write_bytecode = False

    def build(root: Path, name: str) -> None:
        (root / name).mkdir()
        if how in ("directory", "init file"):
            (root / name / "__init__.py").write_text(source)
        elif how == "sourceless":
            (root / "src.py").write_text(source)
            py_compile.compile(str(root / "src.py"), cfile=str(root / name / "__init__.pyc"))

    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        target = root / name / "__init__.py" if how == "init file" else root / name
        module: types.ModuleType = imp.load_package(name, str(target))
        return module

    real, mine = load_both(build, load)
    assert mine == real


@pytest.mark.parametrize("content", ["good", "bad magic", "truncated"])
def test_load_compiled(content: str) -> None:
    def build(root: Path, name: str) -> None:
        (root / "src.py").write_text("C = 3\n")
        py_compile.compile(str(root / "src.py"), cfile=str(root / f"{name}.pyc"))
        data = (root / f"{name}.pyc").read_bytes()
        if content == "bad magic":
            (root / f"{name}.pyc").write_bytes(b"\0\0\0\0" + data[4:])
        elif content == "truncated":
            (root / f"{name}.pyc").write_bytes(data[:10])

    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        module: types.ModuleType = imp.load_compiled(name, str(root / f"{name}.pyc"))
        return module

    real, mine = load_both(build, load)
    assert mine == real


def test_load_dynamic(tmp_path: Path) -> None:
    import array

    so = Path(array.__file__)
    saved = sys.modules["array"]
    results = []
    try:
        for imp in BOTH:
            directory = tmp_path / SUFFIX[id(imp)]
            directory.mkdir()
            shutil.copy(so, directory / so.name)
            module = imp.load_dynamic("array", str(directory / so.name))
            assert module is not saved
            seen = attributes(module, directory, "")
            if imp is real_imp and ZOMBIE:
                # zombie-imp builds this spec with spec_from_file_location, so
                # its module has a location (__file__); 3.11's imp, which
                # modwrite.imp matches, made a bare ModuleSpec(origin=path).
                assert seen["__file__"] == f"<root>/{so.name}"
                assert seen["spec"][4] is True  # type: ignore[index]
                seen["__file__"] = None
                seen["spec"] = (*seen["spec"][:4], False, *seen["spec"][5:])  # type: ignore[index]
            results.append(seen)
            kind, (exc_type, message) = outcome(
                lambda: imp.load_dynamic("array", str(directory / "no.so"))  # noqa: B023
            )
            results.append((kind, exc_type, message.replace(str(directory), "<root>")))
    finally:
        sys.modules["array"] = saved
    assert results[2:] == results[:2]


# -- reload ---------------------------------------------------------------------------------


@SETTINGS
@given(source=sources)
def test_reload_of_a_module_on_sys_path(source: str) -> None:
    sys.dont_write_bytecode = False

    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(name)
            # a different size and a later mtime: no staleness involved
            (root / f"{name}.py").write_text(source + "RELOADED = True\n")
            os.utime(root / f"{name}.py", (os.stat(root).st_mtime + 10,) * 2)
            reloaded: types.ModuleType = imp.reload(module)
            assert reloaded is module and module.RELOADED
            return reloaded
        finally:
            sys.path.remove(str(root))

    real, mine = load_both(lambda root, name: (root / f"{name}.py").write_text(source), load)
    assert mine == real


def test_reload_of_a_namespace_package() -> None:
    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(name)
            (root / "elsewhere" / name).mkdir(parents=True)
            sys.path.append(str(root / "elsewhere"))
            reloaded: types.ModuleType = imp.reload(module)
            return reloaded
        finally:
            sys.path[:] = [p for p in sys.path if not p.startswith(str(root))]

    real, mine = load_both(lambda root, name: (root / name).mkdir(), load)
    assert mine == real
    assert real[0] == "ok"


def test_reload_errors() -> None:
    same(lambda imp: imp.reload(types.ModuleType("nope_x_not_loaded")))
    same(lambda imp: imp.reload(42))
    orphan = types.ModuleType("nope_x_parent.child")
    sys.modules["nope_x_parent.child"] = orphan
    same(lambda imp: imp.reload(orphan))
    loose = types.ModuleType("nope_x_loose")
    sys.modules["nope_x_loose"] = loose
    same(lambda imp: imp.reload(loose))  # no spec found: ModuleNotFoundError


def test_reload_of_a_module_loaded_from_outside_sys_path() -> None:
    def load(imp: types.ModuleType, root: Path, name: str) -> types.ModuleType:
        module = imp.load_source(name, str(root / f"{name}.py"))
        reloaded: types.ModuleType = imp.reload(module)
        return reloaded

    real, mine = load_both(lambda root, name: (root / f"{name}.py").write_text("X = 1\n"), load)
    assert mine == real
