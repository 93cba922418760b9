"""Atomic file writes through :mod:`atomicwrites`, kept behind this module.

atomicwrites is archived upstream; everything modwrite needs from it goes
through :func:`write_atomic`, so replacing it is a change to this file only.
Its defaults do not fit module files, so :class:`_ModuleFileWriter` changes
them on purpose:

* fsync of the file and of its directory only when ``durable=True``
  (atomicwrites fsyncs both on every write: 1.17 ms against 43 µs for a
  temporary write + :func:`os.replace`, measured on ext4 here);
* no ``flush`` + ``fsync`` of the file object: it is unbuffered, and not an
  :class:`io.FileIO` but a writer of the raw descriptor
  (:class:`TemporaryFile`: FileIO costs an ``fstat`` and about 7 µs of a
  small write, measured);
* the temporary file is created with ``O_EXCL`` and mode 0o666 under the
  umask, so a new module gets the permissions a plain :func:`open` would give
  it, not ``mkstemp``'s 0600, and a replaced one keeps its own;
* its name can never be imported nor listed by :func:`pkgutil.iter_modules`
  (see :func:`temporary_name`);
* the commit always replaces (``overwrite=True``), via :func:`os.replace`,
  relative to the locked directory's descriptor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any, cast

from atomicwrites import AtomicWriter

from ._lock import LockedDirectory
from ._stamp import WritableFile
from ._tempnames import temporary_name

__all__ = ["chmod", "fsync_directory", "write_atomic"]


def chmod(fd: int, path: str, mode_bits: int) -> None:
    """chmod an open file: by descriptor where supported, else by path
    (Windows before 3.13)."""
    os.chmod(fd if os.chmod in os.supports_fd else path, mode_bits)


def fsync_directory(path: str) -> None:
    """fsync the directory *path* (makes renames in it durable; POSIX only)."""
    if os.name != "posix":  # pragma: no cover - Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TemporaryFile:
    """The temporary file being written: an unbuffered writer of its
    descriptor, which it owns (closed once, by :meth:`close`)."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        self.fd = -1

    def fileno(self) -> int:
        return self.fd

    def write(self, data: bytes, /) -> int:
        return os.write(self.fd, data)

    def flush(self) -> None:
        """Nothing to flush: every write is a ``write(2)``."""

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> TemporaryFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _ModuleFileWriter(AtomicWriter):
    """:class:`atomicwrites.AtomicWriter` with modwrite's defaults."""

    def __init__(
        self, directory: LockedDirectory, name: str, *, durable: bool, mode_bits: int | None
    ) -> None:
        # atomicwrites only stores the target's path: every method that
        # would use it is replaced by one working relative to the locked
        # directory.  What it still gives is the protocol of its _open().
        super().__init__(name, mode="wb", overwrite=True)
        self._directory = directory
        self._name = name
        self.temp = self._temp = temporary_name(name)
        self._durable = durable
        self._mode_bits = mode_bits
        self._created = False

    def get_fileobject(
        self,
        suffix: str = "",
        prefix: str = "",
        dir: str | bytes | os.PathLike[str] | os.PathLike[bytes] | None = None,
        **kwargs: Any,
    ) -> IO[Any]:
        """The temporary file (*suffix*, *prefix* and *dir* are ignored: the
        name comes from :func:`temporary_name`, the directory is the locked
        one).

        The file object owns its descriptor from the moment ``open(2)``
        returns (stored by the same statement; the write path runs with
        signals deferred), so the descriptor is closed exactly once, by it.
        """
        self._created = True  # before the open: rollback() must try the unlink
        f = TemporaryFile()
        f.fd = self._directory.open_new(self._temp)
        try:
            if self._mode_bits is not None:
                chmod(f.fileno(), self._directory.join(self._temp), self._mode_bits)
        except BaseException:
            f.close()
            raise
        # atomicwrites' stubs call it IO; atomicwrites only enters and exits
        # it, and the methods below take what they need of it.
        return cast("IO[Any]", f)

    def sync(self, f: IO[Any]) -> None:
        if self._durable:
            os.fsync(f.fileno())

    def commit(self, f: IO[Any]) -> None:
        """The commit point: the temporary file replaces the target.  The
        directory's fsync (``durable``) is the caller's, after it."""
        self._directory.replace(self._temp, self._name)

    def rollback(self, f: IO[Any] | None) -> None:
        if not self._created:
            return
        try:
            self._directory.unlink(self._temp)
        except FileNotFoundError:
            pass


def write_atomic(
    directory: LockedDirectory,
    name: str,
    data: bytes,
    *,
    mode_bits: int | None = None,
    durable: bool = False,
    before_commit: Callable[[WritableFile, str], None] | None = None,
) -> None:
    """Write *data* to the entry *name* of *directory*, atomically: readers
    see the old file or the new one, never a part.

    The data goes to a temporary entry of the same directory that is then
    :func:`os.replace`-d over *name*.  *mode_bits* are the permissions of the
    file being replaced (kept); ``None`` gives 0o666 under the umask, as
    :func:`open` does.  *before_commit* is called with the written temporary
    file and its entry name in *directory* just before the rename (modwrite
    sets its mtime there).

    The rename is the commit point: when this returns, the new file is in
    place; when it raises, it is not, and the temporary file is gone.  With
    *durable* the file is fsync-ed before the rename; the directory's fsync,
    which makes the rename durable, is the caller's (after the commit point,
    a failure there does not undo the write).

    :raises OSError: errno preserved, with the temporary file removed and
        *name* untouched.  No fsync unless *durable*: without it the write is
        atomic for readers but not crash-durable.
    """
    writer = _ModuleFileWriter(directory, name, durable=durable, mode_bits=mode_bits)
    with writer.open() as f:
        written = f.write(data)
        if written < len(data):  # a short write: write the rest
            view = memoryview(data)[written:]
            while view:
                view = view[f.write(view) :]
        if before_commit is not None:
            before_commit(f, writer.temp)
