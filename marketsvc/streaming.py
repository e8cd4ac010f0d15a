"""Streaming a JSON array over HTTP from an async generator.

Two rules make a stream safe to serve:

1. The status code is sent first, so every error that should become a 4xx
   has to happen before it. `start_stream` runs the generator up to its first
   batch (the query executes, the first rows arrive) before the response
   object exists; an error there is still an ordinary exception.
2. The connection behind the generator lives exactly as long as the stream.
   `StreamedJSON` closes the generator when the response ends, whether the
   body was sent, the client went away, or sending failed.

And two rules keep a stream from outliving its welcome:

3. A client that stops reading gets SEND_TIMEOUT seconds per chunk, then the
   response is aborted (the service's own streams hold no connection while
   they wait, see db_accessor.stream_query; /api/query's does).
4. On shutdown (SIGTERM) every stream is aborted at once, so that the server
   can exit.

Aborted means the connection is closed before the closing `]` and before
the end of the chunked body: a client can never mistake a stream cut short
for a complete JSON array.
"""

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from decimal import Decimal
from typing import Any

import anyio
import orjson
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from marketsvc import lifecycle
from marketsvc.db_accessor import uncancelled

log = logging.getLogger("marketsvc.streaming")

# Send the body in pieces of about this size: big enough that per-write
# overhead does not matter, small enough that memory stays flat.
CHUNK_BYTES = 64 * 1024
# Seconds a client may take to accept one chunk (Settings.send_timeout).
SEND_TIMEOUT = 30.0


class StreamAborted(Exception):
    """A streamed response was cut short; the message says why."""


def _default(value: Any) -> Any:
    """What orjson cannot encode by itself."""
    # Money arrives as an exact Decimal; JSON shows it as a number.
    if isinstance(value, Decimal):
        return float(value)
    # Research queries (/api/query) can return anything a column holds.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


class _Primed:
    """An async generator whose first item has already been fetched."""

    def __init__(self, first: Any, rest: AsyncIterator[Any], empty: bool):
        self.first, self.rest, self.empty = first, rest, empty

    async def __aiter__(self):
        if self.empty:
            return
        yield self.first
        async for item in self.rest:
            yield item

    async def aclose(self) -> None:
        await self.rest.aclose()


async def start_stream(batches: AsyncIterator[Any]) -> _Primed:
    """Run `batches` up to its first item, so that its errors raise here.

    Nothing to clean up when it raises: an exception (a cancellation too)
    that leaves a generator has already run the generator's `finally`.
    """
    try:
        first = await anext(batches)
    except StopAsyncIteration:
        return _Primed(None, batches, empty=True)
    return _Primed(first, batches, empty=False)


async def json_array(
    batches: AsyncIterator[Iterable[Any]], to_json: Callable[[Any], Any] = lambda row: row
) -> AsyncIterator[bytes]:
    """Encode batches of rows as one JSON array, in chunks of CHUNK_BYTES."""
    yield b"["
    pending: list[bytes] = []
    size = 0
    first = True
    async for batch in batches:
        # orjson encodes a whole batch as one array; drop its brackets and
        # join the pieces with commas.
        body = dumps([to_json(row) for row in batch])[1:-1]
        if not body:
            continue
        pending.append(body if first else b"," + body)
        first = False
        size += len(body)
        if size >= CHUNK_BYTES:
            yield b"".join(pending)
            pending, size = [], 0
    pending.append(b"]")
    yield b"".join(pending)


class StreamedJSON(StreamingResponse):
    """A streamed JSON array whose source generator is always closed."""

    media_type = "application/json"

    def __init__(self, stream: _Primed, to_json: Callable[[Any], Any] = lambda row: row):
        super().__init__(json_array(aiter(stream), to_json))
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = getattr(scope["app"].state, "settings", None)
        timeout = settings.send_timeout if settings else SEND_TIMEOUT

        complete = False

        async def send_in_time(message: Message) -> None:
            nonlocal complete
            # uvicorn's send waits while the socket's buffers are full,
            # that is, for as long as the client does not read.
            with anyio.move_on_after(timeout) as waited:
                await send(message)
            if waited.cancelled_caught:
                raise StreamAborted(f"the client read nothing for {timeout:g} s")
            complete = message["type"] == "http.response.body" and not message.get("more_body")

        try:
            with lifecycle.cancelled_on_shutdown() as shutdown:
                await super().__call__(scope, receive, send_in_time)
            if shutdown.cancelled_caught and not complete:
                raise StreamAborted("the server is shutting down")
        except StreamAborted as exc:
            # The status has been sent, so the only honest end is a broken
            # connection: returning without finishing the response makes
            # uvicorn close it, and the client never sees a complete array.
            # One line says why (an exception would log a whole traceback).
            log.warning("%s %s: stream aborted, %s", scope["method"], scope["path"], exc)
        finally:
            # Closing must finish (and return the connection to the pool)
            # even when this task is being cancelled, however often.
            await uncancelled(self._stream.aclose())
