"""The writes the campaign interrupts, the disk states each may leave, and
the check that a fresh import sees one of them, verified by content.

Every source carries its module's name, a version and a payload, and the
SHA-256 of the three: an import that runs a torn, mixed or stale file (or
its stale bytecode) fails the check even when the file parses.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import modwrite
from modwrite._parked import parked_trees

from ..faults import (
    CommitPointViolation,
    crash_between_the_fallback_renames,
    no_exchange,
    state_on_disk,
)

__all__ = [
    "WriteScenario",
    "batch_scenario",
    "clean_scenario",
    "expected_states",
    "imported_version",
    "module_scenario",
    "package_files",
    "package_scenario",
    "package_versions",
    "parents_scenario",
    "source",
    "verify_import",
]

#: Prefix of every module name the campaign writes (none shadows a real one).
PREFIX = "fsim_"


def checksum(name: str, version: str, payload: str) -> str:
    return hashlib.sha256(f"{name}\0{version}\0{payload}".encode()).hexdigest()


def source(name: str, version: str, size: int) -> str:
    """The source of module *name* at *version*, with a *size*-character
    payload and the checksum of the three."""
    seed = hashlib.sha256(f"{name}:{version}".encode()).hexdigest()
    payload = (seed * (size // len(seed) + 1))[:size]
    return (
        f"NAME = {name!r}\nVERSION = {version!r}\nPAYLOAD = {payload!r}\n"
        f"CHECK = {checksum(name, version, payload)!r}\n"
    )


Versions = dict[str, "str | None"]  # module name -> version, None: must not import


@dataclass(frozen=True)
class WriteScenario:
    """One write (or a batch of them) and what it may leave.

    :ivar name: what the table calls it.
    :ivar fs: ``"fine"`` (nanosecond timestamps) or ``"coarse"`` (1 s).
    :ivar setup: makes the old version under a root (the campaign's parent
        runs it, with ``visibility="process"``).
    :ivar steps: the writes; more than one run in one :func:`modwrite.batch`.
    :ivar versions: for each allowed state (the old one, then the one after
        each step), what a fresh import of each module must find.
    :ivar wrap: a context the steps run in (``no_exchange``: the fallback).
    :ivar package: the leaf of the package the steps replace.
    :ivar parks_inside: the steps replace *package* on the two-rename
        fallback: inside its commit the package may be missing, parked
        (never on the exchange path, where one rename swaps the trees).
    :ivar parallel: how many writers the kill campaign runs at once (each
        under its own root).
    :ivar damage: run after *setup* (by the parent): a crash of an earlier
        writer that left *package* missing, its old tree parked; the first
        state is still the old version (what ``clean`` restores), and until
        the first commit point the package may be missing.
    """

    name: str
    fs: str
    setup: Callable[[Path], object]
    steps: tuple[Callable[[Path], object], ...]
    versions: tuple[Versions, ...]
    wrap: Callable[[], AbstractContextManager[None]] | None = None
    package: str | None = None
    parks_inside: bool = False
    parallel: int = 2
    damage: Callable[[Path], object] | None = None

    def prepare(self, root: Path) -> None:
        """The old version under *root*, and the damage if any."""
        self.setup(root)
        if self.damage is not None:
            self.damage(root)

    def context(self) -> AbstractContextManager[None]:
        return self.wrap() if self.wrap is not None else nullcontext()

    def run(self, root: Path, after_step: Callable[[int], object] | None = None) -> None:
        """Run the steps under *root*, in *wrap*, in one
        :func:`modwrite.batch` when there are several; after each,
        *after_step* gets how many have returned (inside the batch)."""
        with self.context(), modwrite.batch() if len(self.steps) > 1 else nullcontext():
            for done, step in enumerate(self.steps, 1):
                step(root)
                if after_step is not None:
                    after_step(done)


# -- the scenarios -------------------------------------------------------------------

MODULE = PREFIX + "m"
PACKAGE = PREFIX + "pkg"


def module_scenario(fs: str, visibility: str, **kw: object) -> WriteScenario:
    """A module rewritten (old 100-character payload, new 1500)."""
    old, new = source(MODULE, "old", 100), source(MODULE, "new", 1500)
    return WriteScenario(
        name=f"write_module {fs} {visibility}",
        fs=fs,
        setup=lambda r: modwrite.write_module(MODULE, old, root=r, visibility="process"),
        steps=(lambda r: modwrite.write_module(MODULE, new, root=r, visibility=visibility),),
        versions=({MODULE: "old"}, {MODULE: "new"}),
        **kw,
    )


def package_files(p: str, version: str, odd: bool) -> dict[str, object]:
    """Package *p* at *version*: one of two shapes (*odd*), with different
    modules and a data file in one of them."""
    if not odd:
        return {
            "__init__": source(p, version, 200),
            "a": source(f"{p}.a", version, 300),
            "sub": {"__init__.py": "", "b.py": source(f"{p}.sub.b", version, 300)},
            "./d.txt": f"{version} data\n",
        }
    return {
        "__init__": source(p, version, 900),
        "c": source(f"{p}.c", version, 700),
        "sub": {"__init__.py": "", "e.py": source(f"{p}.sub.e", version, 500)},
    }


def package_versions(p: str, version: str | None, odd: bool) -> Versions:
    """What an import finds of package *p* at *version* in the shape *odd*
    (see :func:`package_files`)."""
    present, absent = (("c", "sub.e"), ("a", "sub.b")) if odd else (("a", "sub.b"), ("c", "sub.e"))
    return {
        p: version,
        **{f"{p}.{m}": version for m in present},
        **{f"{p}.{m}": None for m in absent},
    }


def _crashed_swap(root: Path) -> None:
    """An earlier writer of the package died between the fallback's two
    renames: the package is missing, its old tree parked."""
    crash_between_the_fallback_renames(root, PACKAGE)


def package_scenario(fallback: bool, *, over_crash: bool = False, **kw: object) -> WriteScenario:
    """A package replaced whole by one with other files: on the exchange path
    or on the two-rename fallback; *over_crash*: where an earlier writer
    died between the fallback's renames (the package missing, parked)."""
    p = PACKAGE
    old_files, new_files = package_files(p, "old", False), package_files(p, "new", True)
    if over_crash:
        kw["damage"] = _crashed_swap
    return WriteScenario(
        name=f"write_package {'fallback' if fallback else 'exchange'}"
        + (" over a crashed swap" if over_crash else ""),
        fs="fine",
        setup=lambda r: modwrite.write_package(p, old_files, root=r, visibility="process"),
        steps=(lambda r: modwrite.write_package(p, new_files, root=r),),
        versions=(package_versions(p, "old", False), package_versions(p, "new", True)),
        wrap=no_exchange if fallback else None,
        package=p,
        parks_inside=fallback,
        **kw,
    )


def parents_scenario(**kw: object) -> WriteScenario:
    """A module written with ``parents=True`` under two new packages: they
    appear with it, by one rename."""
    name = PREFIX + "pa.b.m"
    text = source(name, "new", 500)
    return WriteScenario(
        name="write_module parents=True",
        fs="fine",
        setup=lambda r: None,
        steps=(lambda r: modwrite.write_module(name, text, root=r, parents=True),),
        versions=({name: None}, {name: "new"}),
        **kw,
    )


def clean_scenario(**kw: object) -> WriteScenario:
    """``modwrite clean`` putting back a package a crash left parked (and
    removing the crashed writer's staging tree): killed itself, a second
    ``clean`` must finish the job, the package never lost."""
    p = PACKAGE
    old_files = package_files(p, "old", False)
    return WriteScenario(
        name="modwrite clean of a crashed swap",
        fs="fine",
        setup=lambda r: modwrite.write_package(p, old_files, root=r, visibility="process"),
        steps=(lambda r: modwrite.clean(r),),
        versions=(package_versions(p, "old", False), package_versions(p, "old", False)),
        package=p,
        damage=_crashed_swap,
        **kw,
    )


def batch_scenario(**kw: object) -> WriteScenario:
    """:func:`modwrite.batch` of three writes in two directories: two
    modules rewritten, one new in a subpackage."""
    m1, m2, sub, n = PREFIX + "b1", PREFIX + "b2", PREFIX + "bsub", PREFIX + "bsub.n"

    def setup(r: Path) -> None:
        modwrite.write_module(m1, source(m1, "old", 100), root=r, visibility="process")
        modwrite.write_module(m2, source(m2, "old", 150), root=r, visibility="process")
        modwrite.write_package(sub, {"__init__": ""}, root=r, visibility="process")

    def write(name: str, size: int) -> Callable[[Path], object]:
        text = source(name, "new", size)
        return lambda r: modwrite.write_module(name, text, root=r)

    return WriteScenario(
        name="batch() of 3 modules",
        fs="fine",
        setup=setup,
        steps=(write(m1, 800), write(m2, 900), write(n, 1000)),
        versions=(
            {m1: "old", m2: "old", n: None},
            {m1: "new", m2: "old", n: None},
            {m1: "new", m2: "new", n: None},
            {m1: "new", m2: "new", n: "new"},
        ),
        **kw,
    )


# -- what is allowed, and the checks -------------------------------------------------


def expected_states(scenario: WriteScenario, root: Path) -> list[dict[str, object]]:
    """The disk states the scenario may leave (see :func:`tests.faults.snapshot`;
    leftovers aside, as the damage leaves some): computed by running it
    unharmed under *root* (which it removes)."""

    root.mkdir()
    scenario.setup(root)
    states = [state_on_disk(root)]
    if scenario.damage is not None:
        scenario.damage(root)
    scenario.run(root, after_step=lambda _: states.append(state_on_disk(root)))
    verify_import(root, scenario.versions[-1])
    if not any(root.rglob("__pycache__/*.pyc")):
        raise CommitPointViolation("no bytecode cache written: bytecode writing is off")
    shutil.rmtree(root)
    return states


def package_parked(root: Path, leaf: str) -> bool:
    """Is package *leaf* missing under *root*, its old tree parked (a writer
    died between the fallback's two renames)?"""
    if os.path.lexists(root / leaf):
        return False
    return any(p.tree is not None for p in parked_trees(str(root), leaf))


def verify_import(root: Path, expected: Versions, *, keep_finders: bool = False) -> None:
    """Import each module of *expected* from *root* (put first on
    :data:`sys.path`) through the import system and check what runs: the
    expected version, its checksum right; a module expected absent must
    raise :exc:`ModuleNotFoundError`.  The modules are dropped from
    :data:`sys.modules` afterwards, and, unless *keep_finders*, the path
    entry finders cached for *root* too (the next check is a fresh one).

    :raises CommitPointViolation: what was imported is not what is expected.
    """
    entry = str(root)
    tops = {name.partition(".")[0] for name in expected}
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        for name, version in expected.items():
            _drop(tops)
            found = imported_version(name)
            if found != version:
                raise CommitPointViolation(f"import {name}: found {found}, expected {version}")
    finally:
        _drop(tops)
        if added:
            sys.path.remove(entry)
        if not keep_finders:
            for key in [k for k in sys.path_importer_cache if k.startswith(entry)]:
                del sys.path_importer_cache[key]


def imported_version(name: str) -> str | None:
    """Import *name* (its parents imported) and return the version it ran,
    checksum checked; ``None`` when there is no such module.

    :raises CommitPointViolation: the import failed otherwise, or ran a
        source whose checksum is wrong or that is not *name*'s."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name + ".").startswith(exc.name + "."):
            return None  # it, or a package it would be in
        raise CommitPointViolation(f"import {name}: {exc!r}") from exc
    except Exception as exc:
        raise CommitPointViolation(f"import {name}: {exc!r}") from exc
    found = (
        getattr(module, "NAME", None),
        getattr(module, "VERSION", None),
        getattr(module, "PAYLOAD", None),
        getattr(module, "CHECK", None),
    )
    if found[0] != name or not all(isinstance(x, str) for x in found):
        raise CommitPointViolation(f"import {name}: ran {found[:2]} from {module.__file__}")
    if checksum(*found[:3]) != found[3]:  # type: ignore[arg-type]
        raise CommitPointViolation(f"import {name}: wrong checksum in {module.__file__}")
    return found[1]  # type: ignore[return-value]


def _drop(tops: set[str]) -> None:
    for loaded in [m for m in sys.modules if m.partition(".")[0] in tops]:
        del sys.modules[loaded]
