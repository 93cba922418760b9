"""deferred_signals: terminating signals held back while a write changes the
disk, delivered once it is whole (or rolled back)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from modwrite import _interrupts
from modwrite._interrupts import deferred_signals


@pytest.fixture
def sigterm_exits() -> Iterator[None]:
    """SIGTERM handled in Python, as servers do (``SystemExit``)."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_signal_in_the_block_is_delivered_when_it_ends() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            signal.raise_signal(signal.SIGINT)
            steps.append("after the signal")
    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nested_blocks_deliver_at_the_outermost_end() -> None:
    steps = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            with deferred_signals():
                signal.raise_signal(signal.SIGINT)
            steps.append("inner block ended")
    assert steps == ["inner block ended"]


def test_a_checkpoint_delivers_what_arrived() -> None:
    with deferred_signals() as signals:
        signals.checkpoint()  # nothing pending: nothing happens
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            signals.checkpoint()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interruptible_wait_gets_the_signal_at_once() -> None:
    with deferred_signals() as signals:
        with pytest.raises(KeyboardInterrupt):
            with signals.interruptible():
                signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # held back again after the wait
        with pytest.raises(KeyboardInterrupt):
            with signals.interruptible():  # a pending one is delivered on entry
                pytest.fail("not reached")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_repeated_signals_are_delivered_once() -> None:
    calls = []

    def handler(signum: int, frame: object) -> None:
        calls.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with deferred_signals():
            for _ in range(3):
                signal.raise_signal(signal.SIGINT)
            assert calls == []
        assert calls == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigterm_with_a_python_handler_is_held_back_too(sigterm_exits: None) -> None:
    with pytest.raises(SystemExit):
        with deferred_signals():
            signal.raise_signal(signal.SIGTERM)
            held = True
    assert held


def test_handlers_are_restored_when_the_block_raises() -> None:
    with pytest.raises(ValueError):
        with deferred_signals():
            raise ValueError
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_default_dispositions_are_left_alone() -> None:
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    with deferred_signals():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL


def test_in_another_thread_nothing_is_swapped() -> None:
    seen = []

    def run() -> None:
        with deferred_signals() as signals:
            seen.append(signal.getsignal(signal.SIGINT))
            signals.checkpoint()
            with signals.interruptible():
                pass

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_every_signal_that_arrived_is_delivered(sigterm_exits: None) -> None:
    """SIGINT and SIGTERM in one block: both handlers run, as they would
    without the block (the second at the next bytecode boundary)."""
    seen = []
    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum: int, frame: object) -> None:
        seen.append(signum)
        assert callable(previous)
        previous(signum, frame)

    signal.signal(signal.SIGTERM, terminate)
    with pytest.raises(BaseException) as info:
        with deferred_signals():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGTERM)
    assert seen == [signal.SIGTERM]
    assert isinstance(info.value, (KeyboardInterrupt, SystemExit))


# -- a signal while the handlers are being swapped ---------------------------------
#
# Found by the fault campaign (tests/faultsim): 2 of 1000 SIGINTs sent during
# a batch() left SIGTERM's handler swapped for modwrite's recorder after the
# KeyboardInterrupt, so that the process ignored SIGTERM from then on.  CPython
# runs a signal's Python handler at the next check point, which may fall
# between two of the calls that put the handlers back (or swap them).


@pytest.fixture
def handlers_restored() -> Iterator[None]:
    """Whatever a test leaves, the next one starts with the handlers and
    the deferral state as they were."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        state = _interrupts._state
        state.depth, state.saved, state.pending, state.interruptible = 0, {}, [], 0


def _signal_arriving_when(
    condition: Callable[[int, Any], int | None],
) -> SimpleNamespace:
    """modwrite's view of :mod:`_signal`, where setting a handler makes a
    signal arrive just after, if *condition* (given the signal and the
    handler set) names one (its Python handler then runs at the next check
    point, inside modwrite's code)."""
    real = _interrupts._sig
    fired: list[int] = []

    def set_handler(signum: int, handler: Any) -> Any:
        previous = real.signal(signum, handler)
        arriving = None if fired else condition(signum, handler)
        if arriving is not None:
            fired.append(arriving)
            real.raise_signal(arriving)
        return previous

    return SimpleNamespace(
        getsignal=real.getsignal, signal=set_handler, raise_signal=real.raise_signal, fired=fired
    )


def test_a_signal_while_the_handlers_are_put_back_leaves_none_swapped(
    sigterm_exits: None, handlers_restored: None
) -> None:
    """The signal whose handler was put back first arrives before the
    others are: its exception comes out, and every handler is back."""
    terminate = signal.getsignal(signal.SIGTERM)
    view = _signal_arriving_when(
        lambda signum, handler: None if handler is _interrupts._record else signum
    )
    with mock.patch.object(_interrupts, "_sig", view):
        with pytest.raises((KeyboardInterrupt, SystemExit)):
            with deferred_signals():
                pass
    assert view.fired
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is terminate
    assert _interrupts._state.depth == 0 and _interrupts._state.saved == {}


def test_a_signal_while_the_handlers_are_swapped_leaves_none_swapped(
    sigterm_exits: None, handlers_restored: None
) -> None:
    """A signal whose handler is not swapped yet arrives when another one's
    is: its exception comes out of the ``with``, no handler stays swapped,
    and the next block defers signals again."""
    terminate = signal.getsignal(signal.SIGTERM)

    def other(signum: int, handler: Any) -> int | None:
        if handler is not _interrupts._record:
            return None
        return signal.SIGTERM if signum == signal.SIGINT else signal.SIGINT

    view = _signal_arriving_when(other)
    body = []
    with mock.patch.object(_interrupts, "_sig", view):
        with pytest.raises((KeyboardInterrupt, SystemExit)):
            with deferred_signals():
                body.append("ran")
    assert view.fired
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is terminate
    assert _interrupts._state.depth == 0 and _interrupts._state.saved == {}
    held = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            signal.raise_signal(signal.SIGINT)
            held.append("held back")
    assert held == ["held back"]
