"""The pytest plugin's ``modwrite_root`` fixture, and the import state it
restores (:mod:`modwrite._isolation`).

The suite below writes modules and packages of the same names in every
test; run in shuffled orders it passes with the fixture (also under
pytest-xdist) and fails with the naive one (``tmp_path`` plus
``monkeypatch.syspath_prepend``, pytest #10854).
"""

from __future__ import annotations

import importlib
import linecache
import sys
from pathlib import Path

import pytest

import modwrite
from modwrite._isolation import ImportState
from modwrite.pytest_plugin import ImportRoot

pytest_plugins = ["pytester"]

SUITE = """
import importlib
import sys

import pytest

N = 12


@pytest.mark.parametrize("i", range(N))
def test_module(i, where):
    where.write_module("helper", f"VALUE = {i}\\n")
    import helper
    assert helper.VALUE == i


@pytest.mark.parametrize("i", range(N))
def test_package(i, where):
    where.write_package("pkg", {"__init__.py": "", "sub.py": f"VALUE = {i}\\n"})
    from pkg import sub
    assert sub.VALUE == i


@pytest.mark.parametrize("i", range(N))
def test_submodule_of_a_loaded_package(i, where):
    where.write_package("pkg", {"__init__.py": f"TOP = {i}\\n"})
    import pkg
    assert pkg.TOP == i
    where.write_module("pkg.extra", f"VALUE = {i}\\n")
    import pkg.extra
    assert pkg.extra.VALUE == i
"""

CONFTEST = '''
import os
import random
import sys

import pytest

import modwrite
import modwrite._isolation

modwrite.write_module  # the write path, loaded before any test's snapshot


class Naive:
    """tmp_path + monkeypatch.syspath_prepend: what pytest offers."""

    def __init__(self, path):
        self.path = path

    def write_module(self, name, source):
        return modwrite.write_module(name, source, root=self.path, visibility="process")

    def write_package(self, name, files):
        return modwrite.write_package(name, files, root=self.path, visibility="process")


@pytest.fixture
def where(request):
    if os.environ.get("FIXTURE") == "naive":
        tmp_path = request.getfixturevalue("tmp_path")
        request.getfixturevalue("monkeypatch").syspath_prepend(str(tmp_path))
        return Naive(tmp_path)
    return request.getfixturevalue("modwrite_root")


def pytest_collection_modifyitems(items):
    random.Random(int(os.environ.get("SHUFFLE_SEED", "0"))).shuffle(items)


@pytest.fixture(autouse=True)
def import_state_is_kept():
    """After each test, the import state is as before it."""
    before = (
        dict(sys.modules),
        list(sys.path),
        dict(sys.path_importer_cache),
        {n: set(vars(m)) for n, m in sys.modules.items() if hasattr(m, "__path__")},
    )
    yield
    if os.environ.get("FIXTURE") == "naive":
        return
    modules, path, cache, package_names = before
    assert sys.modules == modules
    assert sys.path == path
    assert sys.path_importer_cache == cache
    assert {n: set(vars(sys.modules[n])) for n in package_names} == package_names
'''


def _run(pytester: pytest.Pytester, fixture: str, seed: int, *args: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    pytester.syspathinsert()  # the suite's directory: not needed, but as a user's would be
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIXTURE", fixture)
        mp.setenv("SHUFFLE_SEED", str(seed))
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", *args)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_names_in_shuffled_orders_pass_with_the_fixture(
    pytester: pytest.Pytester, seed: int
) -> None:
    result = _run(pytester, "modwrite", seed)
    result.assert_outcomes(passed=36)


def test_same_names_pass_under_xdist(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "modwrite", 4, "-n", "2")
    result.assert_outcomes(passed=36)


def test_same_names_fail_with_the_naive_fixture(pytester: pytest.Pytester) -> None:
    """Control: the suite can fail, and does without the fixture."""
    result = _run(pytester, "naive", 1)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 10, outcomes


# -- ImportState --------------------------------------------------------------------


def test_restore_drops_added_modules_and_parent_attributes(root: Path, unique_name: str) -> None:
    modwrite.write_package(unique_name, {"__init__.py": "", "old.py": "V = 1\n"}, root=root)
    package = importlib.import_module(unique_name)
    old = importlib.import_module(f"{unique_name}.old")
    state = ImportState.capture()
    modwrite.write_module(f"{unique_name}.new", "V = 2\n", root=root)
    new = importlib.import_module(f"{unique_name}.new")
    assert package.new is new
    del sys.modules[f"{unique_name}.old"]
    replacement = importlib.import_module(f"{unique_name}.old")
    assert replacement is not old and package.old is replacement
    sys.path.insert(0, "/nonexistent/modwrite-test")
    sys.path_importer_cache["/nonexistent/modwrite-test"] = None
    linecache.cache["/nonexistent/modwrite-test/x.py"] = (1, None, ["x\n"], "x.py")
    state.restore()
    assert f"{unique_name}.new" not in sys.modules and not hasattr(package, "new")
    assert sys.modules[f"{unique_name}.old"] is old and package.old is old
    assert "/nonexistent/modwrite-test" not in sys.path
    assert "/nonexistent/modwrite-test" not in sys.path_importer_cache
    assert "/nonexistent/modwrite-test/x.py" not in linecache.cache


def test_restore_puts_back_removed_modules_and_changed_finders(
    root: Path, unique_name: str
) -> None:
    modwrite.write_module(unique_name, "V = 1\n", root=root)
    module = importlib.import_module(unique_name)
    finder = sys.path_importer_cache[str(root)]
    state = ImportState.capture()
    del sys.modules[unique_name]
    sys.path_importer_cache[str(root)] = None
    state.restore()
    assert sys.modules[unique_name] is module
    assert sys.path_importer_cache[str(root)] is finder


def test_fixture_object(modwrite_root: ImportRoot, unique_name: str) -> None:
    assert str(modwrite_root.path) == sys.path[0]
    assert modwrite_root.write_module(unique_name, "V = 1\n").name == f"{unique_name}.py"
    assert modwrite_root.write_and_import(unique_name, "V = 2\n").V == 2
    assert modwrite_root.write_package(f"{unique_name}_pkg", {"__init__.py": ""}).is_dir()
    assert repr(modwrite_root).startswith("<ImportRoot ")


def test_plugin_loads_when_modwrite_was_imported_first(pytester: pytest.Pytester) -> None:
    """A sitecustomize that installs the machinery imports modwrite before
    pytest marks its plugins' packages for assertion rewriting: no warning
    (PYTEST_DONT_REWRITE), so -W error still runs."""
    pytester.makepyfile(test_a="def test_a():\n    assert True\n")
    program = (
        "import sys, modwrite, pytest\n"
        "sys.exit(pytest.main(['-W', 'error', '-q', '-p', 'no:cacheprovider', 'test_a.py']))\n"
    )
    result = pytester.run(sys.executable, "-c", program)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert "1 passed" in result.stdout.str()
