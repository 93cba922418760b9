"""Start, wait for, and reliably tear down a tickfs FUSE daemon.

Stdlib-only and Python 3.9-compatible: this runs in the test process, while
the daemon (``python -m tests.fskit.tickfs``) runs under whichever interpreter
has pyfuse3 -- not necessarily the one under test.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ._mounts import canonical_mount_point, find_mount, unmount

#: Environment variable naming the interpreter that runs the daemon.
PYTHON_ENV = "MODWRITE_TICKFS_PYTHON"
#: Must match tests.fskit.tickfs.INTERNAL_ERROR_MARKER (not imported: that needs pyfuse3).
INTERNAL_ERROR_MARKER = "TICKFS-INTERNAL-ERROR"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Seconds to wait for the daemon to exit by itself once its mount is gone,
#: then after SIGTERM, then after SIGKILL.
EXIT_WAIT_S = (10.0, 5.0, 5.0)
#: Seconds allowed for each unmount command.
UNMOUNT_TIMEOUT_S = 30.0


def _read_log(log: IO[bytes]) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")


def _stat_bounded(path: Path, timeout: float) -> os.stat_result | None:
    """``os.stat(path)`` in a helper thread; None if it takes over *timeout* seconds.

    A wedged FUSE daemon makes stat block in the kernel; the thread is a
    daemon thread so it cannot keep the test process alive.
    """
    result: list[os.stat_result | BaseException] = []

    def target() -> None:
        try:
            result.append(path.stat())
        except BaseException as exc:  # reported to the caller below
            result.append(exc)

    thread = threading.Thread(target=target, name=f"stat {path}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        return None
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def _stop(proc: subprocess.Popen[bytes], *, mounted: bool) -> str:
    """Make *proc* exit (wait, then SIGTERM, then SIGKILL); describe what it took."""
    notes: list[str] = []
    waits = EXIT_WAIT_S if mounted else (0.0, *EXIT_WAIT_S[1:])
    for step, wait in enumerate(waits):
        if step == 1:
            proc.terminate()
            notes.append("sent SIGTERM")
        elif step == 2:
            proc.kill()
            notes.append("sent SIGKILL")
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        notes.append(f"pid {proc.pid} still alive after SIGKILL")
    else:
        notes.append(f"exit status {proc.returncode}")
    return ", ".join(notes)


def _wait_until_live(
    proc: subprocess.Popen[bytes],
    mountpoint: Path,
    timeout: float,
    fail: Callable[[str], RuntimeError],
) -> None:
    """Poll mountinfo until *mountpoint* is a FUSE mount whose root answers stat.

    Bounded by *timeout* seconds; raises ``fail(reason)`` if the daemon exits
    first, the mount does not appear, or its root does not answer.
    """
    deadline = time.monotonic() + timeout
    while True:
        entry = find_mount(mountpoint)
        if entry is not None:
            if not entry.fstype.startswith("fuse"):
                raise fail(f"mounted, but as {entry.fstype!r}, not FUSE")
            break
        if proc.poll() is not None:
            raise fail(f"daemon exited with status {proc.returncode} before mounting")
        if time.monotonic() > deadline:
            raise fail(f"not mounted within {timeout:g} s")
        time.sleep(0.02)
    try:
        root = _stat_bounded(mountpoint, max(1.0, deadline - time.monotonic()))
    except OSError as exc:
        raise fail(f"mounted, but stat of its root fails: {exc}") from exc
    if root is None:
        raise fail("mounted, but stat of its root hangs")


@contextlib.contextmanager
def mount_tickfs(
    backing: Path,
    mountpoint: Path,
    tick_ns: int,
    *,
    frozen_dir_mtime: bool = False,
    case_insensitive: bool = False,
    entry_timeout: float = 0.0,
    attr_timeout: float = 0.0,
    negative_timeout: float = 0.0,
    python: str | None = None,
    timeout: float = 20,
) -> Iterator[Path]:
    """Mount tickfs mirroring *backing* on *mountpoint*; yield *mountpoint*.

    *tick_ns* is the reported timestamp granularity in nanoseconds (e.g.
    2_000_000_000 for FAT). *frozen_dir_mtime* makes directory mtimes move only
    when set explicitly. *case_insensitive* makes name lookup case-insensitive
    but case-preserving, like vfat/NTFS/APFS (see :mod:`tests.fskit.tickfs`).
    *entry_timeout*, *attr_timeout* and *negative_timeout* (seconds, default
    0) let the kernel cache names, attributes and absent names for that long,
    as an NFS client's attribute cache does: two mounts of one *backing*
    directory with them behave like two hosts sharing a network filesystem.
    The daemon runs under *python*, else ``$MODWRITE_TICKFS_PYTHON``, else
    ``sys.executable``. *timeout* is the number of seconds to wait for the
    mount to come up.

    On exit: ``umount`` (then ``fusermount3 -u`` if present, then ``umount
    -l``; see :func:`tests.fskit._mounts.unmount`), after which the daemon --
    and only this daemon -- is waited for, terminated, and killed if need be.
    Raises RuntimeError, with the daemon's output, if the mount cannot be made
    or torn down, or if the daemon logged an internal error while serving.

    The daemon also unmounts and exits by itself if the process that started
    it dies (``PR_SET_PDEATHSIG``, so no mount outlives a killed test run).
    Caveat of that mechanism: the kernel fires it when the *thread* that
    started the daemon exits, so enter this context manager from a thread that
    outlives the mount (pytest fixtures run in the main thread).
    """
    interpreter = python or os.environ.get(PYTHON_ENV) or sys.executable
    if tick_ns < 1:
        raise RuntimeError(f"mount_tickfs: tick_ns must be >= 1, not {tick_ns}")
    timeouts = {
        "--entry-timeout": entry_timeout,
        "--attr-timeout": attr_timeout,
        "--negative-timeout": negative_timeout,
    }
    for option, seconds in timeouts.items():
        if not seconds >= 0:
            raise RuntimeError(f"mount_tickfs: {option} must be >= 0 seconds, not {seconds}")
    if not backing.is_dir():
        raise RuntimeError(f"mount_tickfs: backing directory {backing} does not exist")
    try:
        mountpoint.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(f"mount_tickfs: cannot create {mountpoint}: {exc}") from exc
    if find_mount(mountpoint) is not None:
        raise RuntimeError(f"mount_tickfs: {mountpoint} is already a mount point")
    cmd = [
        interpreter,
        "-m",
        "tests.fskit.tickfs",
        str(backing.resolve()),
        canonical_mount_point(mountpoint),
        "--tick-ns",
        str(tick_ns),
        "--parent-pid",
        str(os.getpid()),
    ]
    if frozen_dir_mtime:
        cmd.append("--frozen-dir-mtime")
    if case_insensitive:
        cmd.append("--case-insensitive")
    for option, seconds in timeouts.items():
        if seconds:
            cmd += [option, repr(float(seconds))]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep __pycache__ out of the repository

    with tempfile.TemporaryFile(prefix="tickfs-", suffix=".log") as log:
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=str(REPO_ROOT),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Not in our process group: a ^C reaches pytest, whose teardown
                # then unmounts cleanly, rather than killing the daemon first.
                start_new_session=True,
            )
        except OSError as exc:
            raise RuntimeError(f"mount_tickfs: cannot start {cmd[0]!r}: {exc}") from exc

        def fail(reason: str) -> RuntimeError:
            mounted = find_mount(mountpoint) is not None
            notes: list[str] = []
            if mounted:
                try:
                    unmount(mountpoint, fuse=True, timeout=UNMOUNT_TIMEOUT_S)
                except RuntimeError as exc:
                    notes.append(str(exc))
            notes.append(_stop(proc, mounted=mounted))
            return RuntimeError(
                f"tickfs on {mountpoint} failed: {reason}\n"
                f"command: {' '.join(cmd)}\n"
                f"teardown: {'; '.join(notes)}\n"
                f"daemon output:\n{_read_log(log)}"
            )

        try:
            _wait_until_live(proc, mountpoint, timeout, fail)
        except RuntimeError:
            raise  # fail() has cleaned up
        except BaseException:  # e.g. KeyboardInterrupt: clean up, then let it through
            fail("interrupted while waiting for the mount")
            raise

        try:
            yield mountpoint
        finally:
            unmount_error: RuntimeError | None = None
            try:
                unmount(mountpoint, fuse=True, timeout=UNMOUNT_TIMEOUT_S)
            except RuntimeError as exc:
                unmount_error = exc
            stopped = _stop(proc, mounted=True)
            if unmount_error is not None or proc.poll() is None:
                raise RuntimeError(
                    f"tickfs teardown on {mountpoint} failed: {unmount_error}; {stopped}\n"
                    f"daemon output:\n{_read_log(log)}"
                )
        output = _read_log(log)
        if INTERNAL_ERROR_MARKER in output:
            raise RuntimeError(f"tickfs daemon on {mountpoint} hit internal errors:\n{output}")
