"""A model of two processes: writes, rewrites, package replacements,
deletions, imports and reloads on the 1-second filesystem.

One process (this one) writes with modwrite and imports; two long-lived
worker processes import too, one with CPython's stock machinery and one
with :func:`modwrite.install` (``model_worker.py``).  Bytecode writing is on
in all three, as a ``__pycache__`` file each writes at the start of every
example proves.  A hypothesis :class:`~hypothesis.stateful.RuleBasedStateMachine`
chooses the steps; the model keeps, for each name, the version last landed
(or nothing), and for each process the version each loaded module ran.
Every import and reload, in either process, is checked against it:

G1: "when write_module() returns, importing (or reloading) that name in the
same process yields the new source, with no waiting on the clock".
G2: "with the default visibility, when write_module() returns, every other
process's stock FileFinder sees the new file on its next lookup".
G3: "no process ever runs bytecode older than the source that write_module()
landed, including same-size same-second rewrites".
G6: "with modwrite's machinery installed, a file created by any tool before a
lookup starts is found, on any timestamp granularity".
G9: "modwrite.reload() and reload_changed() run the source that is on disk
now".

modwrite has no deletion API: a deletion is another tool's (``os.unlink`` of
the source and, as *Guarantees and limits* asks, of its ``__pycache__``
entries; ``shutil.rmtree`` of a package).

The fast part runs in CI (a fixed seed); the long part (3-7 minutes
on 2 cores, nearly all of it the visibility waits of the writes)::

    MODWRITE_MODEL_EXAMPLES=40 python -m pytest -p no:cacheprovider \\
        tests/property/test_two_processes.py -k TestTwoProcesses \\
        --hypothesis-show-statistics -s

prints the totals of every event (rules run, checks, same-second
collisions).  See docs/proving/model.rst.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.machinery
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.util import cache_from_source
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, event, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

import modwrite
import modwrite._package
import modwrite._settle
import modwrite._write
from modwrite._isolation import ImportState
from tests.children import PipedChild
from tests.faults import leftovers
from tests.property.model_worker import version_of

#: MODWRITE_MODEL_EXAMPLES=N runs the long part: N examples of up to
#: STEPS_LONG steps, random seeds.  Unset: the CI part, a fixed seed.
LONG_EXAMPLES = int(os.environ.get("MODWRITE_MODEL_EXAMPLES", "0") or 0)
CI_EXAMPLES = 6
STEPS_CI = 12
STEPS_LONG = 30

pytestmark = [
    pytest.mark.property,
    pytest.mark.coarse,
    pytest.mark.timeout(max(600, 30 * LONG_EXAMPLES)),  # shrinking may take 5 min more
]

MODULES = ("m0", "m1", "m2")
PACKAGES = ("p0", "p1")
MEMBERS = ("a", "b")
#: Names write_module() writes: top-level modules and package members.
WRITABLE = MODULES + tuple(f"{p}.{m}" for p in PACKAGES for m in MEMBERS)
#: Every name an importer may ask for.
IMPORTABLE = WRITABLE + PACKAGES
KINDS = ("stock", "installed")

#: Totals of every event of this run (hypothesis' statistics give the share
#: of examples in which an event occurred; these count occurrences).
COUNTS: Counter[str] = Counter()


def note(what: str) -> None:
    event(what)
    COUNTS[what] += 1


F = TypeVar("F", bound=Callable[..., None])


def counted(rule_function: F) -> F:
    """Note each run of a rule (an event: ``rule <name>``)."""

    @functools.wraps(rule_function)
    def counting(*args: Any, **kwargs: Any) -> None:
        note(f"rule {rule_function.__name__}")
        rule_function(*args, **kwargs)

    return counting  # type: ignore[return-value]


# -- sources ------------------------------------------------------------------------


@dataclass(frozen=True)
class Src:
    """One version of one file: its id, its text, and whether it defines a
    function (whose code tells what ran, see modwrite._changes)."""

    version: str
    text: str
    function: bool

    def __repr__(self) -> str:
        return self.version


def make_source(version: str, pad: int, function: bool) -> Src:
    """A module carrying its *version* id (fixed width: versions of the same
    *pad* and *function* have the same size, so rewrites collide)."""
    text = f"VERSION = {version!r}\n"
    if function:
        text += f"\n\ndef version():\n    return {version!r}\n"
    text += "#" * pad + "\n" if pad else ""
    return Src(version, text, function)


def directory_of(name: str) -> str:
    """The model's key of the directory *name* is found in: ``""`` for the
    example's root, the package's name for a member."""
    return name.rpartition(".")[0]


# -- the worker processes -----------------------------------------------------------


class WorkerProcess(PipedChild):
    """A model_worker process driven over a pipe (one JSON object a line)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} worker", "tests.property.model_worker", kind)
        hello = self.hello
        if not (
            hello["ready"]
            and hello["installed"] == (kind == "installed")
            and hello["dont_write_bytecode"] is False
        ):
            self.close()
            raise AssertionError(f"the {kind} worker's greeting: {hello}")

    def ask(self, **command: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.send(command)
        if "traceback" in answer:
            raise AssertionError(f"{self.name}: {command}:\n{answer['traceback']}")
        if answer["warnings"]:
            raise AssertionError(f"{self.name}: {command}: warnings {answer['warnings']}")
        return answer


@dataclass
class World:
    """What the examples of one test share: a directory on the 1-second
    filesystem (each example works in a fresh subdirectory of it) and the
    two workers."""

    base: Path
    workers: dict[str, WorkerProcess]
    #: False when the visibility wait is switched off (a broken writer):
    #: then no write makes its directory settled for the model.
    waits: bool = True


# -- the model ----------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """A loaded module in one process: the version it ran, and the version
    modwrite knows ran (``None``: no record yet; the first check learns it,
    see modwrite._changes); *leftover*: its namespace may still hold the
    ``version()`` function of an earlier version (a reload in place runs in
    the old namespace), whose code the first check takes for what ran."""

    src: Src
    record: Src | None = None
    leftover: bool = False

    def reloaded(self, src: Src, record: Src | None = None) -> Ran:
        """The same module object after a reload in place ran *src*."""
        leftover = (self.src.function or self.leftover) and not src.function
        return Ran(src, record, leftover)


class Importer:
    """One importing process as the model sees it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "here", "stock" or "installed"
        self.loaded: dict[str, Ran] = {}
        #: Package directories whose sys.path_importer_cache entry is a
        #: finder, or None (the directory was missing at the first lookup).
        self.finders: set[str] = set()
        self.none_entries: set[str] = set()


@dataclass(frozen=True)
class Outcome:
    """One answer the model allows: whether the module was *found*, what
    is *loaded* afterwards, the package directories the process *looked_in*
    (their first lookup caches a finder, or None if missing), and those
    whose None entry modwrite dropped (*revived*)."""

    found: bool
    loaded: dict[str, Ran]
    looked_in: tuple[str, ...] = ()
    revived: tuple[str, ...] = ()


class TwoProcesses(RuleBasedStateMachine):
    """Writes in this process; imports and reloads here and in two workers."""

    world: ClassVar[World | None] = None
    _examples = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        assert world is not None, "run through the two_process_world fixture"
        self.workers = world.workers
        self.waits = world.waits
        number = next(self._examples)
        self.prefix = f"e{number}_"
        self.root = Path(tempfile.mkdtemp(prefix=f"example{number}-", dir=world.base))
        self.disk: dict[str, Src] = {}
        self.unsettled: set[str] = set()
        self.importers = {kind: Importer(kind) for kind in ("here", *KINDS)}
        self._versions = itertools.count(1)
        self._state = ImportState.capture()
        sys.dont_write_bytecode = False
        sys.path.insert(0, str(self.root))
        COUNTS["examples"] += 1
        # Each importer lists the directory now (a cached listing is what
        # G2 is about) by importing a module plain open() wrote, which
        # leaves its bytecode cache: bytecode writing is on in all three.
        for kind in ("here", *KINDS):
            (self.root / f"{self.prefix}warm_{kind}.py").write_text("WARM = 1\n")
        warm = importlib.import_module(f"{self.prefix}warm_here")
        assert Path(warm.__cached__).exists(), "bytecode writing is off in this process"
        for kind, worker in self.workers.items():
            warm = f"{self.prefix}warm_{kind}"
            answer = worker.ask(
                op="reset", directory=str(self.root), prefix=self.prefix, warm=warm
            )
            assert answer["error"] is None, answer
            assert answer["pyc_exists"] and not answer["dont_write_bytecode"], answer
            stock = f"{importlib.machinery.FileFinder.__module__}.FileFinder"
            expected = "modwrite.machinery.FileFinder" if kind == "installed" else stock
            assert answer["finder"] == expected, answer

    def teardown(self) -> None:
        self._state.restore()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------

    def full(self, name: str) -> str:
        return self.prefix + name

    def short(self, name: str) -> str:
        assert name.startswith(self.prefix), name
        return name[len(self.prefix) :]

    def path_of(self, name: str) -> Path:
        """The file of module *name* (a package's ``__init__.py``)."""
        if name in PACKAGES:
            return self.root / self.full(name) / "__init__.py"
        return self.root.joinpath(*self.full(name).split(".")).with_suffix(".py")

    def new_source(self, pad: int, function: bool) -> Src:
        return make_source(f"v{next(self._versions):04d}", pad, function)

    def ensure_package(self, name: str) -> None:
        """Write the package of the member *name* first if it is missing."""
        package = directory_of(name)
        if package and package not in self.disk:
            self.replace_package(package, set(), 0, True)

    def can_write(self, name: str) -> bool:
        package = directory_of(name)
        return not package or package in self.disk

    def land(self, name: str, src: Src, visibility: str) -> None:
        """The model's side of a landed write_module()."""
        self.disk[name] = src
        self._landed_in(directory_of(name), visibility)

    def _landed_in(self, directory: str, visibility: str) -> None:
        if visibility == "system" and self.waits:
            self.unsettled.discard(directory)
        else:
            self.unsettled.add(directory)

    def write_module(
        self, name: str, src: Src, *, visibility: str = "system", bytecode: bool = True
    ) -> None:
        """write_module() and the model's side of it, noting same-second
        collisions (the stamp rule's cases)."""
        target = self.path_of(name)
        if not self.can_write(name):
            with pytest.raises(modwrite.ModuleWriteError):
                modwrite.write_module(
                    self.full(name), src.text, root=self.root, visibility=visibility
                )
            assert not target.parent.exists()
            note("write into a missing package: ModuleWriteError")
            return
        before = _stat(target)
        hazard = before is not None and _timestamp_pyc(target)
        clock = time.time()
        modwrite.write_module(
            self.full(name), src.text, root=self.root, visibility=visibility, bytecode=bytecode
        )
        after = _stat(target)
        assert after is not None
        self.land(name, src, visibility)
        note(f"write_module visibility={visibility} bytecode={bytecode}")
        if before is None:
            return
        size = len(src.text.encode())
        if int(before.st_mtime) >= int(clock) and size <= before.st_size:
            note("collision: rewrite in its predecessor's second, not longer")
            if size == before.st_size:
                note("collision: same size, same second")
                if hazard:
                    note("collision: same size, same second, over a timestamp pyc")
        if after.st_size > size:
            note("stamp rule: newlines appended")

    # -- rules: writes -------------------------------------------------------------

    @rule(
        name=st.sampled_from(WRITABLE),
        pad=st.integers(0, 1),
        function=st.booleans(),
        visibility=st.sampled_from(["process", "system"]),
        bytecode=st.booleans(),
    )
    @counted
    def write(self, name: str, pad: int, function: bool, visibility: str, bytecode: bool) -> None:
        self.write_module(
            name, self.new_source(pad, function), visibility=visibility, bytecode=bytecode
        )

    @rule(
        package=st.sampled_from(PACKAGES),
        members=st.sets(st.sampled_from(MEMBERS)),
        pad=st.integers(0, 1),
        function=st.booleans(),
        visibility=st.sampled_from(["process", "system"]),
        bytecode=st.booleans(),
    )
    @counted
    def write_package(
        self,
        package: str,
        members: set[str],
        pad: int,
        function: bool,
        visibility: str,
        bytecode: bool,
    ) -> None:
        self.replace_package(package, members, pad, function, visibility, bytecode)

    def replace_package(
        self,
        package: str,
        members: set[str],
        pad: int,
        function: bool,
        visibility: str = "system",
        bytecode: bool = True,
    ) -> None:
        sources = {"__init__": self.new_source(pad, function)}
        sources.update((m, self.new_source(pad, function)) for m in sorted(members))
        note(f"write_package ({'replaces' if package in self.disk else 'new'})")
        modwrite.write_package(
            self.full(package),
            {key: src.text for key, src in sources.items()},
            root=self.root,
            visibility=visibility,
            bytecode=bytecode,
        )
        for member in MEMBERS:
            self.disk.pop(f"{package}.{member}", None)
        self.disk[package] = sources.pop("__init__")
        for member, src in sources.items():
            self.disk[f"{package}.{member}"] = src
        self._landed_in("", visibility)
        self._landed_in(package, visibility)

    @rule(
        name=st.sampled_from(WRITABLE),
        count=st.integers(2, 4),
        pad=st.integers(0, 1),
        bytecode=st.booleans(),
        visibility=st.sampled_from(["process", "system"]),
    )
    @counted
    def rapid_rewrites(
        self, name: str, count: int, pad: int, bytecode: bool, visibility: str
    ) -> None:
        """Same-size versions back to back (the last one with *visibility*):
        within one second on this filesystem."""
        self.ensure_package(name)
        for i in range(count):
            last = i == count - 1
            self.write_module(
                name,
                self.new_source(pad, False),
                visibility=visibility if last else "process",
                bytecode=bytecode,
            )

    @rule(
        name=st.sampled_from(MODULES),
        kind=st.sampled_from(("here", *KINDS)),
        pad=st.integers(0, 1),
        how=st.sampled_from(["importlib", "import"]),
    )
    @counted
    def rewrite_under_a_reader(self, name: str, kind: str, pad: int, how: str) -> None:
        """G3's case: a module without a bytecode cache (another tool cleaned
        ``__pycache__``), written and imported by an importer, which writes a
        timestamp pyc; then a same-size version in the same second, and the
        importer imports or reloads it again.  For a worker, the first write
        waits for visibility (so the rest starts at the beginning of a
        second, and the worker finds the module)."""
        first = "process" if kind == "here" else "system"
        self.write_module(name, self.new_source(pad, False), visibility=first, bytecode=False)
        _remove_pycs(self.path_of(name))
        self.write_module(name, self.new_source(pad, False), visibility="process", bytecode=False)
        self.import_in(kind, name)
        self.write_module(name, self.new_source(pad, False), visibility="process", bytecode=False)
        if how == "import":
            self.import_in(kind, name)
        else:
            self.reload_in(kind, name, "importlib")

    def import_in(self, kind: str, name: str) -> None:
        if kind == "here":
            self.here_import(name)
        else:
            self.worker_import(kind, name)

    def reload_in(self, kind: str, name: str, how: str) -> None:
        if kind == "here":
            self.here_reload(name, how)
        else:
            self.worker_reload(kind, name, how)

    @rule(
        writes=st.lists(
            st.tuples(st.sampled_from(WRITABLE), st.integers(0, 1), st.booleans()),
            min_size=2,
            max_size=4,
        ),
        package=st.none()
        | st.tuples(st.sampled_from(PACKAGES), st.sets(st.sampled_from(MEMBERS))),
    )
    @counted
    def batch(
        self, writes: list[tuple[str, int, bool]], package: tuple[str, set[str]] | None
    ) -> None:
        """Several writes in one modwrite.batch(): each importable here at
        once (G1), the visibility wait paid once at the end."""
        with modwrite.batch():
            if package is not None:
                self.replace_package(package[0], package[1], 0, True)
            for name, pad, function in writes:
                self.ensure_package(name)
                self.write_module(name, self.new_source(pad, function))
                if name in self.disk:
                    self.here_import(name)
        note("batch")

    @rule(name=st.sampled_from(WRITABLE))
    @counted
    def rewrite_identical(self, name: str) -> None:
        """The same bytes again: no change for reload_changed (G9)."""
        if name not in self.disk:
            note("nothing to rewrite")
            return
        self.write_module(name, self.disk[name], visibility="process")
        note("rewrite with identical bytes")

    @rule(name=st.sampled_from(IMPORTABLE))
    @counted
    def delete(self, name: str) -> None:
        """Another tool deletes a module (and its __pycache__ entries, as the
        guarantees page asks) or a package."""
        if name not in self.disk:
            note("nothing to delete")
            return
        if name in PACKAGES:
            shutil.rmtree(self.root / self.full(name))
            for member in MEMBERS:
                self.disk.pop(f"{name}.{member}", None)
            note("delete a package (rmtree)")
        else:
            self.path_of(name).unlink()
            _remove_pycs(self.path_of(name))
            note("delete a module and its pycs")
        del self.disk[name]

    # -- rules: this process ---------------------------------------------------------

    @rule(name=st.sampled_from(IMPORTABLE))
    @counted
    def import_here(self, name: str) -> None:
        self.here_import(name)

    def here_import(self, name: str) -> None:
        importer = self.importers["here"]
        _drop(self.full(name))
        try:
            importlib.import_module(self.full(name))
        except ModuleNotFoundError:
            found = False
        else:
            found = True
        self.check(importer, f"import {name}", self.import_outcomes(importer, name), found)

    @rule(name=st.sampled_from(IMPORTABLE), how=st.sampled_from(["importlib", "modwrite"]))
    @counted
    def reload_here(self, name: str, how: str) -> None:
        """Reload *name* (imported first if it is not loaded)."""
        if name not in self.importers["here"].loaded:
            self.here_import(name)
        self.here_reload(name, how)

    def here_reload(self, name: str, how: str) -> None:
        importer = self.importers["here"]
        if name not in importer.loaded:
            return  # the import before it found nothing
        module = sys.modules[self.full(name)]
        try:
            if how == "modwrite":
                modwrite.reload(module)
            else:
                importlib.reload(module)
        except ImportError as exc:
            found = False
            assert how != "modwrite" or isinstance(exc, modwrite.ReloadError), exc
        else:
            found = True
        self.check(
            importer, f"{how}.reload({name})", self.reload_outcomes(importer, name, how), found
        )

    @rule()
    @counted
    def reload_changed_here(self) -> None:
        importer = self.importers["here"]
        modules = [sys.modules[self.full(n)] for n in importer.loaded]
        reloaded = sorted(self.short(m.__name__) for m in modwrite.reload_changed(modules=modules))
        self.check_reload_changed(importer, reloaded, self.here_versions())

    # -- rules: the workers ----------------------------------------------------------

    @rule(kind=st.sampled_from(KINDS), name=st.sampled_from(IMPORTABLE))
    @counted
    def import_in_worker(self, kind: str, name: str) -> None:
        self.worker_import(kind, name)

    def worker_import(self, kind: str, name: str) -> None:
        importer = self.importers[kind]
        answer = self.workers[kind].ask(op="import", name=self.full(name))
        found = self._found(answer, "ModuleNotFoundError")
        outcomes = self.import_outcomes(importer, name)
        self.check(importer, f"import {name}", outcomes, found, self._versions_of(answer))

    @rule(
        kind=st.sampled_from(KINDS),
        name=st.sampled_from(IMPORTABLE),
        how=st.sampled_from(["importlib", "modwrite"]),
    )
    @counted
    def reload_in_worker(self, kind: str, name: str, how: str) -> None:
        """Reload *name* in a worker (imported first if it is not loaded)."""
        if name not in self.importers[kind].loaded:
            self.worker_import(kind, name)
        self.worker_reload(kind, name, how)

    def worker_reload(self, kind: str, name: str, how: str) -> None:
        importer = self.importers[kind]
        if name not in importer.loaded:
            return  # the import before it found nothing
        answer = self.workers[kind].ask(op="reload", name=self.full(name), how=how)
        found = self._found(answer, "ReloadError" if how == "modwrite" else "ModuleNotFoundError")
        outcomes = self.reload_outcomes(importer, name, how)
        self.check(importer, f"{how}.reload({name})", outcomes, found, self._versions_of(answer))

    @rule(kind=st.sampled_from(KINDS))
    @counted
    def reload_changed_in_worker(self, kind: str) -> None:
        importer = self.importers[kind]
        answer = self.workers[kind].ask(op="reload_changed")
        assert answer["error"] is None, answer
        reloaded = sorted(self.short(n) for n in answer["reloaded"])
        self.check_reload_changed(importer, reloaded, self._versions_of(answer))

    # -- what the model expects ------------------------------------------------------

    def lookup(self, importer: Importer, name: str) -> list[Src | None]:
        """What a finder of *importer* may find for *name* now: the model's
        version, or nothing where it is absent.  A stock finder whose
        directory had a landing since its last visibility wait (a
        ``visibility="process"`` write) may miss a present file (G2 holds
        for the default visibility only); a None entry (the package's
        directory was missing at the process's first lookup in it) misses
        everything: documented under *Other processes' None entries*."""
        directory = directory_of(name)
        if directory and importer.kind != "here" and directory in importer.none_entries:
            return [None]
        src = self.disk.get(name)
        if src is None:
            return [None]
        if importer.kind == "stock" and directory in self.unsettled:
            return [src, None]
        return [src]

    def import_outcomes(self, importer: Importer, name: str) -> list[Outcome]:
        """A fresh import of *name* (its submodules dropped, not its parent)."""
        base = {n: r for n, r in importer.loaded.items() if n != name and directory_of(n) != name}
        parent = directory_of(name)
        if parent and parent not in base:
            outcomes: list[Outcome] = []
            for found in self.lookup(importer, parent):
                if found is None:
                    outcomes.append(Outcome(False, base))
                else:
                    outcomes += self._one(importer, name, {**base, parent: Ran(found)})
            return outcomes
        return self._one(importer, name, base)

    def _one(
        self, importer: Importer, name: str, base: dict[str, Ran], *, reload: bool = False
    ) -> list[Outcome]:
        looked_in = (directory_of(name),) if directory_of(name) else ()
        return [
            Outcome(False, base, looked_in)
            if src is None
            else Outcome(
                True,
                {**base, name: base[name].reloaded(src) if reload else Ran(src)},
                looked_in,
            )
            for src in self.lookup(importer, name)
        ]

    def reload_outcomes(self, importer: Importer, name: str, how: str) -> list[Outcome]:
        loaded = importer.loaded
        if how == "modwrite":
            # modwrite.reload() drops the directory's finders (None entries
            # too) and compiles the bytes on disk (G9).
            src = self.disk.get(name)
            if src is None:
                return [Outcome(False, loaded)]
            revived = (directory_of(name),) if directory_of(name) else ()
            ran = loaded[name].reloaded(src, src)
            return [Outcome(True, {**loaded, name: ran}, revived=revived)]
        return self._one(importer, name, loaded, reload=True)

    def check(
        self,
        importer: Importer,
        what: str,
        outcomes: list[Outcome],
        found: bool,
        versions: dict[str, str | None] | None = None,
    ) -> None:
        """The process's answer must be one of *outcomes*; the model takes it."""
        if versions is None:
            versions = self.here_versions()
        for outcome in outcomes:
            if outcome.found == found and _ran_as(versions, outcome.loaded):
                verb = what.partition(" ")[0].partition("(")[0]
                note(f"{importer.kind}: {verb}, {'found' if found else 'not found'}")
                if len(outcomes) > 1 and not found:
                    note(f"{importer.kind}: missed a file landed with visibility='process'")
                importer.loaded = dict(outcome.loaded)
                self.looked_in(importer, outcome.looked_in, outcome.revived)
                return
        expected = [
            ("found" if o.found else "not found", {n: r.src.version for n, r in o.loaded.items()})
            for o in outcomes
        ]
        raise AssertionError(
            f"{importer.kind}: {what}: {'found' if found else 'not found'}, "
            f"loaded {versions}; the model expects one of {expected} "
            f"(on disk: {self.disk}, unsettled: {sorted(self.unsettled)})"
        )

    def looked_in(
        self, importer: Importer, directories: tuple[str, ...], revived: tuple[str, ...] = ()
    ) -> None:
        """A process looked for modules in the package *directories*: its
        first lookup in each caches a finder, or None when the directory is
        missing (CPython's PathFinder; a None entry is never looked at
        again).  modwrite's invalidation drops None entries (*revived*)."""
        if importer.kind == "here":
            return  # modwrite's writes invalidate this process's entries (G5)
        for directory in revived:
            importer.none_entries.discard(directory)
            importer.finders.add(directory)
        for directory in directories:
            if directory in importer.none_entries:
                note(f"{importer.kind}: a lookup through a None entry (documented)")
            elif directory not in importer.finders:
                if directory in self.disk:
                    importer.finders.add(directory)
                else:
                    importer.none_entries.add(directory)

    def check_reload_changed(
        self, importer: Importer, reloaded: list[str], versions: dict[str, str | None]
    ) -> None:
        """reload_changed() reloads the loaded modules whose file holds other
        bytes than those that ran (G9), and only those.

        What modwrite knows ran is its record (:class:`Ran`); without one
        the first check learns it.  The how-to on re-importing names the
        one case a worker cannot know: a module without functions whose
        file and bytecode cache another process replaced since its import
        (here: any write of this process); its first check takes the file
        for what ran.  The converse, harmless: a first check of a module
        holding a function of an earlier version (left by a reload in
        place) reloads it although its file did not change."""
        after: dict[str, Ran] = {}
        problems = []
        for name, ran in sorted(importer.loaded.items()):
            src = self.disk.get(name)
            if src is None:  # gone: nothing to reload from
                must: bool | None = False
                after[name] = ran
            else:
                known = ran.record if ran.record is not None else ran.src
                must = src.text != known.text
                did = name in reloaded
                first_check = ran.record is None
                if must and first_check and importer.kind != "here" and not ran.src.function:
                    must = None  # the documented case: either
                    note(
                        f"{importer.kind}: first check of a rewritten module without "
                        f"functions: {'reloaded' if did else 'taken for what ran'}"
                    )
                elif not must and did and first_check and ran.leftover:
                    # The first check compares the module's functions with the
                    # file's code: a leftover one differs.  A harmless reload.
                    must = None
                    note(f"{importer.kind}: reloaded, unchanged, holding an old function")
                if did and directory_of(name):
                    self.looked_in(importer, (), (directory_of(name),))
                after[name] = (
                    ran.reloaded(src, src) if did else dataclasses.replace(ran, record=src)
                )
            if must is not None and must != (name in reloaded):
                problems.append(
                    f"{name} ran {ran.src} (known: {ran.record}), disk {src}: "
                    f"{'not ' if must else ''}expected in reload_changed()"
                )
        expected_versions = {n: r.src.version for n, r in after.items()}
        if problems or not _ran_as(versions, after):
            raise AssertionError(
                f"{importer.kind}: reload_changed() reloaded {reloaded}, loaded {versions}: "
                f"{'; '.join(problems) or f'the model expects {expected_versions}'} "
                f"(on disk: {self.disk})"
            )
        count = {0: "none", 1: "one"}.get(len(reloaded), "several")
        note(f"{importer.kind}: reload_changed reloaded {count}")
        importer.loaded = after

    def here_versions(self) -> dict[str, str | None]:
        return {
            self.short(name): version_of(module)
            for name, module in sys.modules.items()
            if name.startswith(self.prefix) and "warm_" not in name
        }

    def _versions_of(self, answer: dict[str, Any]) -> dict[str, str | None]:
        return {self.short(n): v for n, v in answer["loaded"].items()}

    @staticmethod
    def _found(answer: dict[str, Any], miss: str) -> bool:
        if answer["error"] is None:
            return True
        assert miss in answer["error_types"], answer
        return False

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def disk_holds_the_model(self) -> None:
        """Every name's file holds the model's version (plus the newlines
        the stamp rule may append), absent names have none, and no
        temporary name is left (G4)."""
        COUNTS["disk checks"] += 1  # after __init__ and after each step
        for name in IMPORTABLE:
            path = self.path_of(name)
            src = self.disk.get(name)
            if src is None:
                assert not path.exists(), f"{name} should be absent: {path} exists"
                continue
            data = path.read_bytes()
            assert data.startswith(src.text.encode()) and not data[len(src.text) :].strip(), (
                f"{name}: {data!r} on disk, the model says {src.text!r}"
            )
        assert leftovers(self.root) == []


def _ran_as(versions: dict[str, str | None], loaded: dict[str, Ran]) -> bool:
    """Did the process run the versions *loaded* says?  A version without a
    ``version()`` function may keep the one an earlier version defined (a
    reload runs in the module's namespace), not one that has it."""
    if versions.keys() != loaded.keys():
        return False
    for name, ran in loaded.items():
        reported = versions[name] or ""
        if ran.src.function:
            if reported != ran.src.version:
                return False
        elif reported.partition("+")[0] != ran.src.version:
            return False
    return True


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _timestamp_pyc(source: Path) -> bool:
    """Is the bytecode cache of *source* a timestamp pyc (PEP 552 flags 0)?"""
    try:
        header = Path(cache_from_source(str(source))).read_bytes()[:8]
    except OSError:
        return False
    return len(header) == 8 and header[4:8] == b"\0\0\0\0"


def _remove_pycs(source: Path) -> None:
    """Remove the bytecode caches of *source* (every optimization level)."""
    for pyc in source.parent.joinpath("__pycache__").glob(f"{source.stem}.*.pyc"):
        pyc.unlink()


def _drop(name: str) -> None:
    """Drop *name* and its submodules from this process's sys.modules."""
    for loaded in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
        del sys.modules[loaded]


# -- running it ----------------------------------------------------------------------


#: MODWRITE_MODEL_SHRINK=0: report a failing sequence as found (shrinking
#: one re-runs it hundreds of times, a second or more each on this
#: filesystem; hypothesis gives up after five minutes).
SHRINK = os.environ.get("MODWRITE_MODEL_SHRINK", "1") != "0"


def model_settings(examples: int, steps: int, *, derandomize: bool) -> settings:
    phases = list(Phase) if SHRINK else [p for p in Phase if p is not Phase.shrink]
    return settings(
        max_examples=examples,
        phases=phases,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize,
        database=None if derandomize else settings.default.database,
        suppress_health_check=list(HealthCheck),
    )


#: CI: a fixed seed (on the machine class: it takes precedence over
#: ``derandomize``, which only keeps the example database out here), so that
#: a failure there is reproducible and the run's length (its visibility
#: waits) does not change with every edit of this file, as derandomize's
#: seed (a digest of the code) would; the long run, and the broken writers'
#: test with MODWRITE_MODEL_BROKEN_RANDOM=1: random seeds (hypothesis prints
#: how to reproduce a failure).
CI_SEED = int(os.environ.get("MODWRITE_MODEL_SEED", "1"))
BROKEN_RANDOM = os.environ.get("MODWRITE_MODEL_BROKEN_RANDOM") == "1"
MODEL_SETTINGS = (
    model_settings(LONG_EXAMPLES, STEPS_LONG, derandomize=False)
    if LONG_EXAMPLES
    else model_settings(CI_EXAMPLES, STEPS_CI, derandomize=True)
)
if not (LONG_EXAMPLES or BROKEN_RANDOM):
    seed(CI_SEED)(TwoProcesses)


@pytest.fixture(scope="module")
def two_process_world(coarse_ext4_root: Path) -> Iterator[World]:
    """The 1-second ext4 (a directory of it for this module) and the two
    workers, started once for all examples."""
    base = Path(tempfile.mkdtemp(prefix="two-processes-", dir=coarse_ext4_root))
    probe = base / "probe"
    probe.write_text("")
    assert probe.stat().st_mtime_ns % 1_000_000_000 == 0, "not a 1-second filesystem"
    probe.unlink()
    workers: dict[str, WorkerProcess] = {}
    try:
        for kind in KINDS:
            workers[kind] = WorkerProcess(kind)
        yield World(base, workers)
    finally:
        for worker in workers.values():
            worker.close()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def machine_in(world: World) -> Iterator[type[TwoProcesses]]:
    TwoProcesses.world = world
    try:
        yield TwoProcesses
    finally:
        TwoProcesses.world = None


def _report(title: str) -> None:
    """Print the run's totals: examples, steps, time, the visibility waits
    in it, then every event."""
    counts = dict(COUNTS)
    examples = counts.pop("examples", 0)
    steps = counts.pop("disk checks", 0) - examples
    seconds = counts.pop("seconds", 0)
    waits = counts.pop("visibility waits", 0)
    waited = counts.pop("visibility waits, ms", 0) / 1000
    print(
        f"\n{title}: {examples} examples, {steps} steps in {seconds} s, of which "
        f"{waited:.0f} s in {waits} visibility waits (Python {sys.version.split()[0]})"
    )
    for what, count in sorted(counts.items()):
        print(f"  {count:6d}  {what}")


class TestTwoProcesses(TwoProcesses.TestCase):  # type: ignore[name-defined,misc]
    """The machine as a hypothesis test (its statistics show the events)."""

    settings = MODEL_SETTINGS

    @pytest.fixture(autouse=True)
    def _world(self, two_process_world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        COUNTS.clear()
        real = modwrite._settle._settle_directories

        def timed(*args: Any, **kwargs: Any) -> None:
            start = time.monotonic()
            try:
                real(*args, **kwargs)
            finally:
                COUNTS["visibility waits"] += 1
                COUNTS["visibility waits, ms"] += round((time.monotonic() - start) * 1000)

        monkeypatch.setattr(modwrite._settle, "_settle_directories", timed)
        started = time.monotonic()
        with machine_in(two_process_world):
            yield
        COUNTS["seconds"] = round(time.monotonic() - started)
        _report("two-process model")


#: The broken writers the machine must catch, and the few examples it needs
#: with a fixed seed (measured: it fails within the first ones).
BROKEN_EXAMPLES = 200


def _without_stamp_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer without G3's stamp rule: a same-size rewrite in the same
    second keeps its predecessor's (second, size)."""
    for module in (modwrite._write, modwrite._package):
        monkeypatch.setattr(module, "make_stamp_unique", lambda *args, **kwargs: 0)


def _without_visibility_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer without G2's visibility wait: the directory's mtime may stay
    in the landing's second (batches included)."""
    monkeypatch.setattr(modwrite._write, "make_visible", lambda *args, **kwargs: None)


def _without_stamp_rule_nor_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stamp rule off, and the visibility wait too, the model told so
    (a miss is then allowed, a stale version is not): no second is spent
    waiting, so the counterexample comes within seconds."""
    _without_stamp_rule(monkeypatch)
    _without_visibility_wait(monkeypatch)


@pytest.mark.parametrize(
    ("breakage", "waits", "guarantee", "symptom"),
    [
        (_without_stamp_rule_nor_wait, False, "G3", ": found, loaded"),  # an old version ran
        (_without_visibility_wait, True, "G2", ": not found, loaded"),  # a new file missed
    ],
    ids=["no-stamp-rule", "no-visibility-wait"],
)
def test_the_model_catches_a_broken_writer(
    two_process_world: World,
    monkeypatch: pytest.MonkeyPatch,
    breakage: Any,
    waits: bool,
    guarantee: str,
    symptom: str,
) -> None:
    """The machine can fail: with one of modwrite's mechanisms switched off,
    it finds a counterexample within a few examples (no shrinking): an
    importer runs an old version (G3), or misses a new module (G2)."""
    breakage(monkeypatch)
    broken = settings(
        model_settings(BROKEN_EXAMPLES, STEPS_CI, derandomize=not BROKEN_RANDOM),
        phases=[Phase.generate],
    )
    world = dataclasses.replace(two_process_world, waits=waits)
    # A race lost on one run may be won on hypothesis' replay of it: that
    # is a FlakyFailure, holding the first run's AssertionError.
    with machine_in(world) as machine, pytest.raises((AssertionError, FlakyFailure)) as caught:
        run_state_machine_as_test(machine, settings=broken)
    failure = caught.value
    if isinstance(failure, FlakyFailure):
        failure = next(e for e in failure.exceptions if isinstance(e, AssertionError))
    message = str(failure)
    assert symptom in message, message
    print(f"\n{guarantee} broken, the model says: {message}")
