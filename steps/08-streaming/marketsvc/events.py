# steps: main __doc__
# >>> exercise: status-first

import time
# <<< exercise: status-first
# >>> exercise: status-first
# --- stub

# <<< exercise: status-first
from collections.abc import AsyncIterator
# >>> exercise: status-first

import anyio
# <<< exercise: status-first
# >>> exercise: status-first

from marketsvc import db_accessor
# <<< exercise: status-first
# >>> exercise: status-first
from marketsvc.db.engine import get_sessionmaker
# <<< exercise: status-first
# >>> exercise: status-first
from marketsvc.db_accessor import uncancelled
# <<< exercise: status-first
# >>> exercise: status-first
# --- stub

# <<< exercise: status-first
from marketsvc.streaming import dumps

# steps: main PAGE_SIZE
# steps: main POLL_SECONDS
# steps: main KEEPALIVE


# steps: main sse
# >>> exercise: sse


# steps: main order_events
# --- stub


# steps: main order_events
#-    session = get_sessionmaker()()
#-    sent = 0
#-    last_write = time.monotonic()
#-    try:
#-        while limit is None or sent < limit:
#-            page = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - sent)
#-            orders = await uncancelled(db_accessor.orders_after(session, after, customer_id, page))
#-            # End the read transaction: the connection goes back to the pool
#-            # while we wait, and the next page sees orders committed since.
#-            await uncancelled(session.rollback())
#-            for order in orders:
#-                yield sse("order", order, event_id=order["order_id"])
#-            if orders:
#-                sent += len(orders)
#-                after = orders[-1]["order_id"]
#-                last_write = time.monotonic()
#-                continue
#-            if not follow:
#-                break
#-            if time.monotonic() - last_write >= keepalive:
#-                yield KEEPALIVE
#-                last_write = time.monotonic()
#-            await anyio.sleep(min(POLL_SECONDS, keepalive))
#-        yield sse("end", {"sent": sent, "last_id": after})
#-    finally:
#-        # Shielded: even when cancelled (client gone), the session must
#-        # finish closing and hand its connection back to the pool.
#-        with anyio.CancelScope(shield=True):
#-            await session.close()
#+    # TODO (exercise sse): write the loop. It needs `import time`,
#+    # `import anyio`, `from marketsvc import db_accessor`,
#+    # `from marketsvc.db.engine import get_sessionmaker` and
#+    # `from marketsvc.db_accessor import uncancelled`.
#+    # - Open a session of your own: session = get_sessionmaker()(); this
#+    #   generator runs after the route has returned.
#+    # - While limit is None or fewer than `limit` orders were sent: fetch the
#+    #   next page, await uncancelled(db_accessor.orders_after(session, after,
#+    #   customer_id, page)) (page: PAGE_SIZE, or fewer to stay within limit),
#+    #   then await uncancelled(session.rollback()) to end the read
#+    #   transaction and free the connection while we wait.
#+    # - yield sse("order", order, event_id=order["order_id"]) for each order,
#+    #   count them, and move `after` to the last order's id.
#+    # - An empty page: stop unless `follow`; when following, yield KEEPALIVE
#+    #   once `keepalive` seconds passed since the last write, then
#+    #   await anyio.sleep(min(POLL_SECONDS, keepalive)) and try again.
#+    # - Then yield sse("end", {"sent": sent, "last_id": after}).
#+    # - In a finally block, close the session inside
#+    #   `with anyio.CancelScope(shield=True):` so that it is closed even
#+    #   when the client leaves and the server cancels this generator.
#+    raise NotImplementedError("exercise sse: write order_events")
#+    yield  # a `yield` anywhere makes this function an async generator
# <<< exercise: sse
