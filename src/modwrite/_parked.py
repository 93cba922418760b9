"""Parked trees: where a package swap without ``RENAME_EXCHANGE`` keeps the
old tree while the new one moves in.

The fallback swap moves the old package, under its own name, into a new
directory marked :data:`~modwrite._tempnames.PARKED_MARKER`, then renames the
new tree in.  If the writer dies between the two renames, the package is
missing and its last version is the newest parked tree of that name: the
next write into that directory puts it back (:mod:`modwrite._write`), or
``modwrite clean`` does (:mod:`modwrite._clean`), and a write of the package
itself replaces it.  Every reader of parked trees goes through
:func:`parked_trees`, newest first.

modwrite 0.1 parked the old tree itself under the marked name (its name
hint is the whole package name); those are read too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from ._tempnames import PARKED_MARKER, EntryName, parse

__all__ = ["ParkedTree", "parked_trees"]


@dataclass(frozen=True)
class ParkedTree:
    """One parked entry.

    :ivar container: the marked entry.
    :ivar tree: the package tree it holds (the container itself for
        modwrite 0.1), or ``None`` when it holds none (a writer died between
        making it and moving the tree in).
    :ivar leaf: the package's name, or ``None`` when it holds no tree.
    :ivar entry: what the container's name says.
    """

    container: str
    tree: str | None
    leaf: str | None
    entry: EntryName

    @property
    def order(self) -> tuple[int, int]:
        """Sorts parked trees by when they were parked."""
        return (self.entry.created_ns or 0, self.entry.serial)


def _read(directory: str, name: str, entry: EntryName) -> ParkedTree:
    container = os.path.join(directory, name)
    if entry.legacy:
        return ParkedTree(container, container, entry.hint, entry)
    try:
        inside = os.listdir(container)
    except (FileNotFoundError, NotADirectoryError):
        inside = []  # gone meanwhile: holds nothing
    # Any other failure is raised: a container that could not be listed may
    # hold the package's only copy, and must not be taken for an empty one.
    if len(inside) != 1:
        return ParkedTree(container, None, None, entry)
    return ParkedTree(container, os.path.join(container, inside[0]), inside[0], entry)


def parked_trees(
    directory: str, leaf: str | None = None, names: Iterable[str] | None = None
) -> list[ParkedTree]:
    """The parked entries in *directory* (of package *leaf* only, when
    given), newest first.

    :param names: the entries of *directory*, when the caller has just
        listed it (else it is listed here).
    :raises OSError: *directory*, or a parked container in it, cannot be
        listed.
    """
    found = []
    for name in os.listdir(directory) if names is None else names:
        entry = parse(name)
        if entry is None or entry.marker != PARKED_MARKER:
            continue
        parked = _read(directory, name, entry)
        if leaf is None or parked.leaf == leaf:
            found.append(parked)
    found.sort(key=lambda p: p.order, reverse=True)
    return found
