"""Fault injection at the N-th filesystem call of a block of code.

A profile hook (:func:`sys.setprofile`) sees every call of a C function, in
every frame, with no patching: the block's filesystem calls are counted in
the order they happen, the writer's own and those of the standard library
working for it (``shutil.rmtree``, ``os.walk``, atomicwrites).  At call *N*
it injects one of:

``oserror``
    the call fails with ``OSError(errno)`` before it runs;
``interrupt``
    ``KeyboardInterrupt`` raised by the call before it runs (where modwrite
    holds signals back, a SIGINT instead: that is how it would come);
``signal``
    a real signal (SIGINT unless told otherwise) received *during* the call:
    the call completes and CPython runs the signal's Python handler at its
    next bytecode boundary, which drops the call's result when the handler
    raises (as a signal arriving in a system call does);
``kill-before`` / ``kill-after``
    SIGKILL of the process before or after the call (run it in a child).

A ``close`` fails or raises *after* it ran: ``close(2)`` frees the
descriptor even when it reports an error.

The Python-level calls listed in :data:`PYTHON_CALLS` (ctypes calls have no
C-call event) count as filesystem calls too.
"""

from __future__ import annotations

import errno as errno_module
import fcntl
import io
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import Any

from modwrite import _exchange, _interrupts, _package, _tempnames

#: The C functions counted as filesystem calls.
C_CALLS: dict[Any, str] = {
    os.open: "open",
    os.close: "close",
    os.stat: "stat",
    os.access: "access",
    os.lstat: "lstat",
    os.fstat: "fstat",
    os.replace: "replace",
    os.rename: "rename",
    os.unlink: "unlink",
    os.rmdir: "rmdir",
    os.mkdir: "mkdir",
    os.utime: "utime",
    os.write: "write",
    os.fsync: "fsync",
    os.listdir: "listdir",
    os.scandir: "scandir",
    os.chmod: "chmod",
    os.readlink: "readlink",
    os.symlink: "symlink",
    fcntl.flock: "flock",
    io.open: "io.open",
}
#: Methods of open files counted as filesystem calls.
FILE_METHODS = {"write": "file.write", "close": "file.close", "truncate": "file.truncate"}
#: Python functions counted as one filesystem call each (by code object).
PYTHON_CALLS: dict[Any, str] = {_exchange.exchange.__code__: "renameat2"}

MODES = ("oserror", "interrupt", "signal", "kill-before", "kill-after")


@dataclass(frozen=True)
class Injection:
    """What to inject at which call (0-based)."""

    mode: str
    at: int
    errno: int = errno_module.EIO
    signum: int = signal.SIGINT

    def __str__(self) -> str:
        extra = ""
        if self.mode == "oserror":
            extra = f" {errno_module.errorcode[self.errno]}"
        elif self.mode == "signal":
            extra = f" {signal.Signals(self.signum).name}"
        return f"{self.mode}{extra} at call {self.at}"


@dataclass
class Recorder:
    """The filesystem calls seen (their names), and whether the injection
    fired."""

    calls: list[str] = field(default_factory=list)
    fired: bool = False


def _c_call_name(function: Any) -> str | None:
    try:
        name = C_CALLS.get(function)
    except TypeError:  # unhashable
        return None
    if name is None and isinstance(getattr(function, "__self__", None), io.IOBase):
        name = FILE_METHODS.get(function.__name__)
    return name


@contextmanager
def inject(injection: Injection | None) -> Iterator[Recorder]:
    """Count the filesystem calls of the block; inject *injection* (or just
    count, with ``None``)."""
    recorder = Recorder()
    pending: list[str] = []  # names of calls whose c_return is to be handled

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            name = _c_call_name(arg)
        elif event == "call":
            name = PYTHON_CALLS.get(frame.f_code)
        elif event in ("c_return", "return") and pending:
            if event == "c_return" and _c_call_name(arg) != pending[-1]:
                return
            if event == "return" and PYTHON_CALLS.get(frame.f_code) != pending[-1]:
                return
            pending.pop()
            _after(recorder, injection)
            return
        else:
            return
        if name is None:
            return
        index = len(recorder.calls)
        recorder.calls.append(name)
        if injection is None or index != injection.at or recorder.fired:
            return
        if injection.mode in ("signal", "kill-after") or (
            injection.mode in ("oserror", "interrupt") and name in ("close", "file.close")
        ):
            pending.append(name)
            return
        recorder.fired = True
        sys.setprofile(None)
        if injection.mode == "interrupt" and _interrupts._state.depth:
            # A KeyboardInterrupt comes from a signal, which modwrite holds
            # back here: deliver it as such.
            signal.raise_signal(signal.SIGINT)
            return
        if injection.mode == "oserror":
            raise OSError(injection.errno, os.strerror(injection.errno) + " (injected)")
        if injection.mode == "interrupt":
            raise KeyboardInterrupt(f"injected at call {index} ({name})")
        if injection.mode == "kill-before":
            os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError(injection.mode)  # pragma: no cover

    sys.setprofile(hook)
    try:
        yield recorder
    finally:
        sys.setprofile(None)


def _after(recorder: Recorder, injection: Injection | None) -> None:
    assert injection is not None
    recorder.fired = True
    sys.setprofile(None)
    if injection.mode == "signal":
        signal.raise_signal(injection.signum)
    elif injection.mode == "kill-after":
        os.kill(os.getpid(), signal.SIGKILL)
    elif injection.mode == "oserror":
        raise OSError(injection.errno, os.strerror(injection.errno) + " (injected)")
    elif injection.mode == "interrupt":
        raise KeyboardInterrupt("injected after a close")


# -- what to check afterwards ----------------------------------------------------


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under *root* (``__pycache__`` aside): relative path ->
    file bytes, ``"<dir>"``, or ``("<link>", target)``."""
    tree: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            key = str(path.relative_to(root))
            if path.is_symlink():
                tree[key] = ("<link>", os.readlink(path))
            elif path.is_dir():
                tree[key] = "<dir>"
            else:
                tree[key] = path.read_bytes()
    return tree


def open_fds() -> dict[int, str]:
    """This process's open descriptors, and what each one names (the
    listing's own descriptor, closed by the time it is read, left out)."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:
            continue
    return found


def lock_is_free(directory: Path) -> bool:
    """Can a new descriptor take *directory*'s writers' lock at once?"""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def run_in_child(fn: Callable[[], object]) -> int:
    """Fork; run *fn* in the child (exit 0 after it, the code of a
    ``SystemExit``, 70 on another exception);
    return the child's exit code as :func:`os.waitstatus_to_exitcode` gives
    it (negative: killed by that signal)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            # The writer's identity is read once per process (from /proc):
            # read it now, so that the child's filesystem calls are counted
            # as the parent's were.
            _tempnames.this_writer()
            fn()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 70
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 70
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def count_calls(
    scratch: Path, setup: Callable[[Path], object], write: Callable[[Path], object]
) -> list[str]:
    """The filesystem calls *write* makes on a root prepared by *setup*
    (run on *scratch*, a directory of its own)."""
    scratch.mkdir()
    setup(scratch)
    with inject(None) as recorder:
        write(scratch)
    return recorder.calls


def call_index(calls: list[str], name: str, occurrence: int = 1) -> int:
    """The index of the *occurrence*-th call named *name* in *calls*."""
    seen = 0
    for index, call in enumerate(calls):
        if call == name:
            seen += 1
            if seen == occurrence:
                return index
    raise AssertionError(f"no {name} #{occurrence} in {calls}")


@contextmanager
def no_exchange() -> Iterator[None]:
    """The two-rename fallback of :func:`modwrite.write_package`, as on
    systems without ``RENAME_EXCHANGE`` (macOS, NFS, FUSE): the exchange
    reports itself unsupported."""
    from unittest import mock

    with mock.patch.object(_package, "exchange", return_value=False):
        yield


def crash_between_the_fallback_renames(root: Path, leaf: str = "pkg") -> None:
    """Leave package *leaf* under *root* missing and its tree parked, as a
    writer SIGKILLed between the two renames of the fallback swap (no
    ``RENAME_EXCHANGE``) does: a child rewrites it and dies there."""
    from unittest import mock

    import modwrite

    target = str(root / leaf)
    real_rename = os.rename

    def rename(src: str, dst: str) -> None:
        real_rename(src, dst)
        if src == target:  # the old tree parked: die before the new one is in
            os.kill(os.getpid(), signal.SIGKILL)

    def child() -> None:
        with no_exchange(), mock.patch.object(os, "rename", side_effect=rename):
            modwrite.write_package(leaf, {"__init__": "V = 'never'\n"}, root=root)

    assert run_in_child(child) == -signal.SIGKILL
    assert not os.path.lexists(target)


# -- the commit-point rule -----------------------------------------------------------
#
# One checker, used by the deterministic sweep (tests/test_sweep.py) and the
# random campaign (tests/faultsim): the disk holds an allowed state (the old
# version, or the one after a step of the write), plus only entries named as
# modwrite's temporaries, which ``clean`` removes (or, for a parked package,
# puts back), and nothing else.


class CommitPointViolation(AssertionError):
    """The disk breaks the commit-point rule."""


def leftovers(directory: Path) -> list[str]:
    """modwrite's temporary and parked entries anywhere under *directory*."""
    return sorted(
        str(p.relative_to(directory)) for p in directory.rglob("*") if _tempnames.parse(p.name)
    )


def removable(directory: Path) -> list[str]:
    """The leftovers under *directory* that ``modwrite clean`` would act on
    now (:func:`modwrite._clean.find_leftovers`: those of writers gone)."""
    from modwrite import _clean

    return sorted(
        str(Path(x.path).relative_to(directory)) for x in _clean.find_leftovers(str(directory))
    )


def is_leftover(relative: str) -> bool:
    """Is the path *relative* (to a root) inside or at one of modwrite's
    temporary, parked or trash entries (those :func:`leftovers` lists)?"""
    return any(_tempnames.parse(part) for part in PurePosixPath(relative).parts)


def state_on_disk(root: Path) -> dict[str, object]:
    """The :func:`snapshot` of *root*, modwrite's leftovers aside."""
    return {k: v for k, v in snapshot(root).items() if not is_leftover(k)}


def state_index(states: list[dict[str, object]], root: Path) -> int:
    """Which of the allowed *states* (snapshots, see :func:`snapshot`) the
    disk under *root* is in, modwrite's leftovers aside.

    :raises CommitPointViolation: it is in none."""
    tree = state_on_disk(root)
    for index, state in enumerate(states):
        if tree == state:
            return index
    differences = []
    for index, state in enumerate(states):
        differing = sorted(k for k in set(tree) | set(state) if tree.get(k) != state.get(k))
        differences.append(f"state {index} differs at {differing}")
    raise CommitPointViolation(
        f"disk in no allowed state: {sorted(tree)}; " + "; ".join(differences)
    )


def clean_after_kill(states: list[dict[str, object]], root: Path) -> tuple[int, int]:
    """After a writer under *root* was killed (and reaped): ``clean`` acts on
    exactly the leftovers, fails on none, leaves none, and the disk is in an
    allowed state.  Returns that state's index and how many leftovers
    ``clean`` removed or put back.

    :raises CommitPointViolation: any of that is not so."""
    from modwrite import _clean

    before = leftovers(root)
    report = _clean.clean(str(root))
    acted = [*report.removed, *(parked for parked, _ in report.restored)]
    if report.failed:
        raise CommitPointViolation(f"clean failed: {report.failed}")
    if leftovers(root):
        raise CommitPointViolation(f"clean left {leftovers(root)} (of {before})")
    outside = [p for p in acted if str(Path(p).relative_to(root)) not in before]
    if outside:
        raise CommitPointViolation(f"clean acted on entries that are no leftovers: {outside}")
    return state_index(states, root), len(acted)
