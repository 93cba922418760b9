"""Re-import that never lies (G9): reload(), changed_modules(), reload_changed().

Every test that involves bytecode runs with bytecode writing on and proves
it (a pyc exists); the tests that need edits within one timestamp tick run on
the 1-second ext4 mount as well as on a fine-grained directory, and count how
many edits really shared a tick with the one before.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pickle
import py_compile
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

import modwrite
import modwrite.machinery
from modwrite import _changes, _what_ran
from modwrite._clock import SETTLED_S

from .conftest import child_env

REWRITES = int(os.environ.get("MODWRITE_TEST_REWRITES", "200"))


@pytest.fixture(params=["fine", "coarse"])
def any_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A directory at the front of sys.path: on the fine-grained disk, or on
    the ext4 mount with 1-second timestamps."""
    if request.param == "coarse":
        directory: Path = request.getfixturevalue("coarse_ext4_dir")
    else:
        directory = tmp_path / "root"
        directory.mkdir()
    sys.path.insert(0, str(directory))
    return directory


def _version(i: int) -> str:
    """Versions of one size: 'V = 10000\\n', 'V = 10001\\n', ..."""
    return f"V = {10000 + i}\n"


def _pin_mtime(path: Path, like: os.stat_result) -> None:
    os.utime(path, ns=(like.st_atime_ns, like.st_mtime_ns))


def _assert_pyc(path: Path) -> None:
    pyc = importlib.util.cache_from_source(str(path))
    assert os.path.exists(pyc), "bytecode writing is off: the test would prove nothing"


# -- the proofs the issue names ------------------------------------------------------


def test_same_size_edits_by_open_are_each_reloaded(
    any_root: Path, unique_name: str, bytecode_on: None
) -> None:
    """200 same-size edits by plain open(), each followed by reload_changed():
    every edit is picked up, nothing that did not change is reloaded."""
    path = any_root / f"{unique_name}.py"
    path.write_text(_version(0))
    bystander = any_root / f"{unique_name}_other.py"
    bystander.write_text("W = 1\n")
    module = importlib.import_module(unique_name)
    importlib.import_module(f"{unique_name}_other")
    _assert_pyc(path)
    assert modwrite.reload_changed() == []
    same_tick = 0
    last = path.stat().st_mtime_ns
    for i in range(1, REWRITES + 1):
        with open(path, "w") as f:
            f.write(_version(i))
        mtime = path.stat().st_mtime_ns
        same_tick += mtime == last
        last = mtime
        assert modwrite.reload_changed() == [module], i
        assert 10000 + i == module.V
    assert modwrite.reload_changed() == []
    if any_root.name != "root":  # the 1-second filesystem: the hazard was there
        assert same_tick >= REWRITES * 0.5, same_tick


def test_write_module_rewrites_are_each_seen(
    any_root: Path, unique_name: str, bytecode_on: None
) -> None:
    """Five write_module() rewrites within one second: each version seen; a
    rewrite with identical bytes reports nothing."""
    modwrite.write_module(unique_name, _version(0), root=any_root, visibility="process")
    module = importlib.import_module(unique_name)
    for i in range(1, 6):
        modwrite.write_module(unique_name, _version(i), root=any_root, visibility="process")
        assert modwrite.reload_changed() == [module]
        assert 10000 + i == module.V
    modwrite.write_module(unique_name, _version(5), root=any_root, visibility="process")
    assert modwrite.changed_modules() == []
    assert modwrite.reload_changed() == []


def test_syntax_error_then_its_fix_in_the_same_tick(
    coarse_ext4_dir: Path, unique_name: str, bytecode_on: None
) -> None:
    """The old module is kept and one warning given; then the fix runs."""
    sys.path.insert(0, str(coarse_ext4_dir))
    path = coarse_ext4_dir / f"{unique_name}.py"
    path.write_text("V = 1\n")
    module = importlib.import_module(unique_name)
    first = path.stat()
    path.write_text("V = (\n")
    with pytest.warns(modwrite.ReloadFailedWarning) as caught:
        assert modwrite.reload_changed() == []
    assert len(caught) == 1
    warning = caught[0].message
    assert isinstance(warning, modwrite.ReloadFailedWarning)
    assert warning.module_name == unique_name
    assert isinstance(warning.exception, SyntaxError)
    assert module.V == 1 and sys.modules[unique_name] is module
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert modwrite.reload_changed() == []  # reported once
    path.write_text("V = 2\n")  # the fix, same size as the first version
    _pin_mtime(path, first)
    assert path.stat().st_mtime_ns == first.st_mtime_ns
    assert modwrite.reload_changed() == [module]
    assert module.V == 2


def test_stock_import_then_edit_in_the_same_tick(
    coarse_ext4_dir: Path, unique_name: str, bytecode_on: None
) -> None:
    """A module imported by the stock import system after the previous call,
    edited in the tick of its import: what ran is known from the pyc the
    import wrote, not guessed from the file modwrite first sees."""
    sys.path.insert(0, str(coarse_ext4_dir))
    assert not modwrite.installed()
    modwrite.changed_modules()  # the previous call
    path = coarse_ext4_dir / f"{unique_name}.py"
    path.write_text(_version(0))
    module = importlib.import_module(unique_name)
    _assert_pyc(path)
    before = path.stat()
    path.write_text(_version(1))
    _pin_mtime(path, before)
    assert path.stat().st_ctime_ns // 10**9 == before.st_ctime_ns // 10**9
    assert modwrite.changed_modules() == [module]
    assert importlib.reload(module).V == 10000, "the stock reload ran the stale pyc"
    assert modwrite.reload_changed() == [module]
    assert module.V == 10001


def test_machinery_records_what_ran_without_bytecode(
    coarse_ext4_dir: Path, unique_name: str
) -> None:
    """With bytecode writing off there is no cache to learn from; the
    machinery's loader records the bytes it compiled."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(coarse_ext4_dir))
    path = coarse_ext4_dir / f"{unique_name}.py"
    path.write_text(_version(0))
    with modwrite.install():
        module = importlib.import_module(unique_name)
        loader = module.__spec__.loader
        assert isinstance(loader, modwrite.machinery.SourceFileLoader)
        assert loader.executed_source is not None
        before = path.stat()
        path.write_text(_version(1))
        _pin_mtime(path, before)
        assert modwrite.changed_modules() == [module]


def test_write_and_import_records_what_ran(
    coarse_ext4_dir: Path, unique_name: str, bytecode_on: None
) -> None:
    sys.path.insert(0, str(coarse_ext4_dir))
    module = modwrite.write_and_import(
        unique_name, _version(0), root=coarse_ext4_dir, visibility="process"
    )
    assert modwrite.changed_modules() == []
    path = Path(module.__file__ or "")
    before = path.stat()
    path.write_text(_version(1))
    _pin_mtime(path, before)
    assert modwrite.changed_modules() == [module]


# -- what counts as a change -----------------------------------------------------------


def test_identical_bytes_are_no_change(root: Path, unique_name: str, bytecode_on: None) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 1\n")
    importlib.import_module(unique_name)
    assert modwrite.changed_modules() == []
    os.utime(path)  # a touch
    path.write_text("V = 1\n")  # a save of an unmodified buffer
    temporary = root / "replacement.tmp"
    temporary.write_text("V = 1\n")
    os.replace(temporary, path)  # an atomic save of the same bytes
    assert modwrite.changed_modules() == []


def test_atomic_replaces_alternating_inodes(
    coarse_ext4_dir: Path, unique_name: str, bytecode_on: None
) -> None:
    """Successive replaces by rename may reuse two inode numbers in turn;
    each content is still seen."""
    sys.path.insert(0, str(coarse_ext4_dir))
    path = coarse_ext4_dir / f"{unique_name}.py"
    path.write_text(_version(0))
    module = importlib.import_module(unique_name)
    inodes = set()
    for i in range(1, 21):
        temporary = coarse_ext4_dir / f"{unique_name}.tmp"
        temporary.write_text(_version(i))
        os.replace(temporary, path)
        inodes.add(path.stat().st_ino)
        assert modwrite.reload_changed() == [module]
        assert 10000 + i == module.V
    assert len(inodes) < 20, "no inode was reused: the case was not exercised"


def test_leftover_pyc_of_a_source_older_than_the_process(
    root: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch, bytecode_on: None
) -> None:
    """A stale pyc beside a source that has not changed since before the
    process started (bytecode writing was off at the import) is not what
    ran: no change."""
    path = root / f"{unique_name}.py"
    path.write_text(_version(0))
    module = importlib.import_module(unique_name)
    pyc = Path(importlib.util.cache_from_source(str(path)))
    _assert_pyc(path)
    stale = pyc.read_bytes()
    # No functions and no literal constant: only the cache can be asked.
    path.write_text("V = str('another size')\n")
    sys.dont_write_bytecode = True
    module = importlib.reload(module)  # compiles, writes no pyc
    pyc.write_bytes(stale)
    assert module.V == "another size"
    assert modwrite.changed_modules([module]) == [module]  # the stale pyc misleads
    del sys.modules[unique_name]
    module = importlib.import_module(unique_name)
    later = path.stat().st_ctime_ns + _changes._SETTLE_NS + 1
    monkeypatch.setattr(_what_ran, "_start_ns", later)  # the process started after the edit
    assert modwrite.changed_modules([module]) == []


def test_checked_hash_pyc_the_import_did_not_use(root: Path, unique_name: str) -> None:
    """A checked hash-based pyc (written by modwrite) that no longer matches
    the source was not what the import ran: the module's functions tell."""
    sys.dont_write_bytecode = False
    modwrite.write_module(unique_name, "def f():\n    return 1\n", root=root)
    _assert_pyc(root / f"{unique_name}.py")
    sys.dont_write_bytecode = True
    (root / f"{unique_name}.py").write_text("def f():\n    return 2\n")
    module = importlib.import_module(unique_name)  # compiles the source: the hash differs
    assert module.f() == 2
    assert modwrite.changed_modules([module]) == []


def _write_in_another_process(root: Path, name: str, source: str) -> None:
    """write_module() run by another process: it writes the source and its
    bytecode cache, and this process's records know nothing of it."""
    script = "import sys, modwrite; modwrite.write_module(*sys.argv[1:3], root=sys.argv[3])"
    subprocess.run(
        [sys.executable, "-c", script, name, source, str(root)], env=child_env(), check=True
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("V = 1\n", "V = 2\n"),
        ("NAME = 'one'\nLIMITS = (1, 2.5, None)\n", "NAME = 'one'\nLIMITS = (1, 2.5, True)\n"),
        ("import os\nSEP = os.sep\nX = b'a'\n", "import os\nSEP = os.sep\nX = b'b'\n"),
        ("def f():\n    return 1\n", "def f():\n    return 2\n"),
    ],
)
def test_module_whose_file_and_cache_another_process_replaced(
    root: Path, unique_name: str, bytecode_on: None, first: str, second: str
) -> None:
    """The load tests' finding: a module imported by the stock machinery
    whose file *and* bytecode cache another process's write_module()
    replaced before this process's first check.  The cache (written after
    this process started, so perhaps after the import) does not say what
    ran; the module's functions do, or, without any, its constants."""
    path = root / f"{unique_name}.py"
    path.write_text(first)
    module = importlib.import_module(unique_name)
    _assert_pyc(path)
    _write_in_another_process(root, unique_name, second)
    assert path.read_text() == second
    assert modwrite.changed_modules([module]) == [module]
    assert modwrite.reload_changed(modules=[module]) == [module]
    assert modwrite.changed_modules([module]) == []


def test_module_without_functions_unchanged_beside_a_newer_cache(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """The control: the same module, its file and cache rewritten by another
    process with the same source, is no change (so the check above is the
    constants', not "any cache newer than the process")."""
    source = "V = 1\nNAMES = ('a', 'b')\n"
    path = root / f"{unique_name}.py"
    path.write_text(source)
    module = importlib.import_module(unique_name)
    _assert_pyc(path)
    _write_in_another_process(root, unique_name, source + "\n")  # padding is no change
    assert modwrite.changed_modules([module]) == []


def test_constants_mutated_at_run_time_are_not_a_change(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """Only immutable literals bound once are compared: a registry filled at
    run time and a list appended to do not make a module look changed."""
    source = "REGISTRY = {}\nITEMS = []\nCOUNT = 0\nCOUNT = 1\n"
    path = root / f"{unique_name}.py"
    path.write_text(source)
    module = importlib.import_module(unique_name)
    _assert_pyc(path)
    module.REGISTRY["x"] = 1
    module.ITEMS.append(1)
    module.COUNT = 5  # bound twice in the source: not a literal the module keeps
    _write_in_another_process(root, unique_name, source)
    assert modwrite.changed_modules([module]) == []


def test_a_constant_the_program_rebinds_is_not_a_change(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """A module this process imported itself (its import wrote a timestamp
    pyc), whose constant the program then rebinds, as IPython does with
    jedi.settings: not a change, so no reload undoes the program's
    setting (CI found the reload)."""
    path = root / f"{unique_name}.py"
    path.write_text("CASE_INSENSITIVE = True\nLIMIT = 10\n")
    module = importlib.import_module(unique_name)
    _assert_pyc(path)
    module.CASE_INSENSITIVE = False
    assert modwrite.changed_modules([module]) == []
    assert modwrite.reload_changed(modules=[module]) == []
    assert module.CASE_INSENSITIVE is False


@pytest.mark.parametrize(
    ("source", "values", "differ"),
    [
        ("V = 1\n", {"V": 1}, False),
        ("V = 1\n", {"V": 2}, True),
        ("V = 1\n", {"V": True}, True),  # equal, but not the same type
        ("V = 1\n", {}, True),  # the source binds a name the module lacks
        ("V: int = -1\n", {"V": -1}, False),
        ("T = (1, 'a', (None, 2.5))\n", {"T": (1, "a", (None, 2.5))}, False),
        ("T = (1, 'a', (None, 2.5))\n", {"T": (1, "a", (None, 2.0))}, True),
        ("N = float('nan')\n", {"N": 0.0}, None),  # a call is not a literal
        ("V = 1e999 - 1e999\n", {"V": 0.0}, None),  # nor arithmetic
        ("V = 1\nV = 2\n", {"V": 3}, None),  # bound twice
        ("V = 1\ndef f():\n    global V\n    V = 4\n", {"V": 4}, None),
        ("V = 1\nimport os as V\n", {"V": 1}, None),
        ("V = 1\nfor V in (): pass\n", {"V": 1}, None),
        ("L = [1]\nD = {}\nS = {1}\n", {"L": [1, 2], "D": {"k": 1}, "S": set()}, None),
        ("A, B = 1, 2\n", {"A": 5, "B": 6}, None),  # only single-name assignments
        ("import os\nX = os.sep\n", {"X": "?"}, None),
        ("V = (\n", {"V": 1}, None),  # no longer parses: nothing to compare
    ],
)
def test_live_constants(source: str, values: dict[str, object], differ: bool | None) -> None:
    """What the module's literal values say, case by case."""
    module = types.ModuleType("m")
    vars(module).update(values)
    assert _what_ran._live_constants_differ(module, source.encode()) is differ


def test_another_process_replaced_the_file_and_its_hash_pyc(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """A module with a function, imported by the stock import system;
    another process's write_module() then replaces its file and its bytecode
    cache (a checked hash-based pyc naming the new source) before the first
    check.  The pyc names the bytes on disk, not those that ran: the
    module's own function tells.  (Found by the two-process model.)"""
    path = modwrite.write_module(unique_name, "def f():\n    return 1\n", root=root)
    module = importlib.import_module(unique_name)
    assert module.f() == 1
    _write_in_another_process(root, unique_name, "def f():\n    return 2\n")
    pyc = Path(importlib.util.cache_from_source(str(path))).read_bytes()
    assert pyc[4] & 0b1 and pyc[8:16] == importlib.util.source_hash(path.read_bytes())
    assert modwrite.changed_modules([module]) == [module]
    assert modwrite.reload_changed(modules=[module]) == [module]
    assert module.f() == 2


def test_another_process_replaced_the_file_and_its_timestamp_pyc(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    """The same with a timestamp pyc of the new source written a settled
    while after it (its stamp matches the file): it is not what ran either."""
    path = root / f"{unique_name}.py"
    path.write_text("def f():\n    return 1\n")
    module = importlib.import_module(unique_name)
    _assert_pyc(path)
    path.write_text("def f():\n    return 22\n")
    pyc = py_compile.compile(
        str(path), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
    )
    later = path.stat().st_ctime_ns + (SETTLED_S + 1) * 10**9
    os.utime(pyc, ns=(later, later))
    assert modwrite.changed_modules([module]) == [module]
    assert modwrite.reload_changed(modules=[module]) == [module]
    assert module.f() == 22


def test_gone_file_is_not_a_change(root: Path, unique_name: str) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 1\n")
    importlib.import_module(unique_name)
    path.unlink()
    assert modwrite.changed_modules() == []


def test_changed_modules_of_given_modules_only(root: Path, unique_name: str) -> None:
    (root / f"{unique_name}_a.py").write_text("V = 1\n")
    (root / f"{unique_name}_b.py").write_text("V = 1\n")
    a = importlib.import_module(f"{unique_name}_a")
    b = importlib.import_module(f"{unique_name}_b")
    modwrite.changed_modules([a, b])
    (root / f"{unique_name}_a.py").write_text("V = 22\n")
    (root / f"{unique_name}_b.py").write_text("V = 22\n")
    assert modwrite.changed_modules([b]) == [b]
    assert modwrite.reload_changed(modules=[a]) == [a]
    assert b.V == 1
    with pytest.raises(modwrite.ArgumentTypeError):
        modwrite.changed_modules(["not a module"])  # type: ignore[list-item]


def test_unsettled_key_is_checked_by_content_settled_key_by_stat(
    root: Path, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stat equal to the record's proves nothing while the file's ctime is
    recent; once it is a settled while in the past, no read is made."""
    path = root / f"{unique_name}.py"
    path.write_text("V = 1\n")
    module = importlib.import_module(unique_name)
    reads = []
    real = _changes.read_source

    def counting(p: str) -> tuple[bytes, tuple[int, int, int, int], _changes.StatKey]:
        reads.append(p)
        return real(p)

    monkeypatch.setattr(_changes, "read_source", counting)
    modwrite.changed_modules([module])
    modwrite.changed_modules([module])
    assert reads == [str(path), str(path)]  # just written: read each time
    reads.clear()
    later = path.stat().st_ctime_ns + _changes._SETTLE_NS + 1
    monkeypatch.setattr(_changes.time, "time_ns", lambda: later)
    modwrite.changed_modules([module])  # read once more, then settled
    modwrite.changed_modules([module])
    modwrite.changed_modules([module])
    assert reads == [str(path)]


# -- reload() --------------------------------------------------------------------------


def test_reload_runs_the_source_not_the_stale_pyc(
    root: Path, unique_name: str, bytecode_on: None
) -> None:
    path = root / f"{unique_name}.py"
    path.write_text(_version(0))
    module = importlib.import_module(unique_name)
    _assert_pyc(path)
    first = path.stat()
    path.write_text(_version(1))
    _pin_mtime(path, first)
    assert importlib.reload(module).V == 10000  # the stock reload: stale
    assert modwrite.reload(module) is module
    assert module.V == 10001
    # The cache is now a checked hash-based pyc of the new source: the next
    # plain reload (or another process) runs the new code too.
    with open(importlib.util.cache_from_source(str(path)), "rb") as f:
        header = f.read(16)
    assert int.from_bytes(header[4:8], "little") == 0b11
    assert header[8:16] == importlib.util.source_hash(path.read_bytes())
    assert importlib.reload(module).V == 10001


def test_failed_reload_restores_the_namespace(root: Path, unique_name: str) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("A = 1\ndef f():\n    return 1\n")
    module = importlib.import_module(unique_name)
    f = module.f
    path.write_text("A = 2\nB = 3\nraise RuntimeError('boom')\n")
    with pytest.raises(RuntimeError, match="boom"):
        modwrite.reload(module)
    assert module.A == 1 and module.f is f and not hasattr(module, "B")
    assert sys.modules[unique_name] is module


def test_failed_reload_in_reload_changed_keeps_the_others(root: Path, unique_name: str) -> None:
    bad = root / f"{unique_name}_bad.py"
    good = root / f"{unique_name}_good.py"
    bad.write_text("A = 1\n")
    good.write_text("A = 1\n")
    bad_module = importlib.import_module(f"{unique_name}_bad")
    good_module = importlib.import_module(f"{unique_name}_good")
    modwrite.changed_modules()
    bad.write_text("A = 2\nraise KeyError('x')\n")
    good.write_text("A = 2\n")
    with pytest.warns(modwrite.ReloadFailedWarning, match=f"{unique_name}_bad.*KeyError"):
        assert modwrite.reload_changed() == [good_module]
    assert bad_module.A == 1 and good_module.A == 2


def test_reload_syntax_error_runs_nothing(root: Path, unique_name: str) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("A = 1\n")
    module = importlib.import_module(unique_name)
    path.write_text("A = (\n")
    with pytest.raises(SyntaxError):
        modwrite.reload(module)
    assert module.A == 1


def test_reload_package_with_submodules(root: Path, unique_name: str) -> None:
    """__init__ imports from .sub: sub is reloaded first."""
    package = root / unique_name
    package.mkdir()
    (package / "__init__.py").write_text("from .sub import V\nW = V * 10\n")
    (package / "sub.py").write_text("V = 1\n")
    module = importlib.import_module(unique_name)
    sub = sys.modules[f"{unique_name}.sub"]
    (package / "sub.py").write_text("V = 2\n")
    assert modwrite.reload(module) is module
    assert sub.V == 1 and module.W == 10  # the package only
    assert modwrite.reload(module, submodules=True) is module
    assert sub.V == 2 and module.W == 20


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("builtin", "built-in"),
        ("frozen", "frozen"),
        ("namespace", "namespace package"),
        ("gone", "is gone"),
        ("unlisted", "not in sys.modules"),
        ("nospec", "has no spec"),
    ],
)
def test_reload_refuses_what_has_no_file(
    root: Path, unique_name: str, what: str, message: str
) -> None:
    if what == "builtin":
        module = sys
    elif what == "frozen":
        module = sys.modules["_frozen_importlib"]
    elif what == "namespace":
        (root / unique_name).mkdir()
        module = importlib.import_module(unique_name)
    else:
        path = root / f"{unique_name}.py"
        path.write_text("A = 1\n")
        module = importlib.import_module(unique_name)
        if what == "gone":
            path.unlink()
        elif what == "unlisted":
            del sys.modules[unique_name]
        else:
            module.__spec__ = None
    name = module.__spec__.name if module.__spec__ else module.__name__
    with pytest.raises(modwrite.ReloadError, match=message) as caught:
        modwrite.reload(module)
    assert isinstance(caught.value, ImportError)
    assert caught.value.name == name


def test_reload_refuses_an_extension_module() -> None:
    extension = next(
        m
        for m in list(sys.modules.values())
        if getattr(m, "__file__", None)
        and str(m.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    )
    with pytest.raises(modwrite.ReloadError, match="extension module"):
        modwrite.reload(extension)


def test_reload_takes_a_module() -> None:
    with pytest.raises(modwrite.ArgumentTypeError):
        modwrite.reload("sys")  # type: ignore[arg-type]


def test_errors_pickle() -> None:
    error = modwrite.ReloadError("gone", name="m", path="/x/m.py")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.name, again.path) == (
        modwrite.ReloadError,
        "gone",
        "m",
        "/x/m.py",
    )
    warning = modwrite.ReloadFailedWarning("m", SyntaxError("bad"))
    again_warning = pickle.loads(pickle.dumps(warning))
    assert again_warning.module_name == "m" and str(again_warning) == str(warning)


# -- order and dependents --------------------------------------------------------------


def test_changed_modules_are_reloaded_after_what_they_import(root: Path, unique_name: str) -> None:
    a, b = f"{unique_name}_a", f"{unique_name}_b"
    (root / f"{a}.py").write_text(f"from {b} import X\nY = X + 1\n")
    (root / f"{b}.py").write_text("X = 1\n")
    module_a = importlib.import_module(a)  # a comes first in sys.modules
    module_b = sys.modules[b]
    modwrite.changed_modules()
    (root / f"{a}.py").write_text(f"from {b} import X\nY = X + 2\n")
    (root / f"{b}.py").write_text("X = 10\n")
    assert modwrite.reload_changed() == [module_b, module_a]
    assert module_a.Y == 12


def test_dependents_are_reloaded_after(root: Path, unique_name: str) -> None:
    base, user, user2, other = (f"{unique_name}_{s}" for s in ("base", "user", "user2", "other"))
    (root / f"{base}.py").write_text("def f():\n    return 1\nLIMIT = 5\n")
    (root / f"{user}.py").write_text(f"from {base} import f\ndef g():\n    return f()\n")
    (root / f"{user2}.py").write_text(f"from {user} import g\ndef h():\n    return g()\n")
    (root / f"{other}.py").write_text(f"from {base} import LIMIT\n")
    module_user2 = importlib.import_module(user2)
    module_other = importlib.import_module(other)
    module_base, module_user = sys.modules[base], sys.modules[user]
    modwrite.changed_modules()
    (root / f"{base}.py").write_text("def f():\n    return 2\nLIMIT = 5\n")
    assert modwrite.reload_changed(dependents=True) == [module_base, module_user, module_user2]
    assert module_user2.h() == 2
    assert module_other.LIMIT == 5
    (root / f"{base}.py").write_text("def f():\n    return 3\nLIMIT = 5\n")
    assert modwrite.reload_changed() == [module_base]
    assert module_user2.h() == 2  # without dependents, they keep the old f
