"""Module names are validated before anything is written (G8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modwrite


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param(".a", id="leading-dot"),
        pytest.param("a.", id="trailing-dot"),
        pytest.param("a..b", id="stray-dot"),
        pytest.param("1a", id="digit-first"),
        pytest.param("a-b", id="dash"),
        pytest.param("a/b", id="separator"),
        pytest.param("..", id="parent"),
        pytest.param("a. b", id="space"),
        pytest.param("class", id="keyword"),
        pytest.param("a.None", id="keyword-part"),
        pytest.param("\ufb01le", id="not-NFKC"),
        pytest.param("a\0b", id="NUL"),
    ],
)
def test_invalid_names_are_rejected_before_writing(root: Path, name: str) -> None:
    with pytest.raises(modwrite.InvalidModuleName) as info:
        modwrite.write_module(name, "x = 1\n", root=root)
    assert info.value.name == name
    assert isinstance(info.value, ValueError)
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("name", [None, b"mod", 3, ["a"]], ids=repr)
def test_non_str_names_are_type_errors(root: Path, name: object) -> None:
    with pytest.raises(modwrite.ArgumentTypeError, match="must be str"):
        modwrite.write_module(name, "x = 1\n", root=root)  # type: ignore[arg-type]
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("name", ["a", "_", "match", "type", "café", "a1.b_2.c3"])
def test_valid_names_including_soft_keywords_and_unicode(root: Path, name: str) -> None:
    path = modwrite.write_module(name, "x = 1\n", root=root, parents=True)
    assert path == root.joinpath(*name.split(".")[:-1], name.split(".")[-1] + ".py")


@pytest.mark.skipif(os.name != "posix", reason="POSIX path syntax")
@given(
    st.lists(st.sampled_from(["", ".", "..", "a", "bc", "..d", ".e"]), max_size=6),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_a_path_taken_as_normal_is_what_abspath_makes(parts: list[str], absolute: bool) -> None:
    """is_normal_absolute() lets absolute_root() skip abspath(): it may only
    say yes where abspath() would return the path unchanged."""
    from modwrite._names import is_normal_absolute

    path = ("/" if absolute else "") + "/".join(parts)
    if is_normal_absolute(path):
        assert os.path.abspath(path) == path
    if absolute and parts and all(p not in ("", ".", "..") for p in parts):
        assert is_normal_absolute(path)
