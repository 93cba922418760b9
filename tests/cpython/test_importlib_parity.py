"""CPython's own importlib tests, run against modwrite.machinery (G7).

The interpreter's ``test.test_importlib`` builds each test class twice with
``util.test_both``: ``Frozen_<Name>`` and ``Source_<Name>``, the second
bound to the pure-Python ``importlib.machinery``.  For every ``Source_``
class of the modules below, this module builds ``Modwrite_<Name>``: the
same mixin and base, the same class attributes, with ``machinery`` bound to
:mod:`modwrite.machinery` (plus the names it leaves to the standard library,
such as ``ModuleSpec`` and ``BuiltinImporter``).  No test code is copied:
it is imported from the running interpreter.

Exclusions are listed in ``EXCLUDED`` with a reason each.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import unittest
import unittest.mock
from typing import Any

import pytest

import modwrite
from modwrite import machinery as modwrite_machinery

#: The CPython test modules run against modwrite's machinery.
MODULES = [
    "test.test_importlib.source.test_finder",
    "test.test_importlib.source.test_file_loader",
    "test.test_importlib.source.test_path_hook",
    "test.test_importlib.source.test_case_sensitivity",
    "test.test_importlib.source.test_source_encoding",
    "test.test_importlib.extension.test_finder",
    "test.test_importlib.extension.test_loader",
    "test.test_importlib.extension.test_path_hook",
    "test.test_importlib.extension.test_case_sensitivity",
    "test.test_importlib.import_.test_path",
]

_UNSETTLED = (
    "the test's pyc is written in the second its source changed: modwrite's "
    "SourceFileLoader does not trust it (SETTLED_S) and compiles the source "
    "instead of reading the corrupt marshal data the test expects to fail on"
)

#: CPython test modules that exercise the import system as a whole
#: (``importlib.import_module``, ``__import__``, ``reload``, namespace
#: packages): their ``Frozen_`` classes, or plain ``TestCase`` classes, run
#: with modwrite's machinery installed.
INSTALLED_MODULES = [
    "test.test_importlib.test_api",
    "test.test_importlib.test_namespace_pkgs",
    "test.test_importlib.import_.test_packages",
    "test.test_importlib.import_.test_relative_imports",
    "test.test_importlib.import_.test_caching",
    "test.test_importlib.import_.test_fromlist",
    "test.test_importlib.import_.test___package__",
]

#: (test class name, test method name or "*") -> why it does not apply.
EXCLUDED: dict[tuple[str, str], str] = {
    (f"Modwrite_SourceLoaderBadBytecodeTest{pep}", method): _UNSETTLED
    for pep in ("PEP451", "PEP302")
    for method in ("test_bad_marshal", "test_no_marshal", "test_non_code_marshal")
}
_CASE_INSENSITIVE = (
    "checks PYTHONCASEOK on a case-insensitive filesystem, which CPython honours "
    "only on Windows, Cygwin and macOS (the test would skip itself here); the "
    "Linux case rules are tested on a case-insensitive mount in "
    "tests/test_case_insensitive.py"
)
for _name in ("Modwrite_CaseSensitivityTestPEP451", "Modwrite_CaseSensitivityTestPEP302"):
    for _method in ("test_insensitive", "test_sensitive"):
        EXCLUDED[(_name, _method)] = _CASE_INSENSITIVE
for _method in ("test_case_insensitivity", "test_case_sensitive"):
    EXCLUDED[("Modwrite_ExtensionModuleCaseSensitivityTest", _method)] = _CASE_INSENSITIVE


def _machinery() -> types.ModuleType:
    """importlib.machinery with modwrite's classes in place of its own."""
    combined = types.ModuleType("modwrite_machinery_for_cpython_tests")
    for name in dir(importlib.machinery):
        if not name.startswith("__"):
            setattr(combined, name, getattr(importlib.machinery, name))
    for name in modwrite_machinery.__all__:
        setattr(combined, name, getattr(modwrite_machinery, name))
    return combined


_MACHINERY = _machinery()


def _specialize(source_class: type[Any]) -> type[Any]:
    mixin, base = source_class.__bases__[:2]
    attributes = {
        name: value
        for name, value in vars(source_class).items()
        if not name.startswith("__") and name not in ("_KIND",)
    }
    attributes["machinery"] = _MACHINERY
    attributes["_KIND"] = "Modwrite"
    attributes["__module__"] = __name__
    name = "Modwrite_" + source_class.__name__[len("Source_") :]
    specialized = type(name, (mixin, base), attributes)
    _exclude(specialized)
    return specialized


def _exclude(specialized: type[Any]) -> None:
    """Remove the excluded tests (listed with their reasons in EXCLUDED), so
    that nothing in the report is a skip."""
    for (class_name, method), _reason in EXCLUDED.items():
        if class_name == specialized.__name__ and hasattr(specialized, method):
            setattr(specialized, method, None)
            _EXCLUDED_FOUND.add((class_name, method))


_EXCLUDED_FOUND: set[tuple[str, str]] = set()


def _with_modwrite_installed(test_class: type[Any], name: str) -> type[Any]:
    def setUp(self: Any) -> None:
        test_class.setUp(self)
        modwrite.install()
        self.addCleanup(modwrite.uninstall)

    return type(name, (test_class,), {"setUp": setUp, "__module__": __name__})


def _collect_installed() -> dict[str, type[Any]]:
    classes: dict[str, type[Any]] = {}
    for module_name in INSTALLED_MODULES:
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, False
        try:
            module = importlib.import_module(module_name)
        finally:
            sys.dont_write_bytecode = saved
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, unittest.TestCase)):
                continue
            if value.__module__ != module.__name__ or value.__name__.startswith("Source_"):
                continue
            if not any(n.startswith("test") for n in dir(value)):
                continue
            short = module_name.rsplit(".", 1)[-1]
            name = f"Installed_{value.__name__}"
            classes[f"{short}_{name}"] = _with_modwrite_installed(value, name)
    return classes


def _collect() -> dict[str, type[Any]]:
    classes: dict[str, type[Any]] = {}
    for module_name in MODULES:
        # util.writes_bytecode_files decides at import time to skip when
        # bytecode writing is off: import the modules with it on.
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, False
        try:
            module = importlib.import_module(module_name)  # missing: an error, not a skip
        finally:
            sys.dont_write_bytecode = saved
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__name__.startswith("Source_")
                and issubclass(value, unittest.TestCase)
                and len(value.__bases__) >= 2
            ):
                specialized = _specialize(value)
                classes[f"{module_name.rsplit('.', 2)[-2]}_{specialized.__name__}"] = specialized
    return classes


@pytest.fixture(autouse=True)
def bytecode_writing_on() -> Any:
    """The tests that write bytecode skip themselves when it is off (and
    PYTHONDONTWRITEBYTECODE is set on the development machines)."""
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, False
    yield
    sys.dont_write_bytecode = saved


_SPECIALIZED = _collect()
_INSTALLED = _collect_installed()
globals().update(_SPECIALIZED)
globals().update(_INSTALLED)


def test_the_yardstick_is_really_there() -> None:
    """The interpreter's test suite was found, and every exclusion still
    names a test that exists (a stale one would hide nothing and prove
    nothing)."""
    assert len(_SPECIALIZED) >= len(MODULES)
    assert len(_INSTALLED) >= len(INSTALLED_MODULES)
    built = {cls.__name__ for cls in _SPECIALIZED.values()}
    assert {key for key in EXCLUDED if key[0] in built} == _EXCLUDED_FOUND
    assert _EXCLUDED_FOUND  # the exclusions apply to this CPython
