"""Names of modwrite's temporary entries (kept free of heavy imports: the
machinery, loaded at interpreter start-up, uses them)."""

from __future__ import annotations

import itertools
import os

__all__ = ["PARKED_MARKER", "TEMP_MARKER", "parked_name", "temporary_name"]

#: Every temporary entry modwrite creates ends with this marker; ``modwrite
#: clean`` removes entries that carry it.  The leading dot of the name and the
#: ``-`` in the marker make the name a non-identifier with an unknown suffix:
#: no finder matches it and :func:`inspect.getmodulename` returns ``None``.
TEMP_MARKER = ".modwrite-tmp"

#: The old tree of a package being swapped without RENAME_EXCHANGE is parked
#: under this marker; ``modwrite clean`` puts it back if its package is
#: missing (a crash between the two renames) and removes it otherwise.
PARKED_MARKER = ".modwrite-old"

_serial = itertools.count()
_pid_token = (-1, "")


def temporary_name(leaf: str) -> str:
    """A unique, never-importable name for a temporary entry beside *leaf*.

    ``.<leaf>.<pid>-<random><serial><marker>``: the pid lets ``modwrite
    clean`` tell the entries of a dead writer from those of a live one; a
    random token drawn once per process and a serial number make the name
    unique without a system call per name (entries are created with
    ``O_EXCL`` regardless).
    """
    global _pid_token
    pid = os.getpid()
    if _pid_token[0] != pid:  # first call, or a forked child
        _pid_token = (pid, f"{pid}-{os.urandom(4).hex()}")
    return f".{leaf}.{_pid_token[1]}{next(_serial):x}{TEMP_MARKER}"


def parked_name(leaf: str) -> str:
    """Like :func:`temporary_name`, with :data:`PARKED_MARKER`."""
    return temporary_name(leaf)[: -len(TEMP_MARKER)] + PARKED_MARKER
