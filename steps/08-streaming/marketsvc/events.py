# steps: main __doc__
# >>> exercise: sse

import time
# --- stub

# <<< exercise: sse
from collections.abc import AsyncIterator
# >>> exercise: sse

import anyio

from marketsvc import db_accessor
from marketsvc.db.engine import get_sessionmaker
from marketsvc.db_accessor import uncancelled
# --- stub

# <<< exercise: sse
from marketsvc.streaming import dumps

# steps: main PAGE_SIZE
# steps: main POLL_SECONDS
# steps: main KEEPALIVE


# steps: main sse
# >>> exercise: sse


# steps: main order_events
# --- stub


async def order_events(
    *, after: int, customer_id: int | None, limit: int | None, follow: bool, keepalive: float
) -> AsyncIterator[bytes]:
    """One `order` event per order with id > after, then one `end` event.

    With follow, it waits for new orders once it has caught up (sending a
    keep-alive comment every `keepalive` seconds of silence) until `limit`
    orders have been sent or the client goes away. When the client goes
    away, the server cancels this generator wherever it is waiting.
    """
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
# <<< exercise: sse
