# steps: patch main
# steps: after __doc__
# >>> exercise: task-group

import asyncio
# --- stub
# steps: delete import asyncio
# <<< exercise: task-group
# >>> exercise: stream-query
# --- stub

# <<< exercise: stream-query
from collections.abc import AsyncIterator, Iterable, Sequence
# steps: after from typing
# >>> exercise: stream-query

import anyio
# --- stub
# steps: delete import anyio

# <<< exercise: stream-query
from sqlalchemy import Executable, Row, func, select

from marketsvc.db.engine import get_engine


# --- the workshop's three helpers ------------------------------------------


# steps: edit execute_query
#-    async with single_statement(get_engine()).connect() as conn:
#+    async with get_engine().connect() as conn:


async def execute_insert_query(
    statement: Executable, params: dict | list[dict] | None = None
) -> Row | None:
    """Run one write in a transaction of its own; return its first RETURNING row, if any."""
    async with get_engine().begin() as conn:
        result = await conn.execute(statement, params)
        return result.first() if result.returns_rows else None
# >>> exercise: stream-query


async def stream_query(
    statement: Executable, params: dict | None = None, *, batch_rows: int = STREAM_BATCH_ROWS
) -> AsyncIterator[Sequence[Row]]:
    """Yield the rows of a read in batches, from a server-side cursor.

    Memory holds one batch at a time however large the result. The
    connection stays checked out while the caller iterates and goes back to
    the pool when the generator finishes or is closed.
    """
    conn = await get_engine().connect()
    try:
        result = await conn.stream(statement, params)
        async for batch in result.partitions(batch_rows):
            yield batch
    finally:
        # Shielded so that a cancelled stream (client gone) still returns
        # its connection instead of abandoning it half-closed.
        with anyio.CancelScope(shield=True):
            await conn.close()
# --- stub


async def stream_query(
    statement: Executable, params: dict | None = None, *, batch_rows: int = STREAM_BATCH_ROWS
) -> AsyncIterator[Sequence[Row]]:
    """Yield the rows of a read in batches, from a server-side cursor.

    Memory holds one batch at a time however large the result. The
    connection stays checked out while the caller iterates and goes back to
    the pool when the generator finishes or is closed.
    """
    # TODO (exercise stream-query): write this async generator.
    # 1. Check a connection out of the pool: conn = await get_engine().connect()
    # 2. In a try block, start the query without fetching its rows:
    #        result = await conn.stream(statement, params)
    #    then yield them a batch at a time:
    #        async for batch in result.partitions(batch_rows): yield batch
    # 3. In the finally block give the connection back, whatever happened:
    #        await conn.close()
    #    Put that await inside `with anyio.CancelScope(shield=True):` (import
    #    anyio) so that it still runs to the end when the caller is cancelled.
    # execute_query() above is the all-at-once version of the same read.
    raise NotImplementedError("exercise stream-query: write stream_query")
    yield  # a `yield` anywhere makes this function an async generator
# <<< exercise: stream-query
# steps: edit group_order_lines
#-                    "total": Decimal("0.00"),
#+                    "total": 0,
# steps: main CUSTOMERS
#-CUSTOMERS = select(Customer.id, Customer.name, Address.flat_number, Address.post_code).join(
#-    Customer.address
#+CUSTOMERS = (
#+    select(Customer.id, Customer.name, Address.flat_number, Address.post_code)
#+    .join(Customer.address)
#+    .order_by(Customer.id)
# steps: main stream_customers
#-    return stream_query(CUSTOMERS, keys=["id"])
#+    return stream_query(CUSTOMERS)
# steps: edit stream_orders_between
#-    statement = ORDER_LINES.where(Order.order_time.between(after, before))
#-    keys = ["order_time", "order_id", "item_id"]
#+    statement = ORDER_LINES.where(Order.order_time.between(after, before)).order_by(
#+        Order.order_time, Order.id, OrderItem.item_id
#+    )
#-    # aclosing: when this generator is closed early (client gone), close the
#-    # inner one too, right away, so that its connection goes back to the pool.
#-    async with aclosing(stream_query(statement, keys=keys)) as batches:
#-        async for batch in batches:
#-            rows = held + list(batch)
#-            last_id = rows[-1].order_id
#-            split = len(rows)
#-            while split > 0 and rows[split - 1].order_id == last_id:
#-                split -= 1
#-            held = rows[split:]
#-            if split:
#-                yield group_order_lines(rows[:split])
#+    async for batch in stream_query(statement):
#+        rows = held + list(batch)
#+        last_id = rows[-1].order_id
#+        split = len(rows)
#+        while split > 0 and rows[split - 1].order_id == last_id:
#+            split -= 1
#+        held = rows[split:]
#+        if split:
#+            yield group_order_lines(rows[:split])
# steps: edit get_order_total
#-    rows = await execute_query(ORDER_TOTAL_OF, {"order_id": order_id})
#+    rows = await execute_query(ORDER_TOTAL.where(Order.id == order_id))
#-    return Decimal(rows[0].total).quantize(Decimal("0.01"))
#+    return rows[0].total
# >>> exercise: task-group
# steps: edit get_orders_total
#-    except ExceptionGroup as errors:
#-        error = one_error(errors)
#-        if error is None:
#-            raise
#-        if isinstance(error, NotFound):
#-            # Name every missing id, not only the first task's.
#-            missing = await unknown_order_ids(unique_ids)
#-            raise NotFound(f"unknown order ids: {missing}") from None
#-        raise error from errors
#+    except* NotFound:
#+        # Name every missing id, not only the first task's.
#+        missing = await unknown_order_ids(unique_ids)
#+        raise NotFound(f"unknown order ids: {missing}") from None
# --- stub


async def get_orders_total(order_ids: list[int]) -> list[dict[str, Any]]:
    """Totals of many orders, one query per order."""
    # TODO (exercise task-group): the queries below run one after the other,
    # each waiting for the last. Run them concurrently instead:
    # - a total_of(order_id) coroutine that awaits get_order_total(order_id)
    #   inside `async with limit:`, where limit = asyncio.Semaphore(FAN_OUT_LIMIT)
    #   (import asyncio), so at most FAN_OUT_LIMIT run at once;
    # - one task per distinct id, made with group.create_task() inside
    #   `async with asyncio.TaskGroup() as group:`, kept in a dict by id;
    # - wrap the TaskGroup in try/except* NotFound: when one task fails the
    #   group cancels its siblings and raises an ExceptionGroup. In the except*
    #   block, name every missing id with await unknown_order_ids(...) and
    #   raise NotFound(f"unknown order ids: {missing}") from None;
    # - finally answer in request order from tasks[order_id].result().
    totals, missing = [], []
    for order_id in order_ids:
        try:
            totals.append({"order_id": order_id, "total": await get_order_total(order_id)})
        except NotFound:
            missing.append(order_id)
    if missing:
        raise NotFound(f"unknown order ids: {sorted(set(missing))}")
    return totals
# <<< exercise: task-group


# --- writing an order --------------------------------------------------------


async def add_new_order(customer_id: int, items: list[tuple[int, int]]) -> int:
    """Insert an order and its (item_id, quantity) lines; returns the new order's id."""
    if not await customer_exists(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    item_ids = [item_id for item_id, _ in items]
    found = {row.id for row in await execute_query(select(Item.id).where(Item.id.in_(item_ids)))}
    missing = [item_id for item_id in item_ids if item_id not in found]
    if missing:
        raise NotFound(f"unknown item ids: {missing}")

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    new_order = Order.__table__.insert().returning(Order.id)
    row = await execute_insert_query(new_order, {"customer_id": customer_id, "order_time": now})
    order_id = row.id
    lines = [
        {"order_id": order_id, "item_id": item_id, "quantity": quantity}
        for item_id, quantity in items
    ]
    await execute_insert_query(OrderItem.__table__.insert(), lines)
    return order_id
# steps: delete from contextlib
# steps: delete import anyio.lowlevel
# steps: delete from sqlalchemy.exc
# steps: delete from sqlalchemy.ext.asyncio
# steps: delete from sqlalchemy.orm
# steps: delete uncancelled
# steps: delete ORDER_TOTAL_OF
# steps: delete order_json
# steps: delete import time
# steps: delete from dataclasses
# steps: delete from itertools
# steps: delete from sqlalchemy.exc #2
# steps: delete from marketsvc
# steps: delete from marketsvc.db.unavailable
# steps: delete MIDSTREAM_PATIENCE
# steps: delete one_error
# steps: delete patiently
# steps: delete after_key
# steps: delete _store_order
# steps: delete CANCEL_WINDOW
# steps: delete cancel_order
# steps: edit from datetime
#-from datetime import UTC, datetime, timedelta
#+from datetime import UTC, datetime
# steps: delete ORDERS_CHANNEL
# steps: delete announce_order
# steps: delete FeedRead
# steps: delete ORDER_WRITERS
# steps: delete order_writers
# steps: delete has_gap
# steps: delete read_orders_after
# steps: delete latest_order_id
# steps: delete count_customers
# steps: delete count_orders
# steps: delete revenue
# steps: delete top_item
# steps: delete STATS
# steps: delete get_stats
# steps: delete Conflict
# steps: delete list_items
# steps: delete create_item
