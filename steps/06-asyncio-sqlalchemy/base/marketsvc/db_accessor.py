"""All data access of the service: routes call these functions, never SQL.

The three workshop helpers come first, then one function per question the
API answers. Every function opens and closes its own connection, so it is
safe to call from many tasks at once.
"""

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Executable, Row, func, select

from marketsvc.db.engine import get_engine
from marketsvc.db.models import Address, Customer, Item, Order, OrderItem

# Rows fetched from the cursor per round trip while streaming.
STREAM_BATCH_ROWS = 2000
# How many order totals orders_total computes at once, each on its own
# connection. Bounded so one request cannot take the whole pool.
FAN_OUT_LIMIT = 4


class NotFound(LookupError):
    """Something the request names does not exist; the message says what."""


# --- the workshop's three helpers ------------------------------------------


async def execute_query(statement: Executable, params: dict | None = None) -> Sequence[Row]:
    """Run one read and return all its rows (for results that fit in memory)."""
    async with get_engine().connect() as conn:
        result = await conn.execute(statement, params)
        return result.all()


async def execute_insert_query(
    statement: Executable, params: dict | list[dict] | None = None
) -> Row | None:
    """Run one write in a transaction of its own; return its first RETURNING row, if any."""
    async with get_engine().begin() as conn:
        result = await conn.execute(statement, params)
        return result.first() if result.returns_rows else None


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


# --- customers ---------------------------------------------------------------

CUSTOMERS = (
    select(Customer.id, Customer.name, Address.flat_number, Address.post_code)
    .join(Customer.address)
    .order_by(Customer.id)
)


def customer_json(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "address": {"flat_number": row.flat_number, "post_code": row.post_code},
    }


def stream_customers() -> AsyncIterator[Sequence[Row]]:
    return stream_query(CUSTOMERS)


async def customer_exists(customer_id: int) -> bool:
    rows = await execute_query(select(Customer.id).where(Customer.id == customer_id))
    return bool(rows)


# --- orders ------------------------------------------------------------------

LINE_TOTAL = (Item.price * OrderItem.quantity).label("line_total")

ORDER_LINES = (
    select(
        Order.id.label("order_id"),
        Order.customer_id,
        Order.order_time,
        OrderItem.item_id,
        Item.name,
        Item.price,
        OrderItem.quantity,
        LINE_TOTAL,
    )
    .join(Order.items)
    .join(OrderItem.item)
)


def group_order_lines(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Fold rows of ORDER_LINES (sorted by order) into one dict per order."""
    orders: list[dict[str, Any]] = []
    for row in rows:
        if not orders or orders[-1]["order_id"] != row.order_id:
            orders.append(
                {
                    "order_id": row.order_id,
                    "customer_id": row.customer_id,
                    "order_time": row.order_time,
                    "items": [],
                    "total": 0,
                }
            )
        order = orders[-1]
        order["items"].append(
            {
                "item_id": row.item_id,
                "name": row.name,
                "price": row.price,
                "quantity": row.quantity,
                "total": row.line_total,
            }
        )
        order["total"] += row.line_total
    return orders


async def get_orders_of_customer(customer_id: int) -> list[dict[str, Any]]:
    """The customer's orders with their items; NotFound for an unknown customer."""
    statement = ORDER_LINES.where(Order.customer_id == customer_id).order_by(
        Order.id, OrderItem.item_id
    )
    rows = await execute_query(statement)
    if not rows and not await customer_exists(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    return group_order_lines(rows)


async def stream_orders_between(after: datetime, before: datetime) -> AsyncIterator[list[dict]]:
    """Orders with after <= order_time <= before, oldest first, in batches.

    An order's lines can straddle two batches of rows, so the last order of
    each batch is held back until the next batch shows it is complete.
    """
    statement = ORDER_LINES.where(Order.order_time.between(after, before)).order_by(
        Order.order_time, Order.id, OrderItem.item_id
    )
    held: list[Row] = []
    async for batch in stream_query(statement):
        rows = held + list(batch)
        last_id = rows[-1].order_id
        split = len(rows)
        while split > 0 and rows[split - 1].order_id == last_id:
            split -= 1
        held = rows[split:]
        if split:
            yield group_order_lines(rows[:split])
    if held:
        yield group_order_lines(held)


ORDER_TOTAL = (
    select(Order.id, func.coalesce(func.sum(LINE_TOTAL), 0).label("total"))
    .outerjoin(Order.items)
    .outerjoin(OrderItem.item)
    .group_by(Order.id)
)


async def get_order_total(order_id: int) -> Decimal:
    """The sum of price x quantity over the order's items; NotFound if no such order."""
    rows = await execute_query(ORDER_TOTAL.where(Order.id == order_id))
    if not rows:
        raise NotFound(f"order {order_id} does not exist")
    return rows[0].total


async def unknown_order_ids(order_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(order_ids))
    rows = await execute_query(select(Order.id).where(Order.id.in_(wanted)))
    found = {row.id for row in rows}
    return [order_id for order_id in wanted if order_id not in found]


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
