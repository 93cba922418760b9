"""Sources are encoded per PEP 263 and compiled before anything lands."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import modwrite


def test_str_source_is_written_in_utf8(root: Path, unique_name: str) -> None:
    path = modwrite.write_module(unique_name, "S = 'héllo'\n", root=root)
    assert path.read_bytes() == "S = 'héllo'\n".encode()
    assert importlib.import_module(unique_name).S == "héllo"


def test_str_source_is_encoded_as_its_coding_cookie_declares(root: Path, unique_name: str) -> None:
    source = "# -*- coding: latin-1 -*-\nS = 'é'\n"
    path = modwrite.write_module(unique_name, source, root=root)
    assert path.read_bytes() == source.encode("latin-1")
    assert importlib.import_module(unique_name).S == "é"


def test_bytes_source_is_written_verbatim(root: Path, unique_name: str) -> None:
    source = b"\xef\xbb\xbf# coding: utf-8\r\nS = '\xc3\xa9'\r\n"
    path = modwrite.write_module(unique_name, source, root=root)
    assert path.read_bytes() == source
    assert importlib.import_module(unique_name).S == "é"


def test_str_that_its_cookie_cannot_encode_is_rejected(root: Path) -> None:
    with pytest.raises(modwrite.InvalidSource, match="ascii"):
        modwrite.write_module("m", "# coding: ascii\nS = 'é'\n", root=root)
    assert list(root.iterdir()) == []


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(b"# coding: bogus\nx = 1\n", id="unknown-cookie"),
        pytest.param(b"x = '\xff'\n", id="not-utf8"),
        pytest.param("def f(:\n    pass\n", id="syntax"),
        pytest.param("x = 1\n  y = 2\n", id="indent"),
    ],
)
def test_bad_sources_raise_a_syntax_error_naming_the_module(root: Path, source: object) -> None:
    with pytest.raises(modwrite.ModuleSyntaxError) as info:
        modwrite.write_module("pkg_mod", source, root=root)  # type: ignore[arg-type]
    assert info.value.module == "pkg_mod"
    assert isinstance(info.value, SyntaxError)
    assert list(root.iterdir()) == []


def test_syntax_error_reports_line_and_column(root: Path) -> None:
    with pytest.raises(modwrite.ModuleSyntaxError) as info:
        modwrite.write_module("m", "x = 1\ny = (1 +\n", root=root)
    assert info.value.lineno == 2
    assert info.value.offset is not None and info.value.offset >= 1
    assert info.value.filename == str(root / "m.py")
    assert "line 2" in str(info.value)


@pytest.mark.parametrize("source", ["x = 1\0\n", b"x = 1\0\n"], ids=["str", "bytes"])
def test_nul_is_rejected(root: Path, source: object) -> None:
    with pytest.raises(modwrite.InvalidSource, match="NUL"):
        modwrite.write_module("m", source, root=root)  # type: ignore[arg-type]
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("source", [None, 1, ["x = 1"], Path("m.py")], ids=repr)
def test_non_source_types_are_type_errors(root: Path, source: object) -> None:
    with pytest.raises(modwrite.ArgumentTypeError, match="must be str or bytes"):
        modwrite.write_module("m", source, root=root)  # type: ignore[arg-type]


def test_a_failing_source_leaves_the_old_module_intact(root: Path) -> None:
    path = modwrite.write_module("m", "x = 1\n", root=root)
    with pytest.raises(modwrite.ModuleSyntaxError) as info:
        modwrite.write_module("m", "x = = 2\n", root=root)
    assert path.read_text() == "x = 1\n"
    assert info.value.text is not None and "= = 2" in info.value.text  # the new line


def test_a_failing_source_creates_no_root(tmp_path: Path) -> None:
    with pytest.raises(modwrite.ModuleSyntaxError):
        modwrite.write_module("m", "x = (\n", root=tmp_path / "new", create_root=True)
    assert not (tmp_path / "new").exists()


def test_str_with_a_non_ascii_compatible_cookie_is_rejected(root: Path) -> None:
    with pytest.raises(modwrite.InvalidSource, match="ASCII-compatible"):
        modwrite.write_module("u16", "# coding: utf-16\nx = 1\n", root=root)
    assert list(root.iterdir()) == []
