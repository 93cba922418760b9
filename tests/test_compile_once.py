"""[issue 7.1] Compile once: the code object that validated a source is the
one that runs (write_and_import) and the one the bytecode cache holds
(write_module, write_package), for the stock machinery and modwrite's.

Bytecode writing is on in every test that looks at a pyc, and each proves it
(the pyc exists, or the child asserts ``not sys.dont_write_bytecode``).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import marshal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import CodeType
from unittest import mock

import pytest

import modwrite
from modwrite import _compile_once, _reload
from modwrite._write import ModuleLanded

from .conftest import child_env

SOURCE = "X = 1\n\ndef f():\n    return X\n"


@pytest.fixture
def compiles() -> Iterator[list[str]]:
    """The paths the import system compiles (``SourceLoader.source_to_code``,
    which the stock loader and modwrite.machinery's both call)."""
    external = sys.modules["importlib._bootstrap_external"]
    original = external.SourceLoader.source_to_code
    seen: list[str] = []

    def source_to_code(self: object, data: bytes, path: str, **kwargs: object) -> object:
        seen.append(str(path))
        return original(self, data, path, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(external.SourceLoader, "source_to_code", source_to_code):
        yield seen


def _pyc(path: Path) -> bytes:
    pyc = Path(importlib.util.cache_from_source(str(path)))
    assert pyc.exists(), "no pyc: bytecode writing was off"
    return pyc.read_bytes()


def _is_checked_hash_pyc_of(data: bytes, source: bytes) -> bool:
    return (
        data[:4] == importlib.util.MAGIC_NUMBER
        and int.from_bytes(data[4:8], "little") == 0b11
        and data[8:16] == importlib.util.source_hash(source)
    )


# -- write_and_import runs the validation code object --------------------------------


@pytest.fixture
def landed() -> Iterator[list[ModuleLanded]]:
    """What each write_and_import() landed (its code object among it)."""
    seen: list[ModuleLanded] = []
    real = _reload.land_module

    def land_module(*args: object, **kwargs: object) -> ModuleLanded:
        seen.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return seen[-1]

    with mock.patch.object(_reload, "land_module", land_module):
        yield seen


def _function_code(module_code: CodeType) -> CodeType:
    return next(c for c in module_code.co_consts if isinstance(c, CodeType))


@pytest.mark.parametrize("machinery", ["stock", "installed"])
@pytest.mark.parametrize("bytecode", [True, False])
def test_write_and_import_runs_the_validation_code_object(
    root: Path,
    unique_name: str,
    bytecode_on: None,
    compiles: list[str],
    landed: list[ModuleLanded],
    machinery: str,
    bytecode: bool,
) -> None:
    if machinery == "installed":
        modwrite.install()
    try:
        module = modwrite.write_and_import(
            unique_name, SOURCE, root=root, visibility="process", bytecode=bytecode
        )
        first_f = module.f
        reloaded = modwrite.write_and_import(
            unique_name, SOURCE.replace("1", "2"), root=root, visibility="process"
        )
    finally:
        if machinery == "installed":
            modwrite.uninstall()
    path = str(root / f"{unique_name}.py")
    assert (reloaded is module, module.X, module.f()) == (True, 2, 2)
    assert compiles == []
    # Not read back from a pyc either: the very code objects compiled to validate.
    assert first_f.__code__ is _function_code(landed[0].code)
    assert module.f.__code__ is _function_code(landed[1].code)
    # What a plain import sets, and a plain loader afterwards.
    assert module.__file__ == path
    assert module.__cached__ == importlib.util.cache_from_source(path)
    assert module.__spec__.origin == path
    assert sys.modules[unique_name] is module
    loader_type = type(module.__loader__)
    assert loader_type is type(module.__spec__.loader)
    assert loader_type.__name__ == "SourceFileLoader"
    assert loader_type is not _compile_once.CompiledSourceLoader
    assert module.f.__code__.co_filename == path


def test_a_new_module_in_new_parents_is_set_on_its_parent(
    root: Path, unique_name: str, bytecode_on: None, compiles: list[str]
) -> None:
    module = modwrite.write_and_import(
        f"{unique_name}.sub.mod", "Y = 3\n", root=root, visibility="process", parents=True
    )
    assert module.Y == 3
    assert sys.modules[f"{unique_name}.sub"].mod is module
    # The parents' __init__ files came with their bytecode too.
    assert compiles == []
    for init in (root / unique_name / "__init__.py", root / unique_name / "sub" / "__init__.py"):
        assert _is_checked_hash_pyc_of(_pyc(init), b"")


def test_the_file_changed_since_the_write_is_compiled_from_disk(
    root: Path, unique_name: str, bytecode_on: None, compiles: list[str]
) -> None:
    """Another writer replaced the file between the landing and the import:
    the loader sees a different file and compiles it, as a plain import
    would."""
    real = _reload.land_module

    def land_then_replaced(*args: object, **kwargs: object) -> object:
        landed = real(*args, **kwargs)  # type: ignore[arg-type]
        Path(landed.path).write_text("X = 'replaced'\n")
        return landed

    with mock.patch.object(_reload, "land_module", land_then_replaced):
        module = modwrite.write_and_import(unique_name, "X = 1\n", root=root, visibility="process")
    assert module.X == "replaced"
    assert compiles == [str(root / f"{unique_name}.py")]


def test_a_module_found_elsewhere_first_is_imported_as_it_is(
    root: Path, tmp_path: Path, unique_name: str
) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / f"{unique_name}.py").write_text("WHERE = 'earlier'\n")
    sys.path.insert(0, str(earlier))
    module = modwrite.write_and_import(
        unique_name, "WHERE = 'root'\n", root=root, visibility="process"
    )
    assert module.WHERE == "earlier"


def test_pytests_assertion_rewriter_still_rewrites(
    root: Path, unique_name: str, compiles: list[str]
) -> None:
    """A test module written this way is still rewritten by pytest's import
    hook (it is on sys.meta_path while these tests run)."""
    assert any(type(f).__name__ == "AssertionRewritingHook" for f in sys.meta_path)
    name = f"test_{unique_name}"
    module = modwrite.write_and_import(
        name, "def test_it():\n    x = 1\n    assert x == 2\n", root=root, visibility="process"
    )
    assert type(module.__loader__).__name__ == "AssertionRewritingHook"
    with pytest.raises(AssertionError) as raised:
        module.test_it()
    assert "assert 1 == 2" in str(raised.value)  # the rewritten message


def test_the_finder_answers_only_for_the_pending_import(root: Path, unique_name: str) -> None:
    modwrite.write_and_import(unique_name, "", root=root, visibility="process")
    finders = [f for f in sys.meta_path if isinstance(f, _compile_once.CompiledSourceFinder)]
    assert len(finders) == 1
    (root / "other_mod_mw.py").write_text("")
    assert finders[0].find_spec("other_mod_mw") is None
    assert finders[0].find_spec(unique_name) is None  # nothing pending
    # Dropped by a restore of sys.meta_path, it comes back once.
    sys.meta_path.remove(finders[0])
    modwrite.write_and_import(unique_name, "X = 1\n", root=root, visibility="process")
    assert sum(isinstance(f, _compile_once.CompiledSourceFinder) for f in sys.meta_path) == 1


# -- the bytecode cache written at write time ------------------------------------------


def test_write_module_writes_a_checked_hash_pyc_of_the_landed_bytes(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """Also when the stamp rule padded the file (three same-size rewrites in
    one second): the hash is of the bytes on disk."""
    started = time.monotonic()
    for value in (1, 2, 3, 4):
        path = modwrite.write_module(
            unique_name, f"V = {value}\n", root=root, visibility="process"
        )
        assert _is_checked_hash_pyc_of(_pyc(path), path.read_bytes())
    assert time.monotonic() - started < 1.0
    assert path.read_bytes() != b"V = 4\n"  # padded: the case was exercised
    code = marshal.loads(_pyc(path)[16:])
    assert code.co_filename == str(path)


def test_write_package_lands_the_pycs_with_the_tree(root: Path, bytecode_on: None) -> None:
    target = modwrite.write_package(
        "pkg_pyc", {"a": "A = 1\n", "sub.b": "B = 2\n", "data.txt": "x"}, root=root
    )
    for source in ("__init__.py", "a.py", "sub/b.py"):
        path = target / source
        assert _is_checked_hash_pyc_of(_pyc(path), path.read_bytes())
    assert not (target / "__pycache__" / "data.txt").exists()


def test_a_callers_pycache_file_in_a_package_is_not_overwritten(
    root: Path, bytecode_on: None
) -> None:
    tag = sys.implementation.cache_tag
    files = {"a": "A = 1\n", f"__pycache__/a.{tag}.pyc": b"mine"}
    target = modwrite.write_package("pkg_own_pyc", files, root=root)
    assert (target / "__pycache__" / f"a.{tag}.pyc").read_bytes() == b"mine"


@pytest.mark.parametrize("how", ["keyword", "dont_write_bytecode"])
def test_no_pyc_when_turned_off(root: Path, unique_name: str, how: str) -> None:
    sys.dont_write_bytecode = how == "dont_write_bytecode"
    path = modwrite.write_module(unique_name, "X = 1\n", root=root, bytecode=how != "keyword")
    modwrite.write_package(f"{unique_name}_pkg", {"a": ""}, root=root, bytecode=how != "keyword")
    assert list(root.rglob("*.pyc")) == []
    assert path.exists()


def test_the_pyc_goes_under_pycache_prefix(
    root: Path, tmp_path: Path, unique_name: str, bytecode_on: None
) -> None:
    sys.pycache_prefix = str(tmp_path / "prefix")
    path = modwrite.write_module(unique_name, "X = 1\n", root=root)
    assert _is_checked_hash_pyc_of(_pyc(path), path.read_bytes())
    assert str(importlib.util.cache_from_source(str(path))).startswith(sys.pycache_prefix)
    assert list(root.rglob("*.pyc")) == []


_CHILD = """
import importlib, sys
assert not sys.dont_write_bytecode
sys.path.insert(0, sys.argv[1])
if sys.argv[3] == "installed":
    import modwrite
    modwrite.install()
external = sys.modules["importlib._bootstrap_external"]
compiled = []
original = external.SourceLoader.source_to_code
def source_to_code(self, data, path, **kwargs):
    compiled.append(path)
    return original(self, data, path, **kwargs)
external.SourceLoader.source_to_code = source_to_code
module = importlib.import_module(sys.argv[2])
print(module.V, len(compiled))
"""


@pytest.mark.parametrize("machinery", ["stock", "installed"])
def test_a_fresh_process_does_not_compile_a_written_module(
    root: Path, unique_name: str, bytecode_on: None, machinery: str
) -> None:
    modwrite.write_package(unique_name, {"__init__": "", "m": "V = 1\n"}, root=root)
    modwrite.write_module(f"{unique_name}.m", "V = 2\n", root=root)  # a same-size rewrite
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), f"{unique_name}.m", machinery],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["2", "0"]


# -- the code object is compiled as the import system compiles it ----------------------


def test_a_syntax_error_shows_the_new_sources_line(root: Path, unique_name: str) -> None:
    """The source is compiled under its real path: a compiler error that
    CPython fills from the named file would show the old version's line."""
    modwrite.write_module(unique_name, "x = 1\ny = 2\n", root=root)
    with pytest.raises(modwrite.ModuleSyntaxError) as raised:
        modwrite.write_module(unique_name, "x = 1\nreturn 5\n", root=root)
    assert raised.value.lineno == 2
    assert raised.value.text == "return 5\n"
    assert raised.value.filename == str(root / f"{unique_name}.py")
    assert (root / f"{unique_name}.py").read_text() == "x = 1\ny = 2\n"


def test_the_code_matches_what_the_import_system_compiles(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    source = "# -*- coding: latin-1 -*-\nS = 'caf\xe9'\ndef f():\n    '''doc'''\n    return S\n"
    path = modwrite.write_module(unique_name, source, root=root)
    loader = importlib.machinery.SourceFileLoader(unique_name, str(path))
    expected = loader.source_to_code(path.read_bytes(), str(path))
    assert marshal.loads(_pyc(path)[16:]) == expected
