"""Sequences of writes, rewrites, imports and reloads against a simple model.

Guarantee G1 and G3: "when write_module() returns, importing (or reloading)
that name in the same process yields the new source, with no waiting on the
clock" -- also after same-size rewrites in the same second.
"""

from __future__ import annotations

import importlib
import itertools
import keyword
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import modwrite

from .strategies import SETTINGS, identifiers, sources

pytestmark = pytest.mark.property

_run = itertools.count()


class TestInProcessModel:
    """A module written by modwrite is importable by a fresh ``import`` in the
    same process with no sleep, and a reload runs the latest source."""

    @SETTINGS
    @given(
        steps=st.lists(
            st.tuples(st.integers(min_value=0, max_value=3), sources, st.booleans()),
            min_size=1,
            max_size=25,
        )
    )
    def test_writes_and_reloads_follow_the_model(self, steps: list[tuple[int, str, bool]]) -> None:
        saved_flag, sys.dont_write_bytecode = sys.dont_write_bytecode, False
        run = next(_run)
        with tempfile.TemporaryDirectory() as tmp:
            sys.path.insert(0, tmp)
            names = [f"prop_{run}_{i}" for i in range(4)]
            model: dict[str, str] = {}
            try:
                for index, source, reload_now in steps:
                    name = names[index]
                    modwrite.write_module(name, source, root=tmp, visibility="process")
                    model[name] = source
                    if reload_now or name not in sys.modules:
                        module = (
                            importlib.reload(sys.modules[name])
                            if name in sys.modules
                            else importlib.import_module(name)
                        )
                        expected = int(source.split("=")[1].split()[0])
                        assert expected == module.VALUE
                for name, source in model.items():
                    assert Path(tmp, f"{name}.py").read_text().rstrip("\n") == source.rstrip("\n")
                assert not any(".modwrite-tmp" in p.name for p in Path(tmp).iterdir())
            finally:
                sys.path.remove(tmp)
                for name in names:
                    sys.modules.pop(name, None)
                sys.dont_write_bytecode = saved_flag


class TestNames:
    """Every dotted name of identifiers is written where its parts say; every
    other string is refused before anything is written."""

    @SETTINGS
    @given(parts=st.lists(identifiers, min_size=1, max_size=4))
    def test_valid_dotted_names_land_at_their_path(self, parts: list[str]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = modwrite.write_module(
                ".".join(parts), "", root=tmp, parents=True, visibility="process"
            )
            assert path == Path(tmp, *parts[:-1], parts[-1] + ".py")

    @SETTINGS
    @given(name=st.text(max_size=20))
    def test_other_strings_are_refused_before_writing(self, name: str) -> None:
        parts = name.split(".")
        valid = all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)
        assume(not valid)
        with tempfile.TemporaryDirectory() as tmp:
            with pytest.raises(modwrite.InvalidModuleName):
                modwrite.write_module(name, "", root=tmp, parents=True)
            assert list(Path(tmp).iterdir()) == []
