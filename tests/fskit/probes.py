"""Probes that measure what a filesystem does to Python's import system.

Stdlib-only and Python 3.9-compatible (runs in the interpreter under test).
"""

from __future__ import annotations

import importlib
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_probe_ids = itertools.count()


@dataclass(frozen=True)
class ImportProbe:
    """Outcome of :func:`count_plain_import_misses`."""

    attempts: int
    misses: int
    #: Wall-clock duration of the write/import loop, in seconds.
    elapsed_s: float


def count_plain_import_misses(
    directory: Path, attempts: int = 100, *, pause_s: float = 0.0
) -> ImportProbe:
    """Write new modules into *directory* and import each at once, the naive way.

    A seed module is imported first, so the directory's ``FileFinder`` has
    cached a listing. Then, *attempts* times: ``open().write()`` a brand-new
    module, wait *pause_s* seconds (default: not at all) and
    ``importlib.import_module`` it -- with the stock import system and without
    ``importlib.invalidate_caches()``. A ``ModuleNotFoundError``
    is a miss: the finder kept its stale listing because the directory's
    ``st_mtime`` looked unchanged. Bytecode writing is off meanwhile (a new
    ``__pycache__`` would itself bump the directory mtime). ``sys.path``,
    ``sys.modules`` and ``sys.path_importer_cache`` are restored afterwards.
    """
    prefix = f"fskit_probe_{next(_probe_ids)}_{time.monotonic_ns()}_"
    entry = str(directory)
    saved_dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.path.insert(0, entry)
    misses = 0
    try:
        seed = f"{prefix}seed"
        (directory / f"{seed}.py").write_text("SEED = True\n", encoding="utf-8")
        importlib.import_module(seed)  # must work: the finder's first listing
        start = time.monotonic()
        for i in range(attempts):
            name = f"{prefix}{i}"
            with open(directory / f"{name}.py", "w", encoding="utf-8") as handle:
                handle.write(f"VALUE = {i}\n")
            if pause_s:
                time.sleep(pause_s)
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError:
                misses += 1
            else:
                if getattr(module, "VALUE", None) != i:
                    raise AssertionError(f"{name} imported with the wrong content")
        elapsed = time.monotonic() - start
    finally:
        sys.dont_write_bytecode = saved_dont_write
        sys.path.remove(entry)
        sys.path_importer_cache.pop(entry, None)
        for name in [name for name in sys.modules if name.startswith(prefix)]:
            del sys.modules[name]
    return ImportProbe(attempts, misses, elapsed)
