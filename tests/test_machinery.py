"""modwrite.machinery: installation, parity with the stock stack, and what
the stock stack cannot do (G6, same-second bytecode)."""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import importlib.resources
import os
import pkgutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

import modwrite
from modwrite import _clock, _machinery, machinery

from .conftest import child_env


@pytest.fixture
def installed() -> Iterator[None]:
    with modwrite.install():
        assert modwrite.installed()
        yield
    assert not modwrite.installed()


def test_install_replaces_and_uninstall_restores_exactly() -> None:
    meta_path, path_hooks = list(sys.meta_path), list(sys.path_hooks)
    modwrite.install()
    modwrite.install()  # idempotent
    assert machinery.PathFinder in sys.meta_path
    assert importlib.machinery.PathFinder not in sys.meta_path
    assert sum(getattr(h, "__module__", "") == "modwrite._machinery" for h in sys.path_hooks) == 1
    assert all(
        not isinstance(f, importlib.machinery.FileFinder) or isinstance(f, machinery.FileFinder)
        for f in sys.path_importer_cache.values()
    )
    modwrite.uninstall()
    modwrite.uninstall()  # idempotent
    assert sys.meta_path == meta_path
    assert sys.path_hooks == path_hooks
    assert not any(isinstance(f, machinery.FileFinder) for f in sys.path_importer_cache.values())


def test_modules_packages_and_namespaces_load_through_our_classes(
    installed: None, root: Path, unique_name: str
) -> None:
    (root / f"{unique_name}_mod.py").write_text("X = 1\n")
    (root / f"{unique_name}_pkg").mkdir()
    (root / f"{unique_name}_pkg" / "__init__.py").write_text("Y = 2\n")
    (root / f"{unique_name}_ns").mkdir()
    (root / f"{unique_name}_ns" / "part.py").write_text("Z = 3\n")
    module = importlib.import_module(f"{unique_name}_mod")
    package = importlib.import_module(f"{unique_name}_pkg")
    part = importlib.import_module(f"{unique_name}_ns.part")
    assert (module.X, package.Y, part.Z) == (1, 2, 3)
    for loaded in (module, package, part):
        assert type(loaded.__spec__.loader) is machinery.SourceFileLoader
        assert isinstance(loaded.__spec__.loader, importlib.machinery.SourceFileLoader)
    assert isinstance(sys.path_importer_cache[str(root)], machinery.FileFinder)


def test_sourceless_bytecode_loads(installed: None, root: Path, unique_name: str) -> None:
    import py_compile

    source = root / f"{unique_name}.py"
    source.write_text("X = 5\n")
    py_compile.compile(str(source), cfile=str(root / f"{unique_name}.pyc"))
    source.unlink()
    module = importlib.import_module(unique_name)
    assert module.X == 5
    assert type(module.__spec__.loader) is machinery.SourcelessFileLoader


def test_pkgutil_resources_and_metadata_work(
    installed: None, root: Path, unique_name: str
) -> None:
    modwrite.write_package(
        unique_name, {"__init__": "", "a": "", "./data.txt": "payload"}, root=root
    )
    info = root / f"{unique_name}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {unique_name}\nVersion: 0.3\n")
    assert {m.name for m in pkgutil.iter_modules([str(root / unique_name)])} == {"a"}
    package = importlib.import_module(unique_name)
    assert (importlib.resources.files(package) / "data.txt").read_text() == "payload"
    modwrite.invalidate_caches(info)
    assert importlib.metadata.version(unique_name) == "0.3"


def test_own_writes_update_the_listing_without_reading_the_directory(
    installed: None, root: Path, unique_name: str
) -> None:
    modwrite.write_module(f"{unique_name}_0", "", root=root, visibility="process")
    importlib.import_module(f"{unique_name}_0")
    finder = sys.path_importer_cache[str(root)]
    assert isinstance(finder, machinery.FileFinder)
    with mock.patch.object(finder, "_fill_cache", wraps=finder._fill_cache) as fill:
        for i in range(1, 50):
            modwrite.write_module(
                f"{unique_name}_{i}", f"I = {i}\n", root=root, visibility="process"
            )
            assert i == importlib.import_module(f"{unique_name}_{i}").I
    assert fill.call_count == 0


def test_foreign_writes_are_still_seen(installed: None, root: Path, unique_name: str) -> None:
    modwrite.write_module(f"{unique_name}_0", "", root=root, visibility="process")
    importlib.import_module(f"{unique_name}_0")
    for i in range(1, 30):
        (root / f"{unique_name}_{i}.py").write_text(f"I = {i}\n")
        assert i == importlib.import_module(f"{unique_name}_{i}").I


def test_same_second_same_size_rewrite_by_any_tool_is_not_run_stale(
    installed: None, root: Path, unique_name: str, bytecode_on: None
) -> None:
    """[bytecode not settled] a pyc written in the second its source changed
    is not trusted; the stock loader runs the old code here."""
    path = root / f"{unique_name}.py"
    path.write_text("V = 10001\n")
    module = importlib.import_module(unique_name)
    pyc = Path(importlib.util.cache_from_source(str(path)))
    assert pyc.exists()
    first = path.stat()
    path.write_text("V = 10002\n")
    os.utime(path, ns=(first.st_atime_ns, first.st_mtime_ns))  # same second, same size
    os.utime(pyc, ns=(first.st_atime_ns, first.st_mtime_ns))  # pyc of that second too
    assert importlib.reload(module).V == 10002


def test_a_settled_pyc_is_used(
    installed: None, root: Path, unique_name: str, bytecode_on: None
) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 1\n")
    old = int(path.stat().st_mtime) - 10
    os.utime(path, (old, old))
    module = importlib.import_module(unique_name)
    pyc = Path(importlib.util.cache_from_source(str(path)))
    assert pyc.exists()
    loader = module.__spec__.loader
    with mock.patch.object(type(loader), "source_to_code", side_effect=AssertionError):
        assert importlib.reload(module).V == 1  # from the pyc, not compiled


_PYTEST_PROJECT = {
    "conftest.py": "import modwrite\nmodwrite.install()\n",
    "test_rewritten.py": textwrap.dedent(
        """
        import importlib.machinery, sys
        from modwrite import machinery

        def test_found_by_our_finder():
            import os
            here = os.path.dirname(__file__)
            assert isinstance(sys.path_importer_cache[here], machinery.FileFinder)

        def test_assert_is_rewritten():
            x = [1, 2]
            assert x == [1, 3]
        """
    ),
}


def test_pytest_rewrites_asserts_in_modules_found_by_our_finders(tmp_path: Path) -> None:
    for name, text in _PYTEST_PROJECT.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        env=child_env(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert "1 failed, 1 passed" in result.stdout, result.stdout
    assert "At index 1 diff: 2 != 3" in result.stdout  # pytest's rewritten message


def test_runpy_and_start_up_installation(tmp_path: Path) -> None:
    """A sitecustomize installs the machinery at start-up; python -m runs
    modules found by it."""
    (tmp_path / "sitecustomize.py").write_text("import modwrite\nmodwrite.install()\n")
    (tmp_path / "hello_main.py").write_text(
        "import sys\nprint(type(__spec__.loader).__module__, sys.path_importer_cache"
        "[__import__('os').path.dirname(__file__)].__class__.__module__)\n"
    )
    env = child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    result = subprocess.run(
        [sys.executable, "-m", "hello_main"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["modwrite.machinery", "modwrite.machinery"]


def test_path_finder_invalidate_caches_takes_a_path(installed: None, root: Path) -> None:
    finder = machinery.FileFinder.path_hook(*_machinery._get_supported_file_loaders())(str(root))
    sys.path_importer_cache[str(root)] = finder
    finder._path_mtime = 123.0
    machinery.PathFinder.invalidate_caches(root / "x.py")
    fresh = sys.path_importer_cache[str(root)]
    assert isinstance(fresh, machinery.FileFinder)
    assert fresh._path_mtime == -1.0  # a fresh copy, its listing forgotten


def test_concurrent_imports_from_threads(installed: None, root: Path, unique_name: str) -> None:
    import threading

    for i in range(40):
        (root / f"{unique_name}_{i}.py").write_text(f"I = {i}\n")
    errors: list[BaseException] = []
    results: dict[int, int] = {}

    def worker(offset: int) -> None:
        try:
            for i in range(offset, 40, 4):
                results[i] = importlib.import_module(f"{unique_name}_{i}").I
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {i: i for i in range(40)}


def test_pycache_prefix_is_honoured(
    installed: None, root: Path, tmp_path: Path, unique_name: str, bytecode_on: None
) -> None:
    sys.pycache_prefix = str(tmp_path / "prefix")
    (root / f"{unique_name}.py").write_text("X = 1\n")
    assert importlib.import_module(unique_name).X == 1
    assert list((tmp_path / "prefix").rglob(f"{unique_name}*.pyc"))
    assert not (root / "__pycache__").exists()


def test_zip_entries_are_left_to_zipimport(
    installed: None, tmp_path: Path, unique_name: str
) -> None:
    import zipfile
    import zipimport

    archive = tmp_path / "lib.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"{unique_name}.py", "Z = 26\n")
    sys.path.insert(0, str(archive))
    module = importlib.import_module(unique_name)
    assert module.Z == 26
    assert isinstance(module.__spec__.loader, zipimport.zipimporter)


def test_extra_listings_only_within_one_tick_of_a_change(coarse_ext4_dir: Path) -> None:
    """[G6 cost] on a 1-second filesystem a listing taken in the tick of the
    directory's last change is read again at the next lookup; once the
    change is more than a tick old, the listing is trusted."""
    finder = machinery.FileFinder.path_hook(*_machinery._get_supported_file_loaders())(
        str(coarse_ext4_dir)
    )
    (coarse_ext4_dir / "fresh.py").write_text("")  # a change in the current tick
    with mock.patch.object(finder, "_fill_cache", wraps=finder._fill_cache) as fill:
        finder.find_spec("zz")
        finder.find_spec("zz")
        assert fill.call_count == 2  # within the tick: listed again
        past = coarse_ext4_dir.stat().st_mtime_ns - 10 * 10**9
        os.utime(coarse_ext4_dir, ns=(past, past))  # the last change, 10 s ago
        finder.find_spec("zz")
        finder.find_spec("zz")
        assert fill.call_count == 3  # a changed mtime lists once, then trusts


def test_a_file_created_later_in_the_tick_of_a_listing_is_found(coarse_ext4_dir: Path) -> None:
    """[G6] a listing taken in the tick of the directory's last change, a
    file created later in that tick (the mtime does not move), and no lookup
    until that tick (and the clock's lag) is over: the next lookup lists
    again, since no listing was taken a tick after the change.  (Found by
    the two-process model: a worker with the machinery installed missed a
    package another process wrote with ``visibility="process"``.)"""
    finder = machinery.FileFinder.path_hook(*_machinery._get_supported_file_loaders())(
        str(coarse_ext4_dir)
    )
    for attempt in range(5):  # a tick boundary between the two files proves nothing
        (coarse_ext4_dir / f"early_{attempt}.py").write_text("")
        changed = coarse_ext4_dir.stat().st_mtime_ns
        assert finder.find_spec("zz") is None  # lists, in the tick of the change
        (coarse_ext4_dir / f"late_{attempt}.py").write_text("")
        if coarse_ext4_dir.stat().st_mtime_ns != changed:
            continue
        # The scenario is time passing with no lookup: until the tick is over
        # (the finder may take it for the largest one: 2 s readings are even).
        over = changed + _clock.LARGEST_TICK_NS + _clock.CLOCK_LAG_NS
        time.sleep(max(0, over - time.time_ns()) / 1e9 + 0.01)
        assert finder.find_spec(f"late_{attempt}") is not None
        return
    pytest.fail("every attempt straddled a tick boundary")  # pragma: no cover


def test_a_file_created_in_the_tick_of_an_own_write_is_found(
    coarse_ext4_dir: Path, installed: None, bytecode_on: None
) -> None:
    """[G6] modwrite's own write updates the finder's listing without reading
    the directory; a file another tool creates later in the write's tick
    (the mtime does not move) is still found by the next lookup."""
    sys.path.insert(0, str(coarse_ext4_dir))
    (coarse_ext4_dir / "warm.py").write_text("")
    # A listing the finder trusts: taken more than a tick after the change.
    past = coarse_ext4_dir.stat().st_mtime_ns - 10 * 10**9
    os.utime(coarse_ext4_dir, ns=(past, past))
    importlib.import_module("warm")
    for attempt in range(5):  # a tick boundary between the two files proves nothing
        modwrite.write_module(f"own_{attempt}", "", root=coarse_ext4_dir, visibility="process")
        landed = coarse_ext4_dir.stat().st_mtime_ns
        (coarse_ext4_dir / f"other_{attempt}.py").write_text("")
        if coarse_ext4_dir.stat().st_mtime_ns != landed:
            continue
        importlib.import_module(f"other_{attempt}")
        return
    pytest.fail("every attempt straddled a tick boundary")  # pragma: no cover


# -- two owners, and programs that extend the import system (issue 6.11-6.13) ----------


def test_nested_installations_each_restore_what_they_found() -> None:
    """[issue 6.11] the inner ``with modwrite.install():`` uninstalled the
    outer installation when it exited."""
    meta_path, path_hooks = list(sys.meta_path), list(sys.path_hooks)
    with modwrite.install() as outer:
        with modwrite.install() as inner:
            assert modwrite.installed() and inner.active
        assert modwrite.installed()  # the outer owner still holds it
        assert outer.active and not inner.active
    assert not modwrite.installed()
    assert (sys.meta_path, sys.path_hooks) == (meta_path, path_hooks)


def test_interleaved_owners_keep_it_installed_until_the_last_leaves() -> None:
    """A plugin and its user install independently, and release in any
    order; releasing twice is harmless."""
    path_hooks = list(sys.path_hooks)
    plugin = modwrite.install()
    user = modwrite.install()
    plugin.uninstall()
    plugin.uninstall()
    assert modwrite.installed()
    user.uninstall()
    assert not modwrite.installed()
    assert sys.path_hooks == path_hooks


def test_uninstall_is_the_last_word_and_old_handles_do_nothing_after_it() -> None:
    handle = modwrite.install()
    modwrite.install()
    modwrite.uninstall()  # every owner's hold ends
    assert not modwrite.installed() and not handle.active
    again = modwrite.install()
    handle.uninstall()  # a hold from before the uninstall: no effect now
    assert modwrite.installed()
    again.uninstall()
    assert not modwrite.installed()


def test_suffixes_added_at_run_time_are_seen_as_by_the_stock_hook(
    installed: None, root: Path, unique_name: str
) -> None:
    """[issue 6.12] CPython's path hook keeps the live SOURCE_SUFFIXES list;
    a copy cut Hy (which adds ``.hy``) off: its suite collected nothing."""
    (root / f"{unique_name}.dsl").write_text("V = 'from .dsl'\n")
    importlib.machinery.SOURCE_SUFFIXES.insert(0, ".dsl")
    try:
        sys.path_importer_cache.clear()
        module = importlib.import_module(unique_name)
        assert module.V == "from .dsl"
        assert isinstance(module.__spec__.loader, machinery.SourceFileLoader)
    finally:
        importlib.machinery.SOURCE_SUFFIXES.remove(".dsl")


def test_a_program_with_its_own_math_module_still_imports(
    installed: None, coarse_ext4_dir: Path, unique_name: str
) -> None:
    """[issue 6.13] every re-listing ran ``from math import gcd``: with a
    ``math`` of the program's own in sys.modules, imports that needed one
    failed (pytest's test_importlib_same_name_as_stl[...-math])."""
    sys.path.insert(0, str(coarse_ext4_dir))
    (coarse_ext4_dir / f"{unique_name}_a.py").write_text("A = 1\n")
    own_math = type(sys)("math")  # no gcd
    with mock.patch.dict(sys.modules, {"math": own_math}):
        assert importlib.import_module(f"{unique_name}_a").A == 1
        (coarse_ext4_dir / f"{unique_name}_b.py").write_text("B = 2\n")
        assert importlib.import_module(f"{unique_name}_b").B == 2  # a re-listing


def test_uninstall_restores_the_stock_hooks_after_others_were_added(tmp_path: Path) -> None:
    """A library that inserted its own path hook and meta path finder after
    install() must not make the release drop the stock ones (stdlib imports
    would then fail)."""
    meta_path, path_hooks = list(sys.meta_path), list(sys.path_hooks)

    def other_hook(path: str) -> object:
        raise ImportError("not mine", path=path)

    class OtherFinder:
        @staticmethod
        def find_spec(*args: object) -> None:
            return None

    with modwrite.install():
        sys.path_hooks.insert(0, other_hook)
        sys.meta_path.insert(0, OtherFinder)  # type: ignore[arg-type]
    assert sys.path_hooks == [other_hook, *path_hooks]
    assert sys.meta_path == [OtherFinder, *meta_path]
    sys.path_importer_cache.clear()
    importlib.import_module("json.decoder")  # found through the stock hook again
