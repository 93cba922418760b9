"""The processes of the load tests.

    python -m tests.load.actors writer ROOT LOG WRITER_ID WRITES NAME...
    python -m tests.load.actors reader ROOT LOG MODE NAME...   (MODE: stock, installed, reload)

Each prints ``ready`` and waits for ``go`` on stdin; a reader then reads
until ``stop`` arrives.  Every write and read is a JSON line in LOG (see
``tests.load.analysis``).
"""

from __future__ import annotations

import importlib
import json
import random
import sys
import threading
import time
from typing import IO, Any

from tests.load.analysis import check_module, source


def _log(out: IO[str], **record: Any) -> None:
    out.write(json.dumps(record) + "\n")


def _read(
    out: IO[str], reader: str, name: str, begin: float, version: object, error: str | None
) -> None:
    _log(out, kind="read", reader=reader, name=name, begin=begin, version=version, error=error)


def writer(root: str, log: str, writer_id: int, writes: int, names: list[str]) -> None:
    import modwrite

    rng = random.Random(writer_id)
    with open(log, "w") as out:
        print("ready", flush=True)
        sys.stdin.readline()
        for seq in range(writes):
            name = rng.choice(names)
            text = source(writer_id, seq, rng.randrange(4))  # same sizes are frequent
            start = time.monotonic()
            modwrite.write_module(name, text, root=root)
            end = time.monotonic()
            _log(out, kind="write", name=name, version=[writer_id, seq], start=start, end=end)


def reader(root: str, log: str, mode: str, names: list[str]) -> None:
    import modwrite

    sys.dont_write_bytecode = False
    if mode == "installed":
        modwrite.install()
    sys.path.insert(0, root)
    stop = threading.Event()
    rng = random.Random(mode)
    loaded: dict[str, Any] = {}
    with open(log, "w") as out:
        print("ready", flush=True)
        sys.stdin.readline()
        threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
        while not stop.is_set():
            if mode == "reload":
                for name in names:
                    if name not in loaded:
                        try:
                            module = importlib.import_module(name)
                        except ModuleNotFoundError:
                            continue
                        # The first check learns what this stock import ran,
                        # also when another writer has replaced the file and
                        # its .pyc since (tests/test_reload.py has the case).
                        loaded[name] = module
                begin = time.monotonic()
                modwrite.reload_changed(modules=list(loaded.values()))
                for name, module in loaded.items():
                    version, error = check_module(module)
                    _read(out, mode, name, begin, version, error)
                continue
            name = rng.choice(names)
            begin = time.monotonic()
            sys.modules.pop(name, None)
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError:
                _read(out, mode, name, begin, None, "missing")
            except Exception as exc:  # every failure is counted
                _read(out, mode, name, begin, None, repr(exc))
            else:
                version, error = check_module(module)
                _read(out, mode, name, begin, version, error)


if __name__ == "__main__":
    role, root, log, *rest = sys.argv[1:]
    if role == "writer":
        writer(root, log, int(rest[0]), int(rest[1]), rest[2:])
    else:
        reader(root, log, rest[0], rest[1:])
