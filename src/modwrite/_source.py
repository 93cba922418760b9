"""Turning a caller's source into the exact bytes that land, compiled first.

``str`` sources are encoded in the encoding their PEP 263 coding cookie
declares (UTF-8 without one); ``bytes`` sources are written as given and
decoded by their cookie, as :func:`importlib.util.decode_source` does.

The bytes are compiled as the import system compiles them
(``SourceLoader.source_to_code`` in CPython's
``importlib/_bootstrap_external.py``: ``compile(data, path, "exec",
dont_inherit=True)`` at the interpreter's optimization level), under the path
the file will have: the code object that validated the source is the one
that runs and the one the bytecode cache holds (compile once).
"""

from __future__ import annotations

import io
import tokenize
from types import CodeType
from typing import Union

from .errors import ArgumentTypeError, InvalidSource, ModuleSyntaxError

__all__ = ["Source", "encode_source"]

Source = Union[str, bytes]


_BOM = b"\xef\xbb\xbf"


def _cookie_encoding(data: bytes, module: str, filename: str) -> str:
    # A cookie can only be on the first two lines (PEP 263); without the word
    # there is none, and tokenize's full detection can be skipped.
    if b"coding" not in b"\n".join(data.split(b"\n", 2)[:2]):
        return "utf-8-sig" if data.startswith(_BOM) else "utf-8"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise ModuleSyntaxError(module, str(exc.msg or exc), filename) from None
    return encoding


def encode_source(module: str, source: object, filename: str) -> tuple[bytes, CodeType]:
    """Return the bytes to write for *source* and its code object.

    :param module: dotted name, used in error messages.
    :param source: ``str`` or ``bytes`` (``bytearray``/``memoryview`` are
        accepted as bytes).
    :param filename: the path the module will have: the code object's
        ``co_filename`` and the ``filename`` of a
        :class:`~modwrite.ModuleSyntaxError`.
    :returns: ``(data, code)``: the exact bytes to write, and the code object
        :func:`compile` made of them, as an import of *filename* would.
    :raises ArgumentTypeError: *source* is not ``str`` or bytes-like.
    :raises InvalidSource: NUL characters, or a ``str`` that the cookie's
        encoding cannot represent.
    :raises ModuleSyntaxError: a bad coding cookie, undecodable bytes, or a
        source that :func:`compile` rejects.
    """
    if isinstance(source, str):
        if "\0" in source:
            raise InvalidSource(module, "the source contains NUL characters")
        second = source.find("\n", source.find("\n") + 1)  # the first two lines
        head = (source if second < 0 else source[:second]).encode("utf-8", "surrogatepass")
        encoding = _cookie_encoding(head, module, filename)
        if encoding == "utf-8-sig":  # the str carries its BOM character itself
            encoding = "utf-8"
        try:
            data = source.encode(encoding)
        except (UnicodeEncodeError, LookupError) as exc:
            raise InvalidSource(
                module, f"the source cannot be encoded as {encoding!r} (its coding cookie): {exc}"
            ) from None
        if encoding != "utf-8" and b"\0" in data:  # UTF-8 makes NUL only of NUL
            raise InvalidSource(
                module,
                f"its coding cookie's encoding {encoding!r} is not ASCII-compatible "
                "(Python cannot import such a file)",
            )
        text = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if b"\0" in data:
            raise InvalidSource(module, "the source contains NUL bytes")
        encoding = _cookie_encoding(data, module, filename)
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ModuleSyntaxError(
                module,
                f"the source is not valid {encoding!r}: {exc.reason} at byte {exc.start}",
                filename,
            ) from None
        if text.startswith("\ufeff"):
            text = text[1:]
    else:
        raise ArgumentTypeError(
            f"source of {module!r} must be str or bytes, not {type(source).__name__}"
        )
    try:
        code = compile(data, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ModuleSyntaxError(
            module, str(exc.msg), filename, exc.lineno, exc.offset, _line(text, exc.lineno)
        ) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise InvalidSource(module, f"the source does not compile: {exc}") from None
    return data, code


def _line(text: str, lineno: int | None) -> str | None:
    """Line *lineno* (1-based) of *text*, as ``SyntaxError.text`` gives it.

    Taken from the new source, not from ``exc.text``: for errors raised after
    parsing ("'return' outside function"), CPython reads the line from the
    file named by the filename (``PyErr_ProgramTextObject``), which is still
    the *old* version.
    """
    if not lineno or lineno < 1:
        return None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[lineno - 1] + "\n" if lineno <= len(lines) else None
