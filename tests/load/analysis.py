"""What the load tests' logs prove: the counts, defined precisely.

A *write* is ``(name, version, start, end)``: ``write_module()`` of
*version* was called at *start* and returned at *end* (``time.monotonic()``,
which is ``CLOCK_MONOTONIC``: one clock for every process of the machine).
A *read* is ``(name, begin, version or None, error or None)``: an import (or a
reload) that began at *begin* and ran *version*.

* error: the import raised (``None`` version, an error text);
* torn: the module ran, but its values do not match its own checksum;
* stale: it ran a version *S* (or nothing: the module was not found) although
  some write *W* of that name returned before the read began and *S*'s
  write had returned before *W*'s began (so *W*'s rename came after *S*'s,
  and *W*'s version or a later one was on disk when the read began);
* lost: at the end, the file of a name holds a version whose write returned
  before another write of that name began (a later write's content is gone),
  or a name that was written holds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

Version = tuple[int, int]  # (writer, sequence number)


def checksum(writer: int, seq: int, pad: str) -> str:
    return hashlib.sha256(f"{writer}:{seq}:{pad}".encode()).hexdigest()


def source(writer: int, seq: int, pad_length: int) -> str:
    """A module that carries a checksum of its own values."""
    pad = "x" * pad_length
    return (
        f"WRITER = {writer}\nSEQ = {seq}\nPAD = {pad!r}\nCHECK = {checksum(writer, seq, pad)!r}\n"
    )


def check_module(module: object) -> tuple[Version | None, str | None]:
    """The version a loaded module ran, or why it is torn."""
    try:
        writer, seq, pad, check = (
            module.WRITER,  # type: ignore[attr-defined]
            module.SEQ,  # type: ignore[attr-defined]
            module.PAD,  # type: ignore[attr-defined]
            module.CHECK,  # type: ignore[attr-defined]
        )
    except AttributeError as exc:
        return None, f"torn: {exc}"
    if checksum(writer, seq, pad) != check:
        return None, "torn: checksum mismatch"
    return (writer, seq), None


@dataclass(frozen=True)
class Write:
    name: str
    version: Version
    start: float
    end: float


@dataclass(frozen=True)
class Read:
    reader: str
    name: str
    begin: float
    version: Version | None
    error: str | None


@dataclass
class Counts:
    reads: int = 0
    writes: int = 0
    #: reads that began after a write of their name had returned: the ones
    #: that could be stale (the others are checked for errors only)
    checked: int = 0
    errors: int = 0
    torn: int = 0
    stale: int = 0
    lost: int = 0
    leftovers: int = 0

    def failures(self) -> dict[str, int]:
        return {
            k: v for k, v in vars(self).items() if k not in ("reads", "writes", "checked") and v
        }


def read_log(path: Path) -> Iterator[dict[str, object]]:
    with open(path) as f:
        for line in f:
            yield json.loads(line)


def parse(records: Iterable[dict[str, object]]) -> tuple[list[Write], list[Read]]:
    writes, reads = [], []
    for r in records:
        version = tuple(r["version"]) if r.get("version") is not None else None  # type: ignore[arg-type]
        if r["kind"] == "write":
            writes.append(Write(str(r["name"]), version, float(r["start"]), float(r["end"])))  # type: ignore[arg-type]
        else:
            reads.append(
                Read(str(r["reader"]), str(r["name"]), float(r["begin"]), version, r.get("error"))  # type: ignore[arg-type]
            )
    return writes, reads


def count(
    writes: list[Write], reads: list[Read], final: dict[str, Version | None], leftovers: int
) -> tuple[Counts, list[str]]:
    """The counts of the module docstring, and a line per failure."""
    counts = Counts(reads=len(reads), writes=len(writes), leftovers=leftovers)
    why: list[str] = []
    by_name: dict[str, list[Write]] = {}
    for w in writes:
        by_name.setdefault(w.name, []).append(w)
    ends = {(w.name, w.version): w.end for w in writes}
    for r in reads:
        if r.error is not None and r.error.startswith("torn"):
            counts.torn += 1
            why.append(f"torn: {r}")
            continue
        if r.error is not None and r.version is None and not r.error.startswith("missing"):
            counts.errors += 1
            why.append(f"error: {r}")
            continue
        done_before = [w for w in by_name.get(r.name, []) if w.end < r.begin]
        if not done_before:
            continue  # nothing was promised yet: any outcome is fine
        counts.checked += 1
        seen_end = ends.get((r.name, r.version)) if r.version is not None else None
        if seen_end is None or any(seen_end < w.start for w in done_before):
            counts.stale += 1
            why.append(f"stale: {r} (promised: {max(done_before, key=lambda w: w.end)})")
    for name, ws in by_name.items():
        version = final.get(name)
        if version is None:
            counts.lost += 1
            why.append(f"lost: {name} holds nothing")
            continue
        end = ends.get((name, version))
        if end is None or any(end < w.start for w in ws):
            counts.lost += 1
            why.append(f"lost: {name} holds {version}, written before a later write began")
    return counts, why
