"""The commit-point rule under faults at every filesystem call.

For each scenario (one write_module -- new, rewrite, same-size rewrite
(the stamp rule), parents=True, durable --, one write_package on the
exchange path, on the two-rename fallback, with parents=True and durable,
one batch()), the filesystem calls
of one run are counted, then the scenario is run again once per call N and
per fault (see :mod:`tests.faults`): an ``OSError`` (EIO, ENOENT, ENOSPC),
a ``KeyboardInterrupt`` raised by the call, a SIGINT or SIGTERM received
during the call, all with the writer alive afterwards; and SIGKILL before
and after the call, in a child, followed by
``modwrite clean``.  Each outcome is checked against the rule the
documentation states:

* a modwrite exception means nothing landed: the disk is as it was, with no
  leftover, no new parent package, the old tree in place;
* a write that returns landed whole: the new version stands, in this
  process's imports too (G1); leftovers only with a
  :class:`~modwrite.PostCommitWarning`, and ``clean`` removes them while the
  writer lives;
* a ``KeyboardInterrupt`` (or the ``SystemExit`` of a SIGTERM handler)
  leaves one of the two, never a mix;
* no descriptor leaks, no directory lock stays held, the signal handlers are
  restored;
* after SIGKILL, ``clean`` leaves the old or the new version and no leftover.

CI runs the bounded sweep (three errnos, the fine-grained filesystem) at
every call on one interpreter, and at the calls :data:`SAMPLE` keeps on the
others (``MODWRITE_SWEEP=sample``).  The full sweep adds more errnos and the
1-second filesystem::

    MODWRITE_SWEEP=full .venv/bin/python -m pytest tests/test_sweep.py
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import modwrite
from modwrite import _clean
from modwrite._parked import parked_trees

from .conftest import leftovers
from .faults import (
    CommitPointViolation,
    Injection,
    clean_after_kill,
    crash_between_the_fallback_renames,
    inject,
    lock_is_free,
    no_exchange,
    open_fds,
    run_in_child,
    snapshot,
    state_index,
)

FULL = os.environ.get("MODWRITE_SWEEP") == "full"
#: MODWRITE_SWEEP=sample (CI, on all interpreters but one): every call that
#: changes a directory's entries, takes the lock or syncs (the commit points
#: and the steps around them), and one in SAMPLE_EVERY of the others.
SAMPLE = os.environ.get("MODWRITE_SWEEP") == "sample"
SAMPLE_EVERY = 3
ALWAYS_SWEPT = frozenset(
    {"replace", "rename", "renameat2", "unlink", "rmdir", "mkdir", "symlink", "utime", "flock"}
    | {"fsync"}
)
ERRNOS = (
    (errno.EIO, errno.ENOENT, errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EPERM, errno.EMFILE)
    if FULL
    else (errno.EIO, errno.ENOENT, errno.ENOSPC)
)


@dataclass(frozen=True)
class Scenario:
    """A write and the disk states it may leave.

    *setup* makes the old state under a root; *steps* are the writes, in
    order: the states allowed after a fault are the old one and the one
    after each step (a batch is atomic per write, not as a whole)."""

    name: str
    setup: Callable[[Path], None]
    steps: tuple[Callable[[Path], None], ...]
    modules: dict[str, str]  # module name -> attribute holding the version
    wrap: Callable[[], Iterator[None]] | None = None

    def run(self, root: Path) -> None:
        if len(self.steps) == 1:
            self.steps[0](root)
            return
        with modwrite.batch():
            for step in self.steps:
                step(root)


def _nothing(root: Path) -> None:
    pass


def _old_module(root: Path) -> None:
    modwrite.write_module("m", "V = 'old'\n", root=root)


def _old_package(root: Path) -> None:
    modwrite.write_package(
        "pkg",
        {"__init__": "V = 'old'\n", "a": "A = 1\n", "sub": {"b.py": "B = 1\n"}, "./d.txt": "x"},
        root=root,
    )


def _old_batch(root: Path) -> None:
    (root / "sub").mkdir()
    (root / "sub" / "__init__.py").write_text("")
    modwrite.write_module("m", "V = 'old'\n", root=root)


NEW_PACKAGE = {"__init__": "V = 'new!'\n", "c": "C = 2\n", "sub": {"e.py": "E = 2\n"}}


def _no_exchange() -> Iterator[None]:
    with no_exchange():
        yield


SCENARIOS = [
    Scenario(
        "module-new",
        _nothing,
        (lambda r: modwrite.write_module("m", "V = 'new!'\n", root=r),),
        {"m": "V"},
    ),
    Scenario(
        "module-rewrite",
        _old_module,
        (lambda r: modwrite.write_module("m", "V = 'new!'\n", root=r),),
        {"m": "V"},
    ),
    Scenario(
        "module-same-size",  # the stamp rule moves the new file's mtime
        lambda r: modwrite.write_module("m", "V = 'old!'\n", root=r),
        (lambda r: modwrite.write_module("m", "V = 'new!'\n", root=r),),
        {"m": "V"},
    ),
    Scenario(
        "module-parents",
        _nothing,
        (lambda r: modwrite.write_module("a.b.m", "V = 'new!'\n", root=r, parents=True),),
        {"a.b.m": "V"},
    ),
    Scenario(
        "package-exchange",
        _old_package,
        (lambda r: modwrite.write_package("pkg", NEW_PACKAGE, root=r),),
        {"pkg": "V"},
    ),
    Scenario(
        "package-fallback",
        _old_package,
        (lambda r: modwrite.write_package("pkg", NEW_PACKAGE, root=r),),
        {"pkg": "V"},
        wrap=_no_exchange,
    ),
    Scenario(
        "package-parents",
        _nothing,
        (lambda r: modwrite.write_package("a.pkg", NEW_PACKAGE, root=r, parents=True),),
        {"a.pkg": "V"},
    ),
    Scenario(
        "module-durable",
        _old_module,
        (lambda r: modwrite.write_module("m", "V = 'new!'\n", root=r, durable=True),),
        {"m": "V"},
    ),
    Scenario(
        "package-durable",
        _old_package,
        (lambda r: modwrite.write_package("pkg", NEW_PACKAGE, root=r, durable=True),),
        {"pkg": "V"},
    ),
    Scenario(
        "batch",
        _old_batch,
        (
            lambda r: modwrite.write_module("m", "V = 'new!'\n", root=r),
            lambda r: modwrite.write_module("sub.n", "V = 'new!'\n", root=r),
        ),
        {"m": "V", "sub.n": "V"},
    ),
]


def _wrapped(scenario: Scenario) -> Iterator[None]:
    if scenario.wrap is None:
        yield
    else:
        yield from scenario.wrap()


class Expected:
    """The states a scenario may leave, computed by running it unharmed."""

    def __init__(self, scenario: Scenario, base: Path) -> None:
        root = base / "expected"
        root.mkdir()
        scenario.setup(root)
        self.states = [snapshot(root)]
        for step in scenario.steps:
            gen = _wrapped(scenario)
            next(gen)
            try:
                step(root)
            finally:
                gen.close()
            self.states.append(snapshot(root))
        names = self._calls(scenario, base)
        self.calls = len(names)
        #: The calls to inject faults at (see :data:`SAMPLE`).
        self.points = [
            at
            for at, name in enumerate(names)
            if not SAMPLE or name in ALWAYS_SWEPT or at % SAMPLE_EVERY == 0
        ]

    @staticmethod
    def _calls(scenario: Scenario, base: Path) -> list[str]:
        root = base / "count"
        root.mkdir()
        scenario.setup(root)
        gen = _wrapped(scenario)
        next(gen)
        try:
            with inject(None) as recorder:
                scenario.run(root)
        finally:
            gen.close()
        return recorder.calls


def _fresh_root(base: Path, label: str) -> Path:
    root = base / label
    root.mkdir()
    return root


def _state_index(expected: Expected, root: Path) -> int:
    """Which allowed state the disk is in (modwrite's leftovers aside);
    fails the test when it is in none."""
    try:
        return state_index(expected.states, root)
    except CommitPointViolation as exc:
        pytest.fail(str(exc))


def _check_imports(scenario: Scenario, root: Path, version: str) -> None:
    """G1: this process imports the version on disk."""
    for name, attribute in scenario.modules.items():
        top = name.partition(".")[0]
        for loaded in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[loaded]
        module = importlib.import_module(name)
        assert getattr(module, attribute) == version, (name, version)


def _run_alive(scenario: Scenario, expected: Expected, base: Path, injection: Injection) -> bool:
    """Run the scenario with the injection, the writer staying alive; check
    the outcome against the rule.  Returns whether the injection fired."""
    label = f"{injection.mode}-{injection.errno}-{injection.signum}-{injection.at}"
    root = _fresh_root(base, label)
    scenario.setup(root)
    sys.path.insert(0, str(root))
    fds = open_fds()
    sigterm_handler = signal.getsignal(signal.SIGTERM)
    raised: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen = _wrapped(scenario)
        next(gen)
        try:
            with inject(injection) as recorder:
                scenario.run(root)
        except BaseException as exc:
            raised = exc
        finally:
            gen.close()
    where = f"{scenario.name}: {injection}: raised {raised!r}"
    state = _state_index(expected, root)
    post_commit = [w for w in caught if issubclass(w.category, modwrite.PostCommitWarning)]
    left = leftovers(root)
    if isinstance(raised, Exception):
        assert isinstance(raised, modwrite.ModwriteError), where
        assert state == 0 or len(scenario.steps) > 1, where
        assert left == [] or (state > 0 and post_commit), (where, left)
    elif raised is not None:
        assert isinstance(raised, (KeyboardInterrupt, SystemExit)), where
    else:
        assert state == len(expected.states) - 1, where
    if left:
        assert state > 0 and (post_commit or raised is not None), (where, left)
        removable = list(_clean.find_leftovers(str(root)))
        assert sorted(str(Path(x.path).relative_to(root)) for x in removable) == sorted(left), (
            where
        )
        _clean.clean(str(root))
        assert leftovers(root) == [], where
    assert_nothing_held(root, fds, where)
    assert signal.getsignal(signal.SIGTERM) is sigterm_handler, where
    if state == len(expected.states) - 1:
        _check_imports(scenario, root, "new!")
    sys.path.remove(str(root))
    return recorder.fired


def _run_killed(scenario: Scenario, expected: Expected, base: Path, injection: Injection) -> bool:
    """Kill a child writer at the injection; check what ``clean`` leaves.
    Returns whether the kill happened (the write may make fewer calls than
    counted, when timing changes its path: then it completed)."""
    root = _fresh_root(base, f"{injection.mode}-{injection.at}")
    scenario.setup(root)

    def child() -> None:
        gen = _wrapped(scenario)
        next(gen)
        with inject(injection):
            scenario.run(root)

    status = run_in_child(child)
    where = f"{scenario.name}: {injection}: exit {status}"
    if status == 0:  # the write made fewer calls this time: it completed
        assert _state_index(expected, root) == len(expected.states) - 1, where
        assert leftovers(root) == [], where
        return False
    assert status == -signal.SIGKILL, where
    # Between the fallback's renames, clean puts the package back.
    try:
        clean_after_kill(expected.states, root)
    except CommitPointViolation as exc:
        pytest.fail(f"{where}: {exc}")
    return True


@pytest.fixture
def sweep_base(tmp_path: Path, bytecode_on: None) -> Iterator[Path]:
    """A base directory, with SIGTERM handled in Python (``SystemExit``), as
    servers do: the sweep delivers it during calls too."""

    def terminate(signum: int, frame: object) -> None:
        sys.exit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield tmp_path
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_faults_while_the_writer_lives(scenario: Scenario, sweep_base: Path) -> None:
    expected = Expected(scenario, sweep_base)
    assert expected.calls > 5
    injections = [
        *(Injection("oserror", at, code) for at in expected.points for code in ERRNOS),
        *(Injection("interrupt", at) for at in expected.points),
        *(Injection("signal", at) for at in expected.points),
        *(Injection("signal", at, signum=signal.SIGTERM) for at in expected.points),
    ]
    fired = [_run_alive(scenario, expected, sweep_base, i) for i in injections]
    assert fired.count(True) >= 0.9 * len(fired)
    print(
        f"{scenario.name}: {expected.calls} calls, {len(expected.points)} swept, "
        f"{fired.count(True)} faults injected"
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_sigkill_then_clean(scenario: Scenario, sweep_base: Path) -> None:
    expected = Expected(scenario, sweep_base)
    killed = [
        _run_killed(scenario, expected, sweep_base, Injection(mode, at))
        for at in expected.points
        for mode in ("kill-before", "kill-after")
    ]
    assert killed.count(True) >= 0.9 * len(killed)
    print(
        f"{scenario.name}: {expected.calls} calls, {len(expected.points)} swept, "
        f"{killed.count(True)} writers killed"
    )


# -- a package left parked by a crash: put back by clean or a write, or written over --


PARKED_FILES = {"__init__": "V = 'old'\n", "core": "C = 1\n", "sub": {"b.py": "B = 1\n"}}


@dataclass(frozen=True)
class Repair:
    """What meets a package a crash left parked (see
    :func:`~tests.faults.crash_between_the_fallback_renames`).

    *run* is ``modwrite.clean``, a write_module() into the package (which
    puts the tree back first) or a write_package() over it (which trashes the
    parked tree once its own is in); *error* is the exception type it may
    raise when a call fails; *returns_in_place*: when it returns, the
    package is in place (a write that returns has landed)."""

    name: str
    run: Callable[[Path], object]
    error: type[BaseException] = modwrite.ModwriteError
    returns_in_place: bool = True


def _parked_root(base: Path, label: str) -> Path:
    root = _fresh_root(base, label)
    modwrite.write_package("pkg", PARKED_FILES, root=root)
    crash_between_the_fallback_renames(root)
    return root


class PackageLost(AssertionError):
    """The package a crash left parked is neither in place nor parked."""


REPAIRS = [
    pytest.param(
        # clean() raises an OSError only when the root cannot be listed, and
        # skips a directory whose listing fails (os.walk): then it returns
        # with the package still parked.
        Repair("clean", lambda r: modwrite.clean(r), OSError, returns_in_place=False),
        id="clean",
    ),
    pytest.param(
        Repair(
            "write-module-into", lambda r: modwrite.write_module("pkg.extra", "E = 1\n", root=r)
        ),
        id="write-module-into",
    ),
    pytest.param(
        Repair("write-package-over", lambda r: modwrite.write_package("pkg", NEW_PACKAGE, root=r)),
        id="write-package-over",
    ),
]


def assert_nothing_held(root: Path, fds: object, where: str) -> None:
    """No descriptor left open, no directory lock held, SIGINT's handler
    back: what every fault must leave."""
    if open_fds() != fds:  # a file object may wait for the collector
        gc.collect()
        assert open_fds() == fds, where
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        assert lock_is_free(directory), (where, directory)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, where


def _package_where(root: Path, where: str = "") -> tuple[str, dict[str, object]]:
    """Where the package is (``"in place"`` or ``"parked"``) and its files.

    :raises PackageLost: it is in neither place."""
    if (root / "pkg").exists():
        return "in place", snapshot(root / "pkg")
    trees = parked_trees(str(root), "pkg")
    if not trees or trees[0].tree is None:
        raise PackageLost(f"{where}: package lost: {sorted(snapshot(root))}")
    return "parked", snapshot(Path(trees[0].tree))


def _run_repair(
    repair: Repair,
    old: dict[str, object],
    final: dict[str, object],
    base: Path,
    injection: Injection,
) -> bool:
    """Run *repair* on a parked package with the injection, the writer
    staying alive: the package is in place or still parked, whole, and a
    second ``clean`` puts it back with nothing left over.  Returns whether
    the injection fired."""
    root = _parked_root(base, f"{injection.mode}-{injection.at}")
    sys.path.insert(0, str(root))
    fds = open_fds()
    raised: BaseException | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", modwrite.ModwriteWarning)
        try:
            with inject(injection) as recorder:
                repair.run(root)
        except BaseException as exc:
            raised = exc
    where = f"{repair.name}: {injection}: raised {raised!r}"
    assert raised is None or isinstance(raised, (repair.error, KeyboardInterrupt)), where
    place, tree = _package_where(root, where)
    if raised is None and repair.returns_in_place:
        assert (place, tree) == ("in place", final), where
    elif isinstance(raised, Exception):  # the write did not land
        assert tree == old, (where, place)
    else:
        assert tree in (old, final), (where, place)
    assert_nothing_held(root, fds, where)
    report = modwrite.clean(root)
    assert report.failed == [], where
    assert leftovers(root) == [], where
    assert _package_where(root, where) == ("in place", tree), where
    sys.path.remove(str(root))
    return recorder.fired


@pytest.mark.parametrize("repair", REPAIRS)
def test_faults_while_a_parked_package_is_put_back(repair: Repair, sweep_base: Path) -> None:
    """The package a crash left parked is never lost: whatever call of the
    repair fails (EIO) or is interrupted, the package is in place or still
    parked, whole, and ``clean`` then puts it back and leaves nothing."""
    written = _fresh_root(sweep_base, "written")
    modwrite.write_package("pkg", PARKED_FILES, root=written)
    old = snapshot(written / "pkg")
    expected = _parked_root(sweep_base, "expected")
    assert _package_where(expected) == ("parked", old)
    with inject(None) as recorder:
        repair.run(expected)
    place, final = _package_where(expected)
    assert place == "in place"
    modwrite.clean(expected)  # the crashed writer's staging tree
    assert leftovers(expected) == [] and _package_where(expected) == ("in place", final)
    calls = len(recorder.calls)
    assert calls > 5
    injections = [
        *(Injection("oserror", at, errno.EIO) for at in range(calls)),
        *(Injection("interrupt", at) for at in range(calls)),
    ]
    fired: list[bool] = []
    lost: list[str] = []  # reported together, once every other check has run
    for injection in injections:
        try:
            fired.append(_run_repair(repair, old, final, sweep_base, injection))
        except PackageLost as exc:
            fired.append(True)
            lost.append(str(exc))
    assert fired.count(True) >= 0.9 * len(fired)
    print(f"{repair.name}: {calls} calls, {fired.count(True)} faults injected")
    if lost:
        raise PackageLost("\n".join(lost))
