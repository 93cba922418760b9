"""Concurrent writers and importers, every read checked (issue 10, "Load").

Writer processes call ``write_module()`` on names shared by all of them and
on names of their own; reader processes import with the stock machinery,
with modwrite's installed, or reload with ``reload_changed()``; every module
carries a checksum of itself.  ``tests.load.analysis`` defines what is
counted.  The fast part runs here; ``MODWRITE_LOAD_WRITES`` raises the
number of writes per writer for a long run.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import modwrite
from tests.conftest import child_env, leftovers
from tests.load.analysis import (
    Counts,
    Read,
    Write,
    check_module,
    count,
    parse,
    read_log,
    source,
)

WRITES = int(os.environ.get("MODWRITE_LOAD_WRITES", "40"))


def _final(root: Path, names: set[str]) -> dict[str, tuple[int, int] | None]:
    """The version each name's file holds now, read in a fresh interpreter
    with the stock machinery."""
    code = (
        "import importlib, json, sys\n"
        "from tests.load.analysis import check_module\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        out[name] = check_module(importlib.import_module(name))[0]\n"
        "    except ModuleNotFoundError:\n"
        "        out[name] = None\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *sorted(names)],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
        timeout=120,
    )
    return {k: tuple(v) if v else None for k, v in json.loads(done.stdout).items()}


def _start(args: list[str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.load.actors", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def _run_load(root: Path, logs: Path, writers: int, writes: int) -> None:
    shared = ["shared_0", "shared_1"]
    own = {i: [f"own_{i}_{k}" for k in range(2)] for i in range(writers)}
    names = shared + [n for ns in own.values() for n in ns]
    readers = [
        _start(["reader", str(root), str(logs / f"read-{mode}.jsonl"), mode, *names])
        for mode in ("stock", "installed", "reload")
    ]
    writer_processes = [
        _start(
            [
                "writer",
                str(root),
                str(logs / f"write-{i}.jsonl"),
                str(i),
                str(writes),
                *shared,
                *own[i],
            ]
        )
        for i in range(writers)
    ]
    for process in readers + writer_processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in writer_processes:
        process.communicate(timeout=600)  # closes its pipes
        assert process.returncode == 0
    for process in readers:
        process.communicate("stop\n", timeout=120)
        assert process.returncode == 0


def _counts(root: Path, logs: Path) -> tuple[Counts, list[str], dict[str, int]]:
    """The counts, the first failures, and how many checked reads each
    reader made."""
    records = [r for log in sorted(logs.glob("*.jsonl")) for r in read_log(log)]
    writes, reads = parse(records)
    final = _final(root, {w.name for w in writes})
    counts, why = count(writes, reads, final, len(leftovers(root)))
    per_reader = {
        mode: count(writes, [r for r in reads if r.reader == mode], final, 0)[0].checked
        for mode in ("stock", "installed", "reload")
    }
    return counts, why[:10], per_reader


@pytest.mark.parametrize("filesystem", ["fine", "1-second"])
def test_writer_and_reader_processes(
    filesystem: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    root = (
        tmp_path / "root" if filesystem == "fine" else request.getfixturevalue("coarse_ext4_dir")
    )
    root.mkdir(exist_ok=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    # On the 1-second filesystem each write waits for its tick to pass (G2).
    writes = WRITES if filesystem == "fine" else max(WRITES // 4, 5)
    _run_load(root, logs, writers=3, writes=writes)
    counts, why, checked = _counts(root, logs)
    print(f"{filesystem}: {counts}, checked reads per reader: {checked}")
    assert counts.writes == 3 * writes
    assert min(checked.values()) >= 5, checked  # every reader read while writes went on
    assert counts.failures() == {}, why


def test_the_analysis_counts_what_it_defines() -> None:
    """The counter itself can fail: a stale read, a torn one, an error, a
    lost write and leftovers are each counted once."""
    writes = [
        Write("a", (0, 0), 0.0, 1.0),
        Write("a", (0, 1), 2.0, 3.0),
        Write("b", (1, 0), 0.0, 1.0),
    ]
    reads = [
        Read("r", "a", 3.5, (0, 0), None),  # stale: (0, 1) returned before
        Read("r", "a", 2.5, (0, 0), None),  # fine: (0, 1) had not returned
        Read("r", "a", 3.5, None, "torn: checksum mismatch"),
        Read("r", "b", 0.5, None, "missing"),  # fine: nothing promised yet
        Read("r", "b", 1.5, None, "missing"),  # stale: b's write had returned
        Read("r", "b", 1.5, None, "ImportError('x')"),
    ]
    counts, why = count(writes, reads, {"a": (0, 0), "b": (1, 0)}, leftovers=2)
    assert counts.failures() == {"stale": 2, "torn": 1, "errors": 1, "lost": 1, "leftovers": 2}
    assert len(why) == 5


def test_threads_of_one_process(root: Path, bytecode_on: None) -> None:
    """Writer threads and importer threads in one process."""
    names = ["thr_shared", "thr_0", "thr_1", "thr_2"]
    writes: list[Write] = []
    reads: list[Read] = []
    lock = threading.Lock()
    stop = threading.Event()

    def write(writer_id: int) -> None:
        for seq in range(WRITES):
            name = names[seq % 2 * (writer_id + 1)]  # the shared name, and its own
            start = time.monotonic()
            modwrite.write_module(name, source(writer_id, seq, seq % 3), root=root)
            with lock:
                writes.append(Write(name, (writer_id, seq), start, time.monotonic()))

    def read(index: int) -> None:
        while not stop.is_set():
            name = names[index % len(names)]
            index += 1
            begin = time.monotonic()
            try:
                module = importlib.import_module(name)
                module = modwrite.reload(module)
            except ModuleNotFoundError:
                version, error = None, "missing"
            else:
                version, error = check_module(module)
            with lock:
                reads.append(Read("thread", name, begin, version, error))

    readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    writers = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    final = _final(root, {w.name for w in writes})
    counts, why = count(writes, reads, final, len(leftovers(root)))
    assert counts.writes == 3 * WRITES and counts.reads > 0
    assert counts.failures() == {}, why[:10]


def test_asyncio_tasks_writing_inside_one_batch(root: Path, bytecode_on: None) -> None:
    """Tasks of one event loop write inside one batch(): when it ends, every
    module is there, whole, for a new process's stock import."""

    async def task(task_id: int) -> list[Write]:
        done = []
        for seq in range(10):
            name = f"task_{task_id}_{seq % 5}"
            start = time.monotonic()
            modwrite.write_module(name, source(task_id, seq, seq % 2), root=root)
            done.append(Write(name, (task_id, seq), start, time.monotonic()))
            await asyncio.sleep(0)  # let the other tasks interleave their writes
        return done

    async def main() -> list[Write]:
        with modwrite.batch():
            results = await asyncio.gather(*(task(i) for i in range(8)))
        return [w for ws in results for w in ws]

    writes = asyncio.run(main())
    final = _final(root, {w.name for w in writes})
    counts, why = count(writes, [], final, len(leftovers(root)))
    assert counts.writes == 80 and len(final) == 40
    assert counts.failures() == {}, why
