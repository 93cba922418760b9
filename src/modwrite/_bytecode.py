"""The bytecode cache written at write time: one checked hash-based pyc
(PEP 552) per source, from the code object that validated it.

Why hash-based, and checked:

* a stock importer trusts it for exactly the bytes it was compiled from: it
  reads the source, hashes it (``_imp.source_hash``, SipHash: about 10 µs
  for a 2000-line module) and compares, so no rewrite, however quick, and no
  racing writer can make it run stale code (G3 needs no stamp for it);
* :mod:`modwrite.machinery`'s loader trusts hash-based pycs at once, where it
  would reject a timestamp pyc written in the second its source changed
  (``SETTLED_S``): both machineries use the pyc, so no importer, in this
  process or another, compiles the module again.

The cost, against a timestamp pyc: each import reads the source and hashes
it (a ``stat`` would do for a timestamp pyc).  Against compiling, it is about
a hundredth of the compile of the same module.

Timestamp pycs of the same source (other optimization levels, or written by
importers that compile it later) are untouched and still rejected by the
stamp rule of :mod:`modwrite._stamp`.

``python --check-hash-based-pycs never`` tells Python to trust hash-based
pycs without checking them (PEP 552): there, a file rewritten by another tool
runs the code of modwrite's last write until that pyc is removed.

The file is written as ``SourceLoader._cache_bytecode`` writes it (CPython's
``importlib/_bootstrap_external.py``): to a temporary name beside it, then
:func:`os.replace`, with the source's permission bits plus owner-write, and
failures are ignored (a cache that cannot be written is a cache miss).
"""

from __future__ import annotations

import marshal
import os
import sys
from importlib.util import MAGIC_NUMBER, cache_from_source, source_hash
from types import CodeType

from ._tempnames import temporary_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["hash_based_pyc", "pyc_path", "write_pyc"]

#: PEP 552 flags: bit 0 "hash-based", bit 1 "check_source".
_CHECKED_HASH_FLAGS = (0b11).to_bytes(4, "little")


def pyc_path(source_path: str) -> str | None:
    """Where the import system looks for *source_path*'s bytecode at this
    optimization level (:func:`importlib.util.cache_from_source`, honouring
    :data:`sys.pycache_prefix`), or ``None`` when this interpreter keeps
    none (``sys.implementation.cache_tag`` is ``None``)."""
    try:
        return cache_from_source(source_path)
    except NotImplementedError:  # pragma: no cover - no cache tag
        return None


def hash_based_pyc(code: CodeType, source: bytes) -> bytes:
    """The bytes of a checked hash-based pyc of *code*, compiled from
    *source* (``_code_to_hash_pyc`` in CPython, ``check_source=True``)."""
    return MAGIC_NUMBER + _CHECKED_HASH_FLAGS + source_hash(source) + marshal.dumps(code)


def write_pyc(
    source_path: str,
    source: bytes,
    code: CodeType,
    mode_bits: int | None,
    made_directory: Callable[[str], None] | None = None,
) -> bool:
    """Write the checked hash-based pyc of *code* for the source file at
    *source_path*, whose bytes are *source*; ``True`` if it was written.

    :param mode_bits: the source's permission bits (``None``: a new file's,
        0o666 under the umask); the pyc gets them plus owner-write, as
        CPython's ``_calc_mode`` gives.
    :param made_directory: called with the cache directory's path when this
        call created it (the source's directory changed: a new
        ``__pycache__``), before the pyc lands in it.

    Never raises :class:`OSError`: a failure returns ``False``.  Whatever
    is raised, no temporary file is left.  Not written when :data:`sys.dont_write_bytecode`.
    """
    if sys.dont_write_bytecode:
        return False
    path = pyc_path(source_path)
    if path is None:  # pragma: no cover - no cache tag
        return False
    data = hash_based_pyc(code, source)
    directory, leaf = os.path.split(path)
    temp = os.path.join(directory, temporary_name(leaf))
    mode = 0o666 if mode_bits is None else (mode_bits | 0o200) & 0o666
    try:
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileNotFoundError:
            made = not os.path.isdir(directory)
            os.makedirs(directory, exist_ok=True)
            if made and made_directory is not None:
                made_directory(directory)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException as exc:  # an interrupt too: no temporary file is left
        try:
            os.unlink(temp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            return False
        raise
    return True
