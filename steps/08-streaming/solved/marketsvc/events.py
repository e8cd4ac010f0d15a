"""GET /api/events/orders: orders as Server-Sent Events.

The generator below *is* the response body. Everything it needs from the
database it gets through a session that it opens itself, because it runs
after the route function has returned: a session from a `Depends` would
already be closed by then.
"""

import time
from collections.abc import AsyncIterator

import anyio

from marketsvc import db_accessor
from marketsvc.db.engine import get_sessionmaker
from marketsvc.db_accessor import uncancelled
from marketsvc.streaming import dumps

PAGE_SIZE = 200
POLL_SECONDS = 0.5
KEEPALIVE = b": keep-alive\n\n"


def sse(event: str, data: object, event_id: int | None = None) -> bytes:
    """One event in the text/event-stream format (orjson never writes newlines)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + dumps(data) + b"\n\n"


async def order_events(
    *, after: int, customer_id: int | None, limit: int | None, follow: bool, keepalive: float
) -> AsyncIterator[bytes]:
    """One `order` event per order with id > after, then one `end` event.

    With follow, it waits for new orders once it has caught up (sending a
    keep-alive comment every `keepalive` seconds of silence) until `limit`
    orders have been sent or the client goes away. When the client goes
    away, the server cancels this generator wherever it is waiting.
    """
    session = get_sessionmaker()()
    sent = 0
    last_write = time.monotonic()
    try:
        while limit is None or sent < limit:
            page = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - sent)
            orders = await uncancelled(db_accessor.orders_after(session, after, customer_id, page))
            # End the read transaction: the connection goes back to the pool
            # while we wait, and the next page sees orders committed since.
            await uncancelled(session.rollback())
            for order in orders:
                yield sse("order", order, event_id=order["order_id"])
            if orders:
                sent += len(orders)
                after = orders[-1]["order_id"]
                last_write = time.monotonic()
                continue
            if not follow:
                break
            if time.monotonic() - last_write >= keepalive:
                yield KEEPALIVE
                last_write = time.monotonic()
            await anyio.sleep(min(POLL_SECONDS, keepalive))
        yield sse("end", {"sent": sent, "last_id": after})
    finally:
        # Shielded: even when cancelled (client gone), the session must
        # finish closing and hand its connection back to the pool.
        with anyio.CancelScope(shield=True):
            await session.close()
