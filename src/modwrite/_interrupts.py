"""Signals held back while the disk and the writer's bookkeeping disagree.

CPython runs a Python-level signal handler (``KeyboardInterrupt`` for
SIGINT, often ``SystemExit`` for SIGTERM) in the main thread at the next
bytecode boundary, which may fall between a system call that changed the
disk (a file created, a rename done) and the statement that records it.  No
``try``/``finally`` can close that gap: the exception arrives before the
``try`` knows what to undo.  A write therefore runs its steps on the disk
inside :class:`deferred_signals`: the handlers of the terminating signals
that have one in Python (SIGINT, SIGTERM, SIGHUP) are replaced by a recorder
for the duration, and a signal that arrived meanwhile is delivered, to the
original handler, when the block ends: after the write committed (or was
rolled back), never in the middle.  Waits that may last (the directory lock
held by another writer) run under :meth:`deferred_signals.interruptible`, so
Ctrl-C still ends them at once.

Only the main thread runs Python signal handlers, so only there is anything
swapped; in other threads the block costs one comparison.  The handlers are
read and set through :mod:`_signal`, the C module :mod:`signal` wraps: its
public wrappers convert every handler to and from an enum, about 5 µs a call
against 0.4 µs, and a write sets two of them.
"""

from __future__ import annotations

import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # _signal has no stubs; it has signal's signatures
    import signal as _sig
else:
    try:
        import _signal as _sig
    except ImportError:  # pragma: no cover - an implementation without _signal
        import signal as _sig

__all__ = ["deferred_signals"]

#: The signals whose Python handlers are held back: those that end a program.
_SIGNALS = tuple(
    getattr(_sig, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(_sig, name)
)

Handler = Callable[[int, "FrameType | None"], Any]


class _MainThreadState:
    """What the main thread's :class:`deferred_signals` blocks share.  Kept
    on an instance, not on the class: writing a class attribute invalidates
    the interpreter's attribute caches for the class, which made an empty
    block cost about 3 µs."""

    __slots__ = ("depth", "interruptible", "pending", "saved")

    def __init__(self) -> None:
        self.depth = 0
        self.saved: dict[int, Handler] = {}
        self.pending: list[int] = []
        self.interruptible = 0


_state = _MainThreadState()


class deferred_signals:
    """Hold back the terminating signals' Python handlers for the ``with``
    block (main thread only; re-entrant).

    A signal received in the block is delivered to its original handler when
    the outermost block exits (which raises there, for ``KeyboardInterrupt``),
    or at :meth:`checkpoint`, or at once inside :meth:`interruptible`.
    """

    __slots__ = ("_active",)

    def __init__(self) -> None:
        self._active = False

    def __enter__(self) -> deferred_signals:
        if threading.current_thread() is not threading.main_thread():
            return self
        state = _state
        depth = state.depth
        try:
            state.depth = depth + 1
            self._active = True
            if not depth:
                for signum in _SIGNALS:
                    handler = _sig.getsignal(signum)
                    if callable(handler):
                        state.saved[signum] = handler
                        _sig.signal(signum, _record)
        except BaseException:
            # A signal whose handler was not swapped yet arrived, and that
            # handler raised: the block does not start; what was swapped
            # is put back, what was recorded delivered.
            if state.depth == depth + 1:
                self._active = True
                self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._active:
            return
        self._active = False
        state = _state
        state.depth -= 1
        if state.depth:
            return
        saved, state.saved = state.saved, {}
        try:
            _put_back(saved)
        finally:
            if state.pending:
                _deliver(saved)

    def checkpoint(self) -> None:
        """Deliver a signal received so far (the caller is at a point where an
        exception leaves nothing half done)."""
        if self._active and _state.pending:
            _deliver(_state.saved)

    def interruptible(self) -> _Interruptible:
        """A block in which signals are delivered at once (a blocking wait)."""
        return _Interruptible(self._active)


class _Interruptible:
    __slots__ = ("_active",)

    def __init__(self, active: bool) -> None:
        self._active = active

    def __enter__(self) -> None:
        if self._active:
            if _state.pending:  # before counting: __exit__ would not run
                _deliver(_state.saved)
            _state.interruptible += 1

    def __exit__(self, *exc_info: object) -> None:
        if self._active:
            _state.interruptible -= 1


def _put_back(handlers: dict[int, Handler]) -> None:
    """Install the original *handlers* again, every one of them.

    A signal may arrive meanwhile, and CPython runs its Python handler at the
    next check point, which may fall between two of these calls: the handler
    it finds there may be an original one, already back, that raises
    (``KeyboardInterrupt``).  Then they are all put back (again: setting one
    twice is harmless) before the exception goes on.  Only a second signal,
    arriving during that second round, could still cut in.
    """
    try:
        for signum, handler in handlers.items():
            _sig.signal(signum, handler)
    except BaseException:
        for signum, handler in handlers.items():
            _sig.signal(signum, handler)
        raise


def _record(signum: int, frame: FrameType | None) -> None:
    if _state.interruptible:
        handler = _state.saved.get(signum)
        if handler is not None:
            handler(signum, frame)
        return
    _state.pending.append(signum)


def _deliver(handlers: dict[int, Handler]) -> None:
    """Run the original handler of each signal received, once per signal
    (repeats coalesce, as CPython's own flags do), oldest first.  When a
    handler raises, the signals after it are raised again, so that their
    handlers run at the next bytecode boundary, as they would have."""
    received = list(dict.fromkeys(_state.pending))
    _state.pending.clear()
    for index, signum in enumerate(received):
        handler = handlers.get(signum)
        if handler is None:
            continue
        try:
            handler(signum, None)
        except BaseException:
            for later in received[index + 1 :]:
                _sig.raise_signal(later)
            raise
