"""Bad input, generated: every rejection is a documented modwrite error,
raised before anything is written, and the disk is left as it was.

Names (any text, and near misses: empty parts, keywords, separators, ``..``,
NUL, surrogates), sources (any text or bytes, coding cookies of real,
unknown and non-ASCII-compatible encodings, NUL, a 50 MB source), package
trees (file keys escaping the package) and roots (missing, a file, symlinks).
A call that succeeds must have written only what its arguments name, under
its root.
"""

from __future__ import annotations

import itertools
import keyword
import os
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import modwrite
from modwrite.errors import (
    ArgumentTypeError,
    InvalidArgument,
    InvalidModuleName,
    InvalidSource,
    ModuleConflictError,
    ModuleSyntaxError,
    ModuleWriteError,
    ModwriteError,
)

from .strategies import SETTINGS, identifiers

pytestmark = pytest.mark.property

#: What write_module() and write_package() document for bad arguments.
DOCUMENTED = (
    ArgumentTypeError,
    InvalidArgument,
    InvalidModuleName,
    InvalidSource,
    ModuleSyntaxError,
    ModuleConflictError,
    ModuleWriteError,
)
OLD = b"OLD = 'kept'\n"
_counter = itertools.count()


def snapshot(base: Path) -> dict[str, object]:
    """Every entry under *base*: its kind and, for files, its bytes and
    inode (a replaced file is a change even with equal bytes)."""
    found: dict[str, object] = {}
    for directory, dirs, files in os.walk(base):
        for entry in dirs + files:
            path = Path(directory, entry)
            relative = str(path.relative_to(base))
            if path.is_symlink():
                found[relative] = ("link", os.readlink(path))
            elif path.is_dir():
                found[relative] = ("dir",)
            else:
                found[relative] = ("file", path.read_bytes(), path.stat().st_ino)
    return found


@contextmanager
def world() -> Iterator[tuple[Path, Path]]:
    """``(base, root)``: a fresh *base* holding the write's *root* (with a
    module ``target`` already written and loaded) and a sibling that a name
    escaping the root would reach."""
    base = Path(tempfile.mkdtemp(prefix="bad-input-"))
    try:
        root = base / "root"
        root.mkdir()
        (root / "target.py").write_bytes(OLD)
        (base / "sibling").mkdir()
        (base / "sibling" / "neighbour.py").write_bytes(OLD)
        yield base, root
    finally:
        shutil.rmtree(base)


def rejected_cleanly(call: Any, base: Path) -> BaseException | None:
    """Run *call*; if it raises, check the error is documented and nothing
    under *base* changed, and return it; ``None`` if it succeeded."""
    before = snapshot(base)
    try:
        call()
    except ModwriteError as exc:
        assert isinstance(exc, DOCUMENTED), repr(exc)
        assert snapshot(base) == before
        return exc
    return None


def tally(error: BaseException | None) -> None:
    """Count the outcome in hypothesis's statistics (--hypothesis-show-statistics)."""
    event("accepted" if error is None else f"rejected: {type(error).__name__}")


def is_module_name(name: str) -> bool:
    parts = name.split(".")
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def changed(before: dict[str, object], after: dict[str, object]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


near_miss_names = st.lists(
    st.one_of(
        identifiers,
        st.sampled_from(
            ["", "..", ".", "/", "a/b", "..\\x", "\x00", "class", "None", "1x", "\ud800", "ﬁle"]
        ),
        st.text(max_size=4),
    ),
    min_size=1,
    max_size=4,
).map(".".join)


@SETTINGS
@given(name=st.one_of(st.text(max_size=20), near_miss_names))
def test_any_name(name: str) -> None:
    with world() as (base, root):
        before = snapshot(base)
        error = rejected_cleanly(
            lambda: modwrite.write_module(
                name, "X = 1\n", root=root, visibility="process", parents=True
            ),
            base,
        )
        tally(error)
        if error is not None:
            return
        assert is_module_name(name)
        touched = changed(before, snapshot(base))
        assert touched and all(t.startswith("root" + os.sep) for t in touched)
        parts = unicodedata.normalize("NFKC", name).split(".")
        landed = {unicodedata.normalize("NFKC", t) for t in touched if t.endswith(".py")}
        assert os.path.join("root", *parts[:-1], parts[-1] + ".py") in landed


def test_names_escaping_the_root_are_rejected() -> None:
    for name in ("..", "../sibling/neighbour", "sibling/neighbour", "/etc/passwd", ".target"):
        with world() as (base, root):
            error = rejected_cleanly(
                lambda name=name: modwrite.write_module(name, "X = 1\n", root=root), base
            )
            assert isinstance(error, InvalidModuleName)


encodings = st.sampled_from(
    ["utf-8", "latin-1", "cp1252", "ascii", "koi8-r", "utf-16", "utf-32", "no-such-codec"]
)


@st.composite
def sources(draw: st.DrawFn) -> str | bytes:
    body = draw(st.text(max_size=40))
    shape = draw(st.sampled_from(["text", "bytes", "cookie text", "cookie bytes", "code"]))
    if shape == "text":
        return body
    if shape == "bytes":
        return draw(st.binary(max_size=60))
    if shape == "code":
        return f"X = {body!r}\n"
    cookie = f"# -*- coding: {draw(encodings)} -*-\n"
    text = cookie + f"X = {body!r}\n"
    if shape == "cookie text":
        return text
    return text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")


@SETTINGS
@given(source=sources())
def test_any_source(source: str | bytes) -> None:
    with world() as (base, root):
        error = rejected_cleanly(
            lambda: modwrite.write_module("target", source, root=root, visibility="process"),
            base,
        )
        tally(error)
        written = (root / "target.py").read_bytes()
        if error is not None:
            assert written == OLD
            return
        # What landed is the source (bytes verbatim, str in its encoding), and
        # it compiles as Python would compile it from the file.
        if isinstance(source, bytes):
            assert written == source
        compile(written, str(root / "target.py"), "exec")


def test_a_50_mb_source_lands_and_one_with_a_nul_is_refused() -> None:
    line = "# " + "x" * 97 + "\n"  # 100 bytes
    big = line * (50 * 1024 * 1024 // len(line)) + "X = 50\n"
    with world() as (base, root):
        modwrite.write_module("big", big, root=root, visibility="process")
        assert (root / "big.py").stat().st_size == len(big)
        error = rejected_cleanly(
            lambda: modwrite.write_module("big", big + "\0", root=root, visibility="process"),
            base,
        )
        assert isinstance(error, InvalidSource)
        assert (root / "big.py").stat().st_size == len(big)


@SETTINGS
@given(
    key=st.one_of(
        st.sampled_from(
            ["../escape.py", "/abs.py", "a/../../escape.py", "sub/../../x.py", "", ".", "a//b.py"]
        ),
        st.text(max_size=12),
        st.lists(st.sampled_from(["..", "a", "", "."]), min_size=1, max_size=4).map("/".join),
    )
)
def test_package_file_keys(key: str) -> None:
    with world() as (base, root):
        before = snapshot(base)
        error = rejected_cleanly(
            lambda: modwrite.write_package(
                f"pkg_{next(_counter)}", {key: "X = 1\n"}, root=root, visibility="process"
            ),
            base,
        )
        tally(error)
        if error is None:  # landed: only inside the new package
            touched = changed(before, snapshot(base))
            assert all(t.startswith(os.path.join("root", "pkg_")) for t in touched), touched


@pytest.mark.parametrize(
    "kind", ["missing", "a file", "a symlink to a directory", "a dangling symlink"]
)
def test_roots(kind: str) -> None:
    with world() as (base, root):
        target = base / f"root_{kind.replace(' ', '_')}"
        if kind == "a file":
            target.write_text("")
        elif kind == "a symlink to a directory":
            target.symlink_to(root)
        elif kind == "a dangling symlink":
            target.symlink_to(base / "nowhere")
        error = rejected_cleanly(
            lambda: modwrite.write_module("m", "X = 1\n", root=target, visibility="process"),
            base,
        )
        if kind == "a symlink to a directory":
            assert error is None
            assert (root / "m.py").read_bytes() == b"X = 1\n"
            assert target.is_symlink()  # the link itself is left alone
        else:
            assert isinstance(error, ModuleWriteError)


@pytest.mark.parametrize("root", [b"/tmp", 42, None, ["/tmp"]])
def test_root_of_a_wrong_type(root: object) -> None:
    with world() as (base, _):
        error = rejected_cleanly(
            lambda: modwrite.write_module("m", "X = 1\n", root=root),  # type: ignore[arg-type]
            base,
        )
        assert isinstance(error, ArgumentTypeError)


def test_the_module_is_not_loaded_by_a_rejected_write() -> None:
    with world() as (_, root):
        before = dict(sys.modules)
        with pytest.raises(ModuleSyntaxError):
            modwrite.write_module("target", "X = = 1\n", root=root)
        assert sys.modules.keys() == before.keys()
