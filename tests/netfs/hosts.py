"""Two "hosts" sharing one filesystem: two tickfs mounts of one backing
directory whose kernel caches names, attributes and absent names for a
few seconds, as NFS clients do (``actimeo``), and reader processes on the
second one.

Stdlib-only and Python 3.9-compatible: used by the tests (tests/netfs) and
by ``benchmarks/bench_netfs.py``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from tests.children import PipedChild
from tests.fskit.tickfs_mount import mount_tickfs

__all__ = [
    "Hosts",
    "Reader",
    "Scenario",
    "Trial",
    "fresh_pair",
    "replace_file",
    "run_trial",
    "two_hosts",
]


class Hosts(NamedTuple):
    """The roots of one backing directory as host A (the writer) and host B
    (the readers) see it, the seconds each host's kernel caches entries,
    attributes and negative lookups (*cache_s*), and the tick the
    timestamps are floored to (*tick_ns*, nanoseconds)."""

    writer: Path
    reader: Path
    cache_s: float
    tick_ns: int


@contextlib.contextmanager
def two_hosts(
    workdir: Path, cache_s: float, *, tick_ns: int = 1, python: str | None = None
) -> Iterator[Hosts]:
    """Mount *workdir*/backing twice, on *workdir*/host-a and *workdir*/host-b,
    with entry, attribute and negative timeouts of *cache_s* seconds and
    timestamps floored to *tick_ns*; yield the :class:`Hosts`."""
    backing = workdir / "backing"
    backing.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as mounts:
        roots = [
            mounts.enter_context(
                mount_tickfs(
                    backing,
                    workdir / host,
                    tick_ns,
                    entry_timeout=cache_s,
                    attr_timeout=cache_s,
                    negative_timeout=cache_s,
                    python=python,
                )
            )
            for host in ("host-a", "host-b")
        ]
        yield Hosts(roots[0], roots[1], cache_s, tick_ns)


def fresh_pair(hosts: Hosts, stem: str) -> tuple[Path, Path]:
    """A new empty directory named after *stem*, as the writer and as the
    reader see it (benchmarks/bench_netfs.py uses it too)."""
    made = Path(tempfile.mkdtemp(prefix=f"{stem}-", dir=hosts.writer))
    return made, hosts.reader / made.name


class Reader(PipedChild):
    """A reader process on host B (see :mod:`tests.netfs._reader`)."""

    def __init__(self, directory: Path, *, install: bool) -> None:
        self.mode = "install" if install else "stock"
        super().__init__("reader", "tests.netfs._reader", str(directory), self.mode)
        if self.hello != {"ready": True}:
            self.close()
            raise AssertionError(f"reader's greeting: {self.hello}")

    def ask(self, **command: Any) -> Any:
        answer = self.send(command)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def version(self, name: str) -> Any:
        """Import *name* (unless loaded); its ``V``, or None if not found."""
        return self.ask(op="import", name=name)["v"]

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Scenario(NamedTuple):
    """One way of reading what host A writes, on host B.

    *case*: ``new`` (a module name the reader looked for before it was
    written) or ``rewrite`` (a loaded module rewritten with a source of the
    same size); *install*: ``modwrite.install()`` in the reader; *how* and
    *invalidate*: the reader's attempt (see :mod:`tests.netfs._reader`);
    *writer*: ``modwrite`` (:func:`modwrite.write_module`) or ``plain``
    (a temporary file and :func:`os.replace`, as most tools write)."""

    label: str
    case: str
    install: bool
    how: str
    invalidate: str
    writer: str = "modwrite"


class Trial(NamedTuple):
    """What one write showed: *told*, the reader's first attempt after the
    write returned saw the new version; *seen_s*, seconds from the write's
    return to the attempt that first saw it (None: not within the
    deadline); *stale_after*, later attempts that saw an old version."""

    told: bool
    seen_s: float | None
    stale_after: int


#: The version the reader has, and the one written: same size on purpose.
OLD, NEW = 1000, 1001


def _write(scenario: Scenario, directory: Path, name: str, version: int) -> None:
    source = f"V = {version}\n"
    if scenario.writer == "modwrite":
        import modwrite

        modwrite.write_module(name, source, root=directory)
    else:
        replace_file(directory, f"{name}.py", source)


def replace_file(directory: Path, filename: str, text: str) -> None:
    """Write *filename* in *directory* as most tools do: a temporary file,
    then :func:`os.replace` over it."""
    temporary = directory / f".{filename}.tmp"
    temporary.write_text(text)
    os.replace(temporary, directory / filename)


def run_trial(
    reader: Reader,
    directory: Path,
    scenario: Scenario,
    name: str,
    *,
    cache_s: float,
    delay_s: float = 0.0,
    poll_s: float = 0.01,
    confirm: int = 2,
) -> Trial:
    """Write version :data:`NEW` of module *name* into *directory* (host
    A's view of the reader's directory) *delay_s* seconds after the reader
    made two attempts of its own (its caches as a reader polling leaves
    them), and watch the reader try to see it, until ``3 * cache_s + 1``
    seconds after the write returned."""
    common = {"how": scenario.how, "invalidate": scenario.invalidate}
    if scenario.case == "rewrite":
        _write(scenario, directory, name, OLD)
        loaded = reader.ask(
            op="await",
            name=name,
            want=OLD,
            how="import",
            invalidate="importlib",
            t0=time.monotonic(),
            deadline=3 * cache_s + 1,
            poll=poll_s,
            confirm=0,
        )
        if loaded["seen"] is None:
            raise RuntimeError(f"the reader never loaded {name} version {OLD}: {loaded}")
    for _ in range(2):
        reader.ask(op="attempt", name=name, **common)
    if delay_s:
        time.sleep(delay_s)  # the phase of the write against the reader's caches
    _write(scenario, directory, name, NEW)
    t0 = time.monotonic()
    answer = reader.ask(
        op="await",
        name=name,
        want=NEW,
        t0=t0,
        deadline=3 * cache_s + 1,
        poll=poll_s,
        confirm=confirm,
        **common,
    )
    return Trial(
        answer["first"] == NEW,
        answer["seen"],
        sum(version != NEW for version in answer["after"]),
    )
