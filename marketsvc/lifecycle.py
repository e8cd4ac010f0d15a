"""Shutdown, announced to the responses that would otherwise outlive it.

On SIGTERM (or Ctrl+C) uvicorn stops accepting connections and then waits
for the open ones to finish before it runs the lifespan's shutdown. A
follower of the order feed, or a stream whose client stopped reading, never
finishes by itself, so the process would wait forever. `stopping()` is an
event that is set the moment the signal arrives; long responses wait on it
beside their real work and end cleanly when it fires.

uvicorn installs its own signal handlers before the app starts;
`announce_shutdown` wraps them (calling them too) and puts them back after.
"""

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_stopping: asyncio.Event | None = None


def stopping() -> asyncio.Event:
    """The event set when the server begins to shut down (one per lifespan)."""
    global _stopping
    if _stopping is None:
        _stopping = asyncio.Event()
    return _stopping


def begin_shutdown() -> None:
    """Tell every waiting response that the server is going away."""
    stopping().set()


@contextmanager
def announce_shutdown() -> Iterator[asyncio.Event]:
    """For the lifespan: set `stopping()` when a shutdown signal arrives."""
    global _stopping
    _stopping = event = asyncio.Event()
    loop = asyncio.get_running_loop()
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
