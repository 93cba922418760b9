"""modwrite.imp: each freshness fix shown side by side with the real imp
(which runs stale code), the opt-in for ``import imp``, and a legacy plugin
loader run unmodified.

The real imp is the standard library's up to 3.11 and zombie-imp's copy of
it on 3.12+ (a test dependency there), so every test here runs on every
supported Python.  The differential tests of the whole API are in
test_imp_differential.py.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import modwrite.imp
from tests.conftest import child_env

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import imp as real_imp  # the reference: stdlib <= 3.11, zombie-imp after

Imp = types.ModuleType
IMPS = pytest.mark.parametrize("imp", [real_imp, modwrite.imp], ids=["real", "modwrite"])
LEGACY_APP = Path(__file__).parent / "legacy" / "plugin_host.py"


def _pinned_save(path: Path, source: str, second: int) -> None:
    """Write *source* in place and give the file the mtime *second*: what a
    rewrite within one second looks like on a 1-second filesystem."""
    path.write_text(source)
    os.utime(path, (second, second))


def _pyc_of(path: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(path)))


def _stale_after_same_second_rewrite(
    imp: Imp, directory: Path, name: str, load: Callable[[Imp, str, Path], types.ModuleType]
) -> list[int]:
    """V of the module after each of three same-size rewrites pinned to one
    second, each followed by *load*; the first load writes the pyc."""
    path = directory / f"{name}.py"
    second = int(time.time())
    seen = []
    for version in (1, 2, 3):
        _pinned_save(path, f"V = {version}\n", second)
        seen.append(load(imp, name, path).V)
        assert _pyc_of(path).exists()  # bytecode writing was on: the stale case can arise
    return seen


def _by_load_source(imp: Imp, name: str, path: Path) -> types.ModuleType:
    module: types.ModuleType = imp.load_source(name, str(path))
    return module


def _by_find_and_load_module(imp: Imp, name: str, path: Path) -> types.ModuleType:
    file, pathname, description = imp.find_module(name, [str(path.parent)])
    with file:
        module: types.ModuleType = imp.load_module(name, file, pathname, description)
    return module


def _by_reload(imp: Imp, name: str, path: Path) -> types.ModuleType:
    if name not in sys.modules:
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        return importlib.import_module(name)
    module: types.ModuleType = imp.reload(sys.modules[name])
    return module


@pytest.mark.parametrize(
    "load",
    [_by_load_source, _by_find_and_load_module, _by_reload],
    ids=["load_source", "find_module+load_module", "reload"],
)
def test_a_same_second_same_size_rewrite_runs_the_new_source(
    tmp_path: Path,
    unique_name: str,
    bytecode_on: None,
    load: Callable[[Imp, str, Path], types.ModuleType],
) -> None:
    real_dir, our_dir = tmp_path / "real", tmp_path / "modwrite"
    real_dir.mkdir()
    our_dir.mkdir()
    real = _stale_after_same_second_rewrite(real_imp, real_dir, f"{unique_name}_r", load)
    ours = _stale_after_same_second_rewrite(modwrite.imp, our_dir, f"{unique_name}_m", load)
    assert real == [1, 1, 1]  # the real imp runs the first version's .pyc
    assert ours == [1, 2, 3]


@IMPS
def test_on_a_1_second_filesystem_every_rewrite_is_loaded(
    imp: Imp, coarse_ext4_dir: Path, unique_name: str, bytecode_on: None
) -> None:
    """Plain rewrites (no pinned mtime) on ext4 with 1-second timestamps,
    each loaded at once with load_source: the real imp misses those that
    fall in the second of the previous one."""
    path = coarse_ext4_dir / f"{unique_name}.py"
    name = f"{unique_name}_{'real' if imp is real_imp else 'modwrite'}"
    stale = same_second = 0
    previous_mtime = None
    for version in range(100, 130):  # same size: 3 digits
        path.write_text(f"V = {version}\n")
        mtime = path.stat().st_mtime_ns
        same_second += mtime == previous_mtime
        previous_mtime = mtime
        loaded = imp.load_source(name, str(path))
        stale += version != loaded.V
    assert _pyc_of(path).exists()
    assert same_second >= 10  # the filesystem did coarsen: most rewrites shared a second
    if imp is real_imp:
        assert stale >= 10
    else:
        assert stale == 0


@IMPS
def test_reload_finds_a_module_in_a_directory_made_after_the_first_lookup(
    imp: Imp, tmp_path: Path, unique_name: str, bytecode_on: None
) -> None:
    """A sys.path entry that did not exist at the first import is cached as
    None by the path finder; a reload after the directory is made should
    find the module there first, as a new process would."""
    early, late = tmp_path / "early", tmp_path / "late"
    late.mkdir()
    (late / f"{unique_name}.py").write_text("WHERE = 'late'\n")
    sys.path[:0] = [str(early), str(late)]
    module = importlib.import_module(unique_name)
    assert sys.path_importer_cache[str(early)] is None
    early.mkdir()
    (early / f"{unique_name}.py").write_text("WHERE = 'early'\n")
    assert imp.reload(module) is module
    expected = "late" if imp is real_imp else "early"
    assert expected == module.WHERE


def test_the_modules_loaded_carry_modwrite_loaders_that_are_stock_subclasses(
    tmp_path: Path, unique_name: str
) -> None:
    path = tmp_path / f"{unique_name}.py"
    path.write_text("V = 1\n")
    module = modwrite.imp.load_source(unique_name, str(path))
    assert type(module.__loader__) is modwrite.machinery.SourceFileLoader
    assert module.__spec__.loader is module.__loader__
    assert isinstance(module.__loader__, importlib.machinery.SourceFileLoader)
    # what ran is recorded: changed_modules() knows the module without a guess
    assert modwrite.changed_modules([module]) == []
    path.write_text("V = 2\n")
    assert modwrite.changed_modules([module]) == [module]


# -- importing modwrite.imp, and the opt-in for `import imp` ------------------------------


def _run(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", *args, "-c", code]
        if code
        else [sys.executable, *args],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=cwd,
        timeout=120,
    )


def test_importing_modwrite_imp_warns_nothing_and_registers_nothing() -> None:
    done = _run(
        "import sys, modwrite.imp; print(sys.modules.get('imp'), 'modwrite.imp' in sys.modules)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "True"]


def test_register_makes_import_imp_give_modwrite_imp() -> None:
    done = _run(
        "import sys, modwrite.imp\n"
        "first = modwrite.imp.register()\n"
        "import imp\n"
        "print(imp is modwrite.imp, first is None or first.__name__, modwrite.imp.register())"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "None"]


def test_register_replaces_an_imp_imported_before_and_returns_it() -> None:
    code = (
        "import warnings\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    import imp as before\n"
        "import modwrite.imp\n"
        "previous = modwrite.imp.register()\n"
        "import imp\n"
        "print(previous is before, imp is modwrite.imp, before is not imp)"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "True"]


def test_python_m_modwrite_imp_runs_a_script_with_its_arguments(tmp_path: Path) -> None:
    script = tmp_path / "legacy.py"
    script.write_text(
        "import sys, imp\n"
        f"print(imp.__name__, sys.argv[1:], sys.path[0] == {str(tmp_path)!r}, __name__)\n"
    )
    done = _run("", "-m", "modwrite.imp", str(script), "--flag", "x")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=1) == [
        "modwrite.imp",
        "['--flag', 'x'] True __main__\n",
    ]


def test_python_m_modwrite_imp_runs_a_module(tmp_path: Path) -> None:
    (tmp_path / "legacy_main.py").write_text(
        "import sys, imp\nprint(imp.__name__, sys.argv[1:], __name__)\n"
    )
    done = _run("", "-m", "modwrite.imp", "-m", "legacy_main", "-v", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "modwrite.imp ['-v'] __main__\n"


def test_python_m_modwrite_imp_without_a_program_is_a_usage_error() -> None:
    for args in ([], ["-x"], ["-m"]):
        done = _run("", "-m", "modwrite.imp", *args)
        assert done.returncode == 2
        assert "usage: python -m modwrite.imp" in done.stderr
        assert "error: give a script, or -m and a module name" in done.stderr


# -- a legacy program, unmodified ------------------------------------------------------


def _run_legacy(tmp_path: Path, *launcher: str) -> subprocess.CompletedProcess[str]:
    plugins = tmp_path / "plugins"
    return subprocess.run(
        [sys.executable, *launcher, str(LEGACY_APP), str(plugins)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )


def test_a_legacy_plugin_loader_runs_unmodified_through_the_opt_in(tmp_path: Path) -> None:
    """tests/legacy/plugin_host.py does ``import imp``, generates plugins,
    loads them with imp.load_source, edits and reloads them (load_source
    again, and imp.reload), within one second, as its tests would."""
    done = _run_legacy(tmp_path, "-m", "modwrite.imp")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "imp: modwrite.imp",
        "greet: hello, v1",
        "greet: hello, v2",
        "greet: hello, v3",
        "shout: HELLO v1",
        "shout: HELLO v2",
        "plugins: greet shout",
    ]


def test_the_legacy_plugin_loader_on_the_real_imp_runs_stale_plugins(tmp_path: Path) -> None:
    """The same program on the real imp (stdlib or zombie-imp), the anchor:
    its three reloads each follow a same-size rewrite made milliseconds
    after the previous load, in the same second but for one that a second
    boundary may split, and run the previous version's .pyc."""
    done = _run_legacy(tmp_path, "-W", "ignore::DeprecationWarning")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "imp: imp"
    fresh = ["greet: hello, v2", "greet: hello, v3", "shout: HELLO v2"]
    reloaded = [lines[2], lines[3], lines[5]]
    assert sum(got != want for got, want in zip(reloaded, fresh)) >= 2, lines
