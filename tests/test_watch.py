"""The watcher (modwrite[watch], on watchdog): directories watched, every
change confirmed by content, atomic saves, delete-and-recreate and
truncate-then-write survived.

Waiting for a callback is a queue ``get`` with a timeout, never a sleep; the
0.2 s between the three replaces is the scenario's pace.
"""

from __future__ import annotations

import importlib
import os
import queue
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import modwrite

LATENCY_S = 0.25

Call = tuple[float, list[ModuleType], list[object]]


@pytest.fixture
def calls() -> queue.Queue[Call]:
    return queue.Queue()


def _recorder(calls: queue.Queue[Call]) -> Callable[[list[ModuleType]], None]:
    def callback(modules: list[ModuleType]) -> None:
        calls.put((time.monotonic(), modules, [getattr(m, "V", None) for m in modules]))

    return callback


def _next(
    calls: queue.Queue[Call],
) -> Call:
    return calls.get(timeout=5)


def test_three_atomic_replaces_three_callbacks(
    root: Path,
    unique_name: str,
    bytecode_on: None,
    calls: queue.Queue[Call],
) -> None:
    path = root / f"{unique_name}.py"
    modwrite.write_module(unique_name, "V = 0\n", root=root)
    module = importlib.import_module(unique_name)
    assert os.path.exists(importlib.util.cache_from_source(str(path)))

    latencies = []
    with modwrite.watch(_recorder(calls), reload=True):
        start = time.monotonic()
        for version in (1, 2, 3):
            time.sleep(max(0.0, start + 0.2 * (version - 1) - time.monotonic()))  # the pace
            written = time.monotonic()
            if version == 2:
                temporary = root / f"{unique_name}.tmp"
                temporary.write_text(f"V = {version}\n")
                os.replace(temporary, path)
            else:
                modwrite.write_module(unique_name, f"V = {version}\n", root=root)
            seen, modules, values = _next(calls)
            latencies.append(seen - written)
            assert modules == [module] and values == [version]
    assert max(latencies) <= LATENCY_S, latencies
    assert calls.empty()


def test_delete_and_recreate_and_truncate_then_write(
    root: Path, unique_name: str, calls: queue.Queue[Call]
) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 0\n")
    module = importlib.import_module(unique_name)
    with modwrite.watch(_recorder(calls), reload=True):
        path.unlink()
        path.write_text("V = 2\n")
        assert _next(calls)[1:] == ([module], [2])
        with open(path, "r+") as f:
            f.truncate(0)
            f.flush()
            f.write("V = 3\n")
        assert _next(calls)[1:] == ([module], [3])


def test_a_touch_calls_nothing_back(
    root: Path, unique_name: str, calls: queue.Queue[Call]
) -> None:
    path = root / f"{unique_name}.py"
    path.write_text("V = 0\n")
    module = importlib.import_module(unique_name)
    with modwrite.watch(
        lambda modules: calls.put((time.monotonic(), modules, [m.V for m in modules]))
    ):
        os.utime(path)
        path.write_text("V = 0\n")  # the same bytes
        path.write_text("V = 1\n")  # then a real change: the next callback is this one
        _, modules, values = _next(calls)
    assert modules == [module] and values == [0]  # changed, not reloaded (no reload=True)
    assert calls.empty()


def test_watch_needs_something_to_do() -> None:
    with pytest.raises(modwrite.InvalidArgument):
        modwrite.watch()
    with pytest.raises(modwrite.InvalidArgument):
        modwrite.watch(print, debounce=-1)
