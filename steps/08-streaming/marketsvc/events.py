"""GET /api/events/orders: orders as Server-Sent Events.

The generator below *is* the response body. Everything it needs from the
database it gets through a session that it opens itself, because it runs
after the route function has returned: a session from a `Depends` would
already be closed by then.
"""

# >>> exercise: status-first
import time
# <<< exercise: status-first
from collections.abc import AsyncIterator

# >>> exercise: status-first
import anyio

from marketsvc import db_accessor
from marketsvc.db.engine import get_sessionmaker
from marketsvc.db_accessor import uncancelled
# <<< exercise: status-first
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
    # >>> exercise: status-first
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
    # --- stub
    # TODO (exercise sse): write the loop. It needs `import time`,
    # `import anyio`, `from marketsvc import db_accessor`,
    # `from marketsvc.db.engine import get_sessionmaker` and
    # `from marketsvc.db_accessor import uncancelled`.
    # - Open a session of your own: session = get_sessionmaker()(); this
    #   generator runs after the route has returned.
    # - While limit is None or fewer than `limit` orders were sent: fetch the
    #   next page, await uncancelled(db_accessor.orders_after(session, after,
    #   customer_id, page)) (page: PAGE_SIZE, or fewer to stay within limit),
    #   then await uncancelled(session.rollback()) to end the read
    #   transaction and free the connection while we wait.
    # - yield sse("order", order, event_id=order["order_id"]) for each order,
    #   count them, and move `after` to the last order's id.
    # - An empty page: stop unless `follow`; when following, yield KEEPALIVE
    #   once `keepalive` seconds passed since the last write, then
    #   await anyio.sleep(min(POLL_SECONDS, keepalive)) and try again.
    # - Then yield sse("end", {"sent": sent, "last_id": after}).
    # - In a finally block, close the session inside
    #   `with anyio.CancelScope(shield=True):` so that it is closed even
    #   when the client leaves and the server cancels this generator.
    raise NotImplementedError("exercise sse: write order_events")
    yield  # a `yield` anywhere makes this function an async generator
    # <<< exercise: status-first
