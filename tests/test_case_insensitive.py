"""Case rules of imports on a case-insensitive, case-preserving filesystem.

On Linux, CPython's ``FileFinder`` is case-sensitive even where the
filesystem is not: it looks a module name up in its cached *listing* of the
directory (the stored, case-preserved names) before it stats anything, so
``import camelmod`` does not find ``CamelMod.py`` although
``open("camelmod.py")`` would. (``PYTHONCASEOK`` and the relaxed,
lower-cased listing exist only on Windows, Cygwin and macOS.)
modwrite's machinery must keep exactly these rules, and its writes must be
consistent with them.

Runs on the case-insensitive tickfs mount (vfat/NTFS/APFS-like, see
:mod:`tests.fskit.tickfs`); needs root, like the other fskit tests.
"""

from __future__ import annotations

import errno
import importlib
import importlib.machinery
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import modwrite
from modwrite import machinery

# "coarse" is the marker of every test that needs an fskit mount.
pytestmark = [pytest.mark.coarse, pytest.mark.timeout(120)]

STOCK = "stock"
MODWRITE = "modwrite"


@pytest.fixture
def ci_root(case_insensitive_dir: Path) -> Path:
    """A fresh directory on the case-insensitive mount, first on sys.path."""
    sys.path.insert(0, str(case_insensitive_dir))
    importlib.invalidate_caches()
    return case_insensitive_dir


@pytest.fixture(params=[STOCK, MODWRITE])
def import_system(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs once with CPython's stock machinery, once with modwrite's."""
    if request.param == MODWRITE:
        with modwrite.install():
            yield MODWRITE
    else:
        assert not modwrite.installed()
        yield STOCK


def _import(name: str, system: str) -> ModuleType:
    """A fresh import of *name* (anything cached for it dropped first)."""
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]
    if system == STOCK:
        importlib.invalidate_caches()
    return importlib.import_module(name)


def _outcome(name: str, system: str) -> str:
    """``"found <origin>"`` or ``"missing"`` for a fresh import of *name*."""
    try:
        module = _import(name, system)
    except ModuleNotFoundError as exc:
        assert exc.name in (name, name.partition(".")[0]), exc
        assert name not in sys.modules
        return "missing"
    return f"found {Path(module.__spec__.origin).relative_to(sys.path[0])}"


def _loader_class(system: str) -> type:
    if system == MODWRITE:
        return machinery.SourceFileLoader
    return importlib.machinery.SourceFileLoader


def _sources(directory: Path) -> list[str]:
    """The entries of *directory* as listed, bytecode caches aside."""
    return sorted(n for n in os.listdir(directory) if n != "__pycache__")


def test_the_mount_is_case_insensitive_and_case_preserving(ci_root: Path) -> None:
    (ci_root / "CamelMod.py").write_text("V = 1\n")
    assert (ci_root / "camelmod.py").read_text() == "V = 1\n"
    assert os.listdir(ci_root) == ["CamelMod.py"]


def test_module_names_match_file_names_case_sensitively(ci_root: Path, import_system: str) -> None:
    (ci_root / "CamelMod.py").write_text("V = 'CamelMod'\n")
    module = _import("CamelMod", import_system)
    assert module.V == "CamelMod"
    assert module.__file__ == str(ci_root / "CamelMod.py")
    assert type(module.__spec__.loader) is _loader_class(import_system)
    for spelling in ("camelmod", "CAMELMOD", "camelMod", "Camelmod"):
        # The filesystem would open the file under that name...
        assert (ci_root / f"{spelling}.py").is_file()
        # ...but the import system does not look it up under that name.
        with pytest.raises(ModuleNotFoundError) as missing:
            _import(spelling, import_system)
        assert missing.value.name == spelling
        assert spelling not in sys.modules


def test_package_names_match_directory_names_case_sensitively(
    ci_root: Path, import_system: str
) -> None:
    (ci_root / "CamelPkg").mkdir()
    (ci_root / "CamelPkg" / "__init__.py").write_text("V = 'CamelPkg'\n")
    (ci_root / "CamelPkg" / "SubMod.py").write_text("V = 'SubMod'\n")
    package = _import("CamelPkg", import_system)
    assert package.V == "CamelPkg"
    assert package.__path__ == [str(ci_root / "CamelPkg")]
    assert type(package.__spec__.loader) is _loader_class(import_system)
    assert _import("CamelPkg.SubMod", import_system).V == "SubMod"
    for spelling in ("camelpkg", "CAMELPKG", "camelPkg"):
        assert (ci_root / spelling / "__init__.py").is_file()
        with pytest.raises(ModuleNotFoundError) as missing:
            _import(spelling, import_system)
        assert missing.value.name == spelling
    # Inside the package too: its finder lists CamelPkg/ and matches exactly.
    with pytest.raises(ModuleNotFoundError) as missing:
        _import("CamelPkg.submod", import_system)
    assert missing.value.name == "CamelPkg.submod"


def test_stock_and_modwrite_agree_on_every_spelling(ci_root: Path) -> None:
    (ci_root / "CamelMod.py").write_text("")
    (ci_root / "CamelPkg").mkdir()
    (ci_root / "CamelPkg" / "__init__.py").write_text("")
    (ci_root / "CamelPkg" / "SubMod.py").write_text("")
    (ci_root / "CamelNs").mkdir()  # a namespace package: no __init__.py
    (ci_root / "CamelNs" / "Part.py").write_text("")
    spellings = [
        "CamelMod", "camelmod", "CAMELMOD",
        "CamelPkg", "camelpkg", "CamelPkg.SubMod", "CamelPkg.submod",
        "CamelNs.Part", "camelns.Part", "CamelNs.part",
    ]  # fmt: skip
    stock = {name: _outcome(name, STOCK) for name in spellings}
    with modwrite.install():
        ours = {name: _outcome(name, MODWRITE) for name in spellings}
    assert ours == stock
    assert stock == {
        "CamelMod": "found CamelMod.py",
        "camelmod": "missing",
        "CAMELMOD": "missing",
        "CamelPkg": "found CamelPkg/__init__.py",
        "camelpkg": "missing",
        "CamelPkg.SubMod": "found CamelPkg/SubMod.py",
        "CamelPkg.submod": "missing",
        "CamelNs.Part": "found CamelNs/Part.py",
        "camelns.Part": "missing",
        "CamelNs.part": "missing",
    }


# -- modwrite's writes of case variants ----------------------------------------------


def test_write_module_of_a_case_variant_replaces_the_existing_file(
    ci_root: Path, import_system: str, unique_name: str
) -> None:
    """``write_module("foo")`` after ``Foo.py`` exists: the filesystem has one
    entry for both names, so the atomic replace lands on ``Foo.py`` and the
    entry takes the new spelling (tickfs renames like NTFS and APFS). No error;
    the module written last is the one importable, under its own name only,
    for both import systems, at once."""
    upper, lower = f"Foo_{unique_name}", f"foo_{unique_name}"
    first = modwrite.write_module(upper, "V = 'upper'\n", root=ci_root)
    assert first == ci_root / f"{upper}.py"
    assert _import(upper, import_system).V == "upper"

    second = modwrite.write_module(lower, "V = 'lower'\n", root=ci_root)
    assert second == ci_root / f"{lower}.py"
    assert _sources(ci_root) == [f"{lower}.py"]
    assert second.read_text() == "V = 'lower'\n"
    assert _import(lower, import_system).V == "lower"
    with pytest.raises(ModuleNotFoundError):
        _import(upper, import_system)  # its file is gone (replaced by the variant)

    # And back again.
    modwrite.write_module(upper, "V = 'upper again'\n", root=ci_root)
    assert _sources(ci_root) == [f"{upper}.py"]
    assert _import(upper, import_system).V == "upper again"
    with pytest.raises(ModuleNotFoundError):
        _import(lower, import_system)


def test_write_module_beside_a_case_variant_package_is_a_conflict(
    ci_root: Path, import_system: str, unique_name: str
) -> None:
    """modwrite's shadowing checks stat the names, so on this filesystem they
    see case variants: stricter than the import system (which would not let
    ``Foo_x/`` shadow ``foo_x.py`` on Linux), but a documented error, raised
    before anything is written."""
    upper, lower = f"Foo_{unique_name}", f"foo_{unique_name}"
    modwrite.write_package(upper, {"__init__": "V = 'package'\n"}, root=ci_root)
    with pytest.raises(modwrite.ModuleConflictError) as conflict:
        modwrite.write_module(lower, "V = 'module'\n", root=ci_root)
    assert conflict.value.errno == errno.EEXIST
    assert conflict.value.filename == str(ci_root / lower)
    assert _sources(ci_root) == [upper]
    assert _import(upper, import_system).V == "package"

    other_upper, other_lower = f"Bar_{unique_name}", f"bar_{unique_name}"
    modwrite.write_module(other_upper, "V = 'module'\n", root=ci_root)
    with pytest.raises(modwrite.ModuleConflictError) as conflict:
        modwrite.write_package(other_lower, {"__init__": ""}, root=ci_root)
    assert conflict.value.errno == errno.EEXIST
    assert conflict.value.filename == str(ci_root / f"{other_lower}.py")
    assert _sources(ci_root) == sorted([upper, f"{other_upper}.py"])
    assert _import(other_upper, import_system).V == "module"


def test_process_visibility_writes_of_case_variants_agree_with_the_stock_finder(
    ci_root: Path, unique_name: str
) -> None:
    """[own write over a case variant] modwrite's finder adds its own writes
    to its listing in O(1); where the filesystem folds case, a write may have
    replaced an entry spelled otherwise, so it reads the listing again."""
    upper, lower = f"Foo_{unique_name}", f"foo_{unique_name}"
    with modwrite.install():
        modwrite.write_module(upper, "V = 'upper'\n", root=ci_root, visibility="process")
        assert _import(upper, MODWRITE).V == "upper"
        modwrite.write_module(lower, "V = 'lower'\n", root=ci_root, visibility="process")
        assert _import(lower, MODWRITE).V == "lower"
        with pytest.raises(ModuleNotFoundError):
            _import(upper, MODWRITE)


def test_write_package_over_a_case_variant_package_is_a_conflict(
    ci_root: Path, unique_name: str
) -> None:
    """Swapping in over ``Bar_x/`` would keep that spelling and ``bar_x``
    would not import: refused before anything is written."""
    upper, lower = f"Bar_{unique_name}", f"bar_{unique_name}"
    modwrite.write_package(upper, {"__init__": "V = 1\n"}, root=ci_root)
    with pytest.raises(modwrite.ModuleConflictError, match="only in case"):
        modwrite.write_package(lower, {"__init__": "V = 2\n"}, root=ci_root)
    assert _sources(ci_root) == [upper]
    assert (ci_root / upper / "__init__.py").read_text() == "V = 1\n"
