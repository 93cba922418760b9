"""A package's files as data: the ``files`` argument of
:func:`~modwrite.write_package` flattened to relative paths and bytes.

Pure: nothing here touches the disk.  The shape follows importlib_metadata's
test helper ``build(spec, prefix)``: a mapping whose ``str``/``bytes`` values
are files and whose mapping values are directories.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePath, PurePosixPath
from types import CodeType
from typing import Union

from ._names import validate_module_name
from ._source import Source, encode_source
from ._tempnames import parse
from .errors import ArgumentTypeError, InvalidArgument

__all__ = ["Compiled", "FileTree", "FlatTree", "flatten"]

#: A package's files: relative module names or POSIX paths -> source, or a
#: nested mapping for a subdirectory.
FileTree = Mapping[Union[str, PurePath], Union[Source, "FileTree"]]

#: Relative POSIX path -> the bytes to write, or ``None`` for a directory.
FlatTree = dict[PurePosixPath, Union[bytes, None]]

#: Relative POSIX path of a ``.py`` file -> its code object.
Compiled = dict[PurePosixPath, CodeType]


def flatten(name: str, files: object, target: str) -> tuple[FlatTree, Compiled]:
    """*files* of package *name* as relative POSIX path -> bytes to write
    (``None`` marks a directory), and the code objects of its ``.py`` files,
    compiled under their paths in *target* (the package's directory); an
    empty ``__init__.py`` is added when missing.

    :raises ArgumentTypeError: *files*, a key or a content has a wrong type.
    :raises InvalidArgument: an entry is absolute, escapes the package, uses
        modwrite's temporary marker, or clashes with another.
    :raises InvalidModuleName: a module-name key is invalid.
    :raises InvalidSource: a source cannot be stored (see ``encode_source``).
    :raises ModuleSyntaxError: a ``.py`` file does not compile.
    """
    if not isinstance(files, Mapping):
        raise ArgumentTypeError(f"files must be a mapping, not {type(files).__name__}")
    flat: FlatTree = {}
    compiled: Compiled = {}

    def add(prefix: PurePosixPath, tree: Mapping[object, object]) -> None:
        for key, value in tree.items():
            if isinstance(value, Mapping):
                # A subdirectory: its key is a directory name or path as given.
                relative = prefix / _key_path(
                    name, PurePosixPath(key) if isinstance(key, str) else key
                )
                _claim(flat, name, relative, None)
                add(relative, value)
                continue
            relative = prefix / _key_path(name, key)
            dotted = ".".join((name, *relative.with_suffix("").parts))
            if relative.suffix == ".py":
                data, compiled[relative] = encode_source(
                    dotted, value, os.path.join(target, *relative.parts)
                )
            elif isinstance(value, str):
                data = value.encode("utf-8")
            elif isinstance(value, (bytes, bytearray, memoryview)):
                data = bytes(value)
            else:
                raise ArgumentTypeError(
                    f"content of {relative.as_posix()!r} must be str or bytes, "
                    f"not {type(value).__name__}"
                )
            _claim(flat, name, relative, data)

    add(PurePosixPath(), files)
    init = PurePosixPath("__init__.py")
    if init not in flat:
        flat[init] = b""
        _, compiled[init] = encode_source(
            f"{name}.__init__", b"", os.path.join(target, "__init__.py")
        )
    return flat, compiled


def _key_path(name: str, key: object) -> PurePosixPath:
    if isinstance(key, PurePath):
        path = PurePosixPath(key.as_posix())
    elif isinstance(key, str):
        if "/" in key or "\\" in key or key.endswith(".py"):
            path = PurePosixPath(key.replace("\\", "/"))
        else:
            parts = validate_module_name(key, what=f"module name in files of {name!r}")
            return PurePosixPath(*parts[:-1], parts[-1] + ".py")
    else:
        raise ArgumentTypeError(f"keys of files must be str or paths, not {type(key).__name__}")
    if any("\0" in p for p in path.parts):
        raise InvalidArgument(f"path {key!r} in files of {name!r} contains NUL")
    if path.is_absolute() or not path.parts or any(p in ("..", ".", "") for p in path.parts):
        raise InvalidArgument(
            f"path {key!s} in files of {name!r} must be relative, without '.' or '..'"
        )
    if any(parse(p) is not None for p in path.parts):
        raise InvalidArgument(
            f"path {key!s} in files of {name!r} is named as modwrite's temporary entries "
            "are (`modwrite clean` would remove it)"
        )
    return path


def _claim(flat: FlatTree, name: str, path: PurePosixPath, data: bytes | None) -> None:
    for parent in path.parents:
        if parent.parts and flat.get(parent) is not None:
            raise InvalidArgument(
                f"files of {name!r}: {parent.as_posix()!r} is both a file and a directory"
            )
        if parent.parts:
            flat.setdefault(parent, None)
    if path in flat and (data is not None or flat[path] is not None):
        raise InvalidArgument(f"files of {name!r}: {path.as_posix()!r} is given twice")
    flat[path] = data
