"""The counts of one scenario, and the table they are printed in."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Tally", "table"]

#: Violation messages kept per scenario (all are counted).
KEEP_MESSAGES = 20


@dataclass
class Tally:
    """What one scenario did.

    :ivar kind: ``"SIGKILL"``, ``"SIGINT/SIGTERM"``, ``"ENOSPC"``, ``"clean loop"``.
    :ivar trials: trials run (kills, signals, free-space levels, writes).
    :ivar where: where the fault landed: ``before``/``inside``/``after`` the
        commit point, or after the write ``returned``.
    :ivar outcome: the version found afterwards: ``old``, ``mid`` (a batch
        with some of its writes landed), ``new``.
    :ivar raised: trials where the write raised (the documented error or
        the signal's exception).
    :ivar cleaned: leftovers ``clean`` removed or put back.
    :ivar violations: how many trials broke a rule.
    :ivar messages: the first :data:`KEEP_MESSAGES` of them.
    :ivar seconds: wall-clock time of the scenario.
    :ivar note: one line on what the numbers mean here.
    """

    scenario: str
    kind: str
    trials: int = 0
    where: Counter[str] = field(default_factory=Counter)
    outcome: Counter[str] = field(default_factory=Counter)
    raised: int = 0
    cleaned: int = 0
    violations: int = 0
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""

    def violation(self, message: str) -> None:
        self.violations += 1
        if len(self.messages) < KEEP_MESSAGES:
            self.messages.append(message)


COLUMNS = (
    ("fault", 14),
    ("scenario", 28),
    ("trials", 6),
    ("before", 6),
    ("inside", 6),
    ("after", 6),
    ("ret'd", 6),
    ("old", 5),
    ("mid", 5),
    ("new", 5),
    ("raised", 6),
    ("cleaned", 7),
    ("viol.", 5),
    ("secs", 6),
)


def _row(t: Tally) -> list[str]:
    return [
        t.kind,
        t.scenario,
        str(t.trials),
        *(str(t.where[k]) for k in ("before", "inside", "after", "returned")),
        *(str(t.outcome[k]) for k in ("old", "mid", "new")),
        str(t.raised),
        str(t.cleaned),
        str(t.violations),
        f"{t.seconds:.1f}",
    ]


def table(tallies: list[Tally], *, rst: bool = False) -> str:
    """The counts as a plain-text table (or an RST ``list-table``'s rows)."""
    rows = [_row(t) for t in tallies]
    if rst:
        lines = []
        for row in [[name for name, _ in COLUMNS], *rows]:
            lines.append("   * - " + row[0])
            lines.extend(f"     - {cell}" for cell in row[1:])
        return "\n".join(lines)
    widths = [
        max(w, *(len(r[i]) for r in rows)) if rows else w for i, (_, w) in enumerate(COLUMNS)
    ]
    header = [name for name, _ in COLUMNS]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    out = [line(header), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    return "\n".join(out)
