# steps: patch
# steps: after from collections.abc
from contextlib import aclosing
# steps: after import anyio
import anyio.lowlevel
# steps: after NotFound


# --- the workshop's three helpers ------------------------------------------


# steps: main uncancelled


# steps: edit execute_query
# steps: edit stream_query
#-        async for batch in result.partitions(batch_rows):
#+        batches = result.partitions(batch_rows)
#+        while batch := await uncancelled(anext(batches, None)):
# steps: main stream_orders_between
#-    statement = ORDER_LINES.where(Order.order_time.between(after, before))
#-    keys = ["order_time", "order_id", "item_id"]
#+    statement = ORDER_LINES.where(Order.order_time.between(after, before)).order_by(
#+        Order.order_time, Order.id, OrderItem.item_id
#+    )
#-    async with aclosing(stream_query(statement, keys=keys)) as batches:
#+    async with aclosing(stream_query(statement)) as batches:
