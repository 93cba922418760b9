"""What every benchmark shares: timing two contenders side by side, judging a
ratio against its design target, and recording the figures for
``benchmarks/publish.py``.

A benchmark prints its figures as it goes, as before; each judged ratio also
goes through :func:`target` and each informational figure through
:func:`figure`.  With ``--json FILE`` (added by :func:`add_json_option`) the
benchmark writes what it recorded to FILE at the end (:func:`write_json`),
so that the publishing run can build one table of every design target.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

_recorded: list[dict[str, Any]] = []


def medians_side_by_side(
    rounds: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[float, float]:
    """The medians of *first* and *second* (each returns seconds), timed back
    to back in each round and in alternating order, so that a load that
    drifts (a busy disk, another process) weighs on both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(rounds):
        order = (0, 1) if r % 2 == 0 else (1, 0)
        for which in order:
            times[which].append((first, second)[which]())
    return statistics.median(times[0]), statistics.median(times[1])


def verdict(ratio: float, limit: float, *, at_most: bool = True) -> str:
    """``meets target (<= 1.5x)`` or ``MISSES target (...)``."""
    ok = ratio <= limit if at_most else ratio >= limit
    return f"{'meets' if ok else 'MISSES'} target ({'<=' if at_most else '>='} {limit:g}x)"


def target(
    key: str,
    what: str,
    ratio: float,
    limit: float,
    *,
    at_most: bool = True,
    detail: str = "",
    unit: str = "x",
) -> str:
    """Record the judged *ratio* of design target *key* (e.g. ``"1"`` for the
    design's first target) and return its :func:`verdict`.  *what* says what
    was measured against what; *detail* gives the absolute figures; *unit*
    is ``"x"`` for a ratio, else the unit of an absolute limit (``"ms"``)."""
    _recorded.append(
        {
            "kind": "target",
            "key": key,
            "what": what,
            "ratio": ratio,
            "limit": limit,
            "at_most": at_most,
            "met": ratio <= limit if at_most else ratio >= limit,
            "detail": detail,
            "unit": unit,
        }
    )
    if unit != "x":
        ok = ratio <= limit if at_most else ratio >= limit
        sign = "<=" if at_most else ">="
        return f"{'meets' if ok else 'MISSES'} target ({sign} {limit:g} {unit})"
    return verdict(ratio, limit, at_most=at_most)


def figure(key: str, what: str, value: float, unit: str, *, detail: str = "") -> None:
    """Record an informational figure (no target): *value* in *unit*
    (``"s"``, ``"x"``, ``"count"``...)."""
    _recorded.append(
        {
            "kind": "figure",
            "key": key,
            "what": what,
            "value": value,
            "unit": unit,
            "detail": detail,
        }
    )


def series(
    key: str, what: str, points: dict[str, list[tuple[float, float]]], *, x: str = "x"
) -> None:
    """Record plotted series: *points* maps a line's label to its (x, y)
    pairs, y in seconds; *x* names the x axis."""
    _recorded.append(
        {
            "kind": "series",
            "key": key,
            "what": what,
            "x": x,
            "points": {k: [list(p) for p in v] for k, v in points.items()},
        }
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", metavar="FILE", help="also write the recorded figures as JSON to FILE"
    )


def write_json(path: str | None, *, benchmark: str, quick: bool) -> None:
    """Write what was recorded to *path* (nothing when it is None)."""
    if path is None:
        return
    Path(path).write_text(
        json.dumps({"benchmark": benchmark, "quick": quick, "results": _recorded}, indent=1) + "\n"
    )


def draw_log_log(
    path: str,
    points: dict[str, list[tuple[float, float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    y_scale: float = 1.0,
    decorate: Callable[[Any], None] | None = None,
) -> None:
    """Draw each labelled series of *points* (x, y; y multiplied by
    *y_scale*) on log-log axes into the PNG at *path* (matplotlib, Agg).
    *decorate* gets the axes before the legend is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, pts in points.items():
        ax.plot([x for x, _ in pts], [y * y_scale for _, y in pts], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if decorate is not None:
        decorate(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
