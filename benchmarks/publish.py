"""Run every benchmark at full size and publish what it measured: one table
of the design's targets with their anchors, the plots, each benchmark's own
output, and the machine they ran on (issue 10, "Publish").

    python benchmarks/publish.py                # full sizes, into docs/
    python benchmarks/publish.py --quick --out /tmp/results   # a trial run
    python benchmarks/publish.py --tables-only  # rebuild the tables from the JSON

Writes, under ``--out`` (default: the docs directory of this checkout):

* ``results/<benchmark>.txt``: each benchmark's printed output;
* ``results/<benchmark>.json``: what each recorded (``benchmarks/_report.py``);
* ``results/targets.rst``, ``results/figures.rst`` and
  ``results/series-<benchmark>.rst`` (the plotted figures): the tables that
  ``docs/benchmarks.rst`` includes; ``results/machine.rst``: the machine;
* ``figures/sizes.png``, ``figures/tick.png``, ``figures/scale.png``.

Needs root (the benchmarks mount ext4 images and tickfs), matplotlib
(``pip install modwrite[bench]``) and pyfuse3 for tickfs
(``$MODWRITE_TICKFS_PYTHON``; ``.ci/setup-fskit.sh`` makes it).  Every
benchmark runs with bytecode writing on where it says so
(``PYTHONDONTWRITEBYTECODE`` is dropped).  Exits non-zero when a benchmark
failed to run (a missed target is reported, not a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: (benchmark, its arguments at full size, the plot it draws if any)
BENCHMARKS: list[tuple[str, list[str], str | None]] = [
    ("bench.py", ["--ext4-in-ram"], None),
    ("bench_import.py", ["--ext4-in-ram"], "sizes.png"),
    ("bench_machinery.py", [], None),
    ("bench_reload.py", [], None),
    ("bench_imp.py", [], None),
    ("bench_scale.py", [], "scale.png"),
    ("bench_tick.py", [], "tick.png"),
]

#: The design's targets, by the key the benchmarks record them under.
TARGETS = {
    "1": "1000 write+import cycles, in-process visibility, 1-second filesystem",
    "2": "1000 modules in one batch(), default visibility, 1-second filesystem",
    "3": "one write_module(visibility='process'), fine filesystem, no fsync",
    "4": "invalidate_caches(path) against importlib.invalidate_caches()",
    "5": "importing through modwrite's machinery",
    "6": "safe and no slower than unsafe: write_and_import(), bytecode writing on",
    "10": "compile once: no compile in the next importer",
    "m": "the machinery's own targets (issue 3)",
    "reload": "re-import (issue 8)",
    "imp": "modwrite.imp against the real imp (issue 9)",
    "tick": "cross-process visibility against the filesystem tick",
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (
        f"CPython {platform.python_version()}, {platform.system()} {platform.release()}, "
        f"{cpu}, {os.cpu_count()} CPUs; modwrite at {commit or 'unknown commit'}; "
        f"{time.strftime('%Y-%m-%d')}"
    )


def run_benchmarks(out: Path, quick: bool) -> list[str]:
    """Run each benchmark; return the names of those that failed."""
    results, figures = out / "results", out / "figures"
    results.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    failed = []
    for name, full_args, png in BENCHMARKS:
        stem = name.removesuffix(".py")
        argv = [sys.executable, str(HERE / name), "--json", str(results / f"{stem}.json")]
        argv += ["--quick"] if quick else full_args
        if png:
            argv += ["--plot", str(figures / png)]
        command = " ".join(["python3", f"benchmarks/{name}", *argv[4:]])
        print(f"publish: {command}", flush=True)
        start = time.monotonic()
        proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True)
        elapsed = time.monotonic() - start
        text = f"$ {command}\n{proc.stdout}"
        if proc.returncode != 0:
            failed.append(name)
            text += f"\n[exit status {proc.returncode}]\n{proc.stderr}"
        (results / f"{stem}.txt").write_text(text)
        print(f"publish: {name} took {elapsed:.0f} s, exit status {proc.returncode}", flush=True)
    return failed


def rst_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def tables(out: Path) -> None:
    """Build results/targets.rst and results/figures.rst from the JSON: one
    table per design target (or benchmark area), in the design's order."""
    results = out / "results"
    recorded: list[dict[str, Any]] = []
    for name, _, _ in BENCHMARKS:
        path = results / f"{name.removesuffix('.py')}.json"
        if path.exists():
            data = json.loads(path.read_text())
            recorded += [dict(r, benchmark=name) for r in data["results"]]
    targets: dict[str, list[list[str]]] = {}
    figures: dict[str, list[list[str]]] = {}
    written: set[str] = set()
    for r in recorded:
        where = f"``{r['benchmark']}``"
        if r["kind"] == "target":
            unit = r.get("unit", "x")
            suffix = unit if unit == "x" else f" {unit}"
            sign = "≤" if r["at_most"] else "≥"
            targets.setdefault(r["key"], []).append(
                [
                    r["what"],
                    f"{r['ratio']:.3g}{suffix}",
                    f"{sign} {r['limit']:g}{suffix}",
                    "met" if r["met"] else "**missed**",
                    f"{r['detail']} ({where})",
                ]
            )
        elif r["kind"] == "figure":
            value = r["value"]
            shown = f"{value:g}" if r["unit"] == "count" else f"{value:.3g} {r['unit']}"
            figures.setdefault(r["key"], []).append([r["what"], shown, f"{r['detail']} {where}"])
    (results / "targets.rst").write_text(
        grouped(targets, ["Measurement", "Measured", "Target", "", "Figures"])
    )
    for r in recorded:
        if r["kind"] == "series":
            stem = f"series-{r['benchmark'].removesuffix('.py')}"
            with open(results / f"{stem}.rst", "a" if stem in written else "w") as f:
                f.write(series_table(r))
            written.add(stem)
    (results / "figures.rst").write_text(grouped(figures, ["Measurement", "Value", "Figures"]))


def series_table(record: dict[str, Any]) -> str:
    """One table of a recorded series: a row per x, a column per line."""
    labels = list(record["points"])
    xs = sorted({x for points in record["points"].values() for x, _ in points})
    rows = []
    for x in xs:
        row = [f"{x:g}"]
        for label in labels:
            ys = [y for px, y in record["points"][label] if px == x]
            row.append(_seconds(ys[0]) if ys else "")
        rows.append(row)
    return f"**{record['what']}**\n\n{rst_table([record.get('x', 'x'), *labels], rows)}\n"


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def grouped(rows: dict[str, list[list[str]]], header: list[str]) -> str:
    order = list(TARGETS)
    parts = []
    for key in sorted(rows, key=lambda k: order.index(k) if k in order else len(order)):
        parts.append(f"**{TARGETS.get(key, key)}**\n\n{rst_table(header, rows[key])}")
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the benchmarks' quick sizes")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="default: docs/")
    parser.add_argument("--tables-only", action="store_true", help="rebuild the tables only")
    args = parser.parse_args()
    failed: list[str] = []
    if not args.tables_only:
        start = time.monotonic()
        failed = run_benchmarks(args.out, args.quick)
        (args.out / "results").mkdir(parents=True, exist_ok=True)
        (args.out / "results" / "machine.rst").write_text(
            f"{machine()}; ``python3 benchmarks/publish.py"
            f"{' --quick' if args.quick else ''}`` took "
            f"{(time.monotonic() - start) / 60:.1f} minutes.\n"
        )
    tables(args.out)
    if failed:
        print(f"publish: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"publish: tables in {args.out / 'results'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
