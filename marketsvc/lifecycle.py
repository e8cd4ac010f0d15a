"""Shutdown, announced to the responses that would otherwise outlive it.

On SIGTERM (or Ctrl+C) uvicorn stops accepting connections and then waits
for the open ones to finish before it runs the lifespan's shutdown. A
follower of the order feed, or a stream whose client stopped reading, never
finishes by itself, so the process would wait forever. `stopping()` is an
event that is set the moment the signal arrives; long responses wait on it
beside their real work and end cleanly when it fires.

uvicorn installs its own signal handlers before the app starts;
`announce_shutdown` wraps them (calling them too) and puts them back after.
`cancelled_on_shutdown` is the tool for a response: a cancel scope that the
signal cancels.
"""

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

SIGNALS = (signal.SIGINT, signal.SIGTERM)

# The event, and the event loop it belongs to: an asyncio.Event works in
# one loop only, and tests run many loops one after another.
_stopping: asyncio.Event | None = None
_stopping_loop: asyncio.AbstractEventLoop | None = None


def stopping() -> asyncio.Event:
    """The event set when the server begins to shut down (one per lifespan)."""
    global _stopping, _stopping_loop
    loop = asyncio.get_running_loop()
    if _stopping is None or _stopping_loop is not loop:
        _stopping, _stopping_loop = asyncio.Event(), loop
    return _stopping


def begin_shutdown() -> None:
    """Tell every waiting response that the server is going away."""
    stopping().set()


@contextmanager
def cancelled_on_shutdown() -> Iterator[anyio.CancelScope]:
    """A cancel scope that is cancelled when shutdown begins.

    The code inside is cancelled at whatever it awaits, a send to a client
    that reads nothing included; afterwards `scope.cancelled_caught` tells
    whether shutdown cut it short.
    """
    with anyio.CancelScope() as scope:
        watcher = asyncio.ensure_future(_cancel_when_stopping(scope))
        try:
            yield scope
        finally:
            watcher.cancel()


async def _cancel_when_stopping(scope: anyio.CancelScope) -> None:
    await stopping().wait()
    scope.cancel()


@contextmanager
def announce_shutdown() -> Iterator[asyncio.Event]:
    """For the lifespan: set `stopping()` when a shutdown signal arrives."""
    global _stopping, _stopping_loop
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    _stopping, _stopping_loop = event, loop
    previous = {}
    # Signal handlers can only be set from the main thread; a server run in
    # a thread (as some tests do) is stopped by calling begin_shutdown().
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            handler = signal.getsignal(sig)

            def chained(signum, frame, handler=handler):
                loop.call_soon_threadsafe(event.set)
                if callable(handler):
                    handler(signum, frame)

            previous[sig] = signal.signal(sig, chained)
    try:
        yield event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        event.set()
        # The next lifespan (or a test without one) starts with a fresh
        # event; responses still running hold this one, which stays set.
        if _stopping is event:
            _stopping = _stopping_loop = None
