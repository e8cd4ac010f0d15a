"""All data access of the service: routes call these functions, never SQL.

The three workshop helpers come first, then one function per question the
API answers. Every function opens and closes its own connection, so it is
safe to call from many tasks at once.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

import anyio
import anyio.lowlevel
from sqlalchemy import Executable, Row, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from marketsvc.db.engine import (
    get_engine,
    get_sessionmaker,
    is_sqlite,
    single_statement,
    write_transaction,
)
from marketsvc.db.models import Address, Customer, Item, Order, OrderItem

# Rows fetched from the cursor per round trip while streaming.
STREAM_BATCH_ROWS = 2000
# How many order totals orders_total computes at once, each on its own
# connection. Bounded so one request cannot take the whole pool.
FAN_OUT_LIMIT = 4


class NotFound(LookupError):
    """Something the request names does not exist; the message says what."""


# --- the workshop's three helpers ------------------------------------------


async def uncancelled(awaitable):
    """Await a database call that a cancellation must not cut in half.

    A streaming response is cancelled when its client goes away, at whatever
    await it is in. Cut off halfway through a fetch, SQLAlchemy can no longer
    trust the connection and throws it away (and aiosqlite leaves a task
    behind). Shielded, the fetch completes and the cancellation arrives at
    the next await instead, where the connection closes cleanly.
    """
    with anyio.CancelScope(shield=True):
        result = await awaitable
    # And here it arrives: without this, a stream whose writes no longer
    # wait (its client is gone) might never reach an await that can be
    # cancelled, and would run its query to the end.
    await anyio.lowlevel.checkpoint()
    return result


async def execute_query(statement: Executable, params: dict | None = None) -> Sequence[Row]:
    """Run one read and return all its rows (for results that fit in memory)."""
    async with single_statement(get_engine()).connect() as conn:
        result = await conn.execute(statement, params)
        return result.all()


async def execute_insert_query(
    statement: Executable,
    params: dict | list[dict] | None = None,
    *,
    conn: AsyncConnection | None = None,
) -> Row | None:
    """Run one write and return its first RETURNING row, if it has one.

    On its own it is a transaction of its own; pass `conn` to make it part of
    a larger transaction that the caller commits.
    """
    if conn is None:
        async with write_transaction() as own_conn:
            return await execute_insert_query(statement, params, conn=own_conn)
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
    conn = await get_engine().connect()
    try:
        result = await conn.stream(statement, params)
        batches = result.partitions(batch_rows)
        while batch := await uncancelled(anext(batches, None)):
            yield batch
    finally:
        # Shielded so that a cancelled stream (client gone) still returns
        # its connection instead of abandoning it half-closed.
        with anyio.CancelScope(shield=True):
            await conn.close()


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
                    "total": Decimal("0.00"),
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
    # aclosing: when this generator is closed early (client gone), close the
    # inner one too, right away, so that its connection goes back to the pool.
    async with aclosing(stream_query(statement)) as batches:
        async for batch in batches:
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


# Built once, with a named parameter: the hottest query of the service
# skips rebuilding its statement on every request (see bench/throughput.py).
ORDER_TOTAL_OF = ORDER_TOTAL.where(Order.id == bindparam("order_id"))


async def get_order_total(order_id: int) -> Decimal:
    """The sum of price x quantity over the order's items; NotFound if no such order."""
    rows = await execute_query(ORDER_TOTAL_OF, {"order_id": order_id})
    if not rows:
        raise NotFound(f"order {order_id} does not exist")
    return Decimal(rows[0].total).quantize(Decimal("0.01"))


async def unknown_order_ids(order_ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(order_ids))
    rows = await execute_query(select(Order.id).where(Order.id.in_(wanted)))
    found = {row.id for row in rows}
    return [order_id for order_id in wanted if order_id not in found]


async def get_orders_total(order_ids: list[int]) -> list[dict[str, Any]]:
    """Totals of many orders, one query per order, run concurrently.

    Each total is a task of its own in a TaskGroup, with its own connection;
    a semaphore keeps at most FAN_OUT_LIMIT of them talking to the database.
    If any order is missing its task fails, the TaskGroup cancels the rest,
    and one more query names every missing id for the error message.
    """
    limit = asyncio.Semaphore(FAN_OUT_LIMIT)

    async def total_of(order_id: int) -> Decimal:
        async with limit:
            return await get_order_total(order_id)

    unique_ids = list(dict.fromkeys(order_ids))
    try:
        async with asyncio.TaskGroup() as group:
            tasks = {order_id: group.create_task(total_of(order_id)) for order_id in unique_ids}
    except* NotFound:
        missing = await unknown_order_ids(unique_ids)
        raise NotFound(f"unknown order ids: {missing}") from None
    return [{"order_id": i, "total": tasks[i].result()} for i in order_ids]


# --- writing an order --------------------------------------------------------


async def add_new_order(customer_id: int, items: list[tuple[int, int]]) -> int:
    """Insert an order and its (item_id, quantity) lines in one transaction.

    Everything is checked inside the transaction that writes, so either the
    whole order is stored or nothing is. Returns the new order's id.
    """
    item_ids = [item_id for item_id, _ in items]
    async with write_transaction() as conn:
        customer = await conn.scalar(select(Customer.id).where(Customer.id == customer_id))
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist")
        found = set(await conn.scalars(select(Item.id).where(Item.id.in_(item_ids))))
        missing = [item_id for item_id in item_ids if item_id not in found]
        if missing:
            raise NotFound(f"unknown item ids: {missing}")

        await announce_order(conn)  # sent if, and when, this transaction commits
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        new_order = Order.__table__.insert().returning(Order.id)
        row = await execute_insert_query(
            new_order, {"customer_id": customer_id, "order_time": now}, conn=conn
        )
        order_id = row.id
        lines = [
            {"order_id": order_id, "item_id": item_id, "quantity": quantity}
            for item_id, quantity in items
        ]
        await execute_insert_query(OrderItem.__table__.insert(), lines, conn=conn)
    return order_id


# --- sessions: events, stats, items -----------------------------------------
# The functions below take an AsyncSession (the ORM's unit of work) instead
# of opening a connection: the caller decides how long the session lives.


def order_json(order: Order) -> dict[str, Any]:
    """An ORM Order (items loaded) as the API shows it, totals exact."""
    lines = [
        {
            "item_id": line.item_id,
            "name": line.item.name,
            "price": line.item.price,
            "quantity": line.quantity,
            "total": line.item.price * line.quantity,
        }
        for line in sorted(order.items, key=lambda line: line.item_id)
    ]
    return {
        "order_id": order.id,
        "customer_id": order.customer_id,
        "order_time": order.order_time,
        "items": lines,
        "total": sum((line["total"] for line in lines), Decimal("0.00")),
    }


# --- the order feed (GET /api/events/orders) ---------------------------------
# Order ids come from a sequence before commit, so on PostgreSQL an order
# with a lower id can commit after one with a higher id. A reader of the
# feed therefore needs to know, besides the orders, which transactions were
# writing orders when it read: see marketsvc/feed.py for the rule.

ORDERS_CHANNEL = "marketsvc_orders"


async def announce_order(conn: AsyncConnection) -> None:
    """In a transaction that writes an order: wake the feed's followers.

    On PostgreSQL the notification goes out when (and only if) the
    transaction commits, to every process that listens. On SQLite there are
    no notifications; each process polls instead (marketsvc/feed.py).
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(ORDERS_CHANNEL, "")))


@dataclass(frozen=True)
class FeedRead:
    """What one read of the feed saw, all in one snapshot of the database."""

    order_ids: list[int]  # committed order ids > after (any customer), ascending
    orders: list[dict[str, Any]]  # those of them that match the customer filter
    latest_id: int  # the highest committed order id (0: none)
    # SQLite writes one transaction at a time, so ids commit in order.
    ids_commit_in_order: bool = False
    # PostgreSQL transactions writing orders just before / just after the
    # snapshot was taken; None when the read did not need to look.
    writers_before: frozenset[str] | None = None
    writers_after: frozenset[str] | None = None


# Transactions (by virtual id, which every transaction has) that hold the
# lock an INSERT INTO orders takes before it draws an id and keeps until
# the transaction ends. Only they can still commit an order with an id
# below those already committed.
ORDER_WRITERS = text(
    """
    SELECT virtualtransaction FROM pg_locks
    WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND granted
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND relation = CAST(:table AS regclass)
    """
)


async def order_writers(conn: AsyncConnection) -> frozenset[str]:
    rows = await conn.scalars(ORDER_WRITERS, {"table": Order.__table__.name})
    return frozenset(rows)


def has_gap(after_id: int, order_ids: list[int]) -> bool:
    return any(later - earlier > 1 for earlier, later in pairwise([after_id, *order_ids]))


async def read_orders_after(
    after_id: int, customer_id: int | None, limit: int, *, writers_before: bool = False
) -> FeedRead:
    """The next `limit` committed orders with id > after_id, and who was writing.

    One read-only transaction (REPEATABLE READ on PostgreSQL) reads the ids
    and the orders in one snapshot. With `writers_before`, the writers of
    orders are listed just before it; when the ids have a gap, just after it.
    """
    engine = get_engine()
    postgres = not is_sqlite(engine)
    before = after = None
    if postgres and writers_before:
        async with single_statement(engine).connect() as conn:
            before = await order_writers(conn)
    one_snapshot = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    async with get_sessionmaker()() as session:
        conn = await session.connection(execution_options=one_snapshot if postgres else {})
        latest = await session.scalar(select(func.max(Order.id))) or 0
        ids = select(Order.id).where(Order.id > after_id).order_by(Order.id).limit(limit)
        order_ids = list(await session.scalars(ids))
        if postgres and has_gap(after_id, order_ids):
            after = await order_writers(conn)
        orders = []
        if order_ids:
            statement = (
                select(Order)
                .where(Order.id.between(order_ids[0], order_ids[-1]))
                .order_by(Order.id)
                # Two more queries load every order's items and their Item
                # rows: nothing is loaded lazily later, which async code
                # could not do.
                .options(selectinload(Order.items).selectinload(OrderItem.item))
            )
            if customer_id is not None:
                statement = statement.where(Order.customer_id == customer_id)
            orders = [order_json(order) for order in (await session.scalars(statement)).all()]
    return FeedRead(order_ids, orders, latest, not postgres, before, after)


async def latest_order_id(conn: AsyncConnection | None = None) -> int:
    """The highest committed order id, 0 when there are none (one cheap statement)."""
    if conn is None:
        rows = await execute_query(select(func.max(Order.id)))
        return rows[0][0] or 0
    return await conn.scalar(select(func.max(Order.id))) or 0


async def count_customers(session: AsyncSession) -> int:
    return (await session.execute(select(func.count(Customer.id)))).scalar_one()


async def count_orders(session: AsyncSession) -> int:
    return (await session.execute(select(func.count(Order.id)))).scalar_one()


async def revenue(session: AsyncSession) -> Decimal:
    total = select(func.coalesce(func.sum(LINE_TOTAL), 0)).join_from(OrderItem, Item)
    return Decimal((await session.execute(total)).scalar_one()).quantize(Decimal("0.01"))


async def top_item(session: AsyncSession) -> dict[str, Any] | None:
    """The item sold in the largest quantity, over all orders."""
    units = func.sum(OrderItem.quantity).label("quantity")
    statement = (
        select(Item.id, Item.name, units)
        .join_from(OrderItem, Item)
        .group_by(Item.id, Item.name)
        .order_by(units.desc(), Item.id)
        .limit(1)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else {"item_id": row.id, "name": row.name, "quantity": row.quantity}


STATS = {
    "customers": count_customers,
    "orders": count_orders,
    "revenue": revenue,
    "top_item": top_item,
}


async def get_stats() -> dict[str, Any]:
    """Run the independent aggregates of STATS at the same time.

    Each gets a session of its own: one AsyncSession is one connection and
    runs one statement at a time, so sharing it would serialise the queries
    (or fail: SQLAlchemy refuses concurrent use of a session).
    """
    make_session = get_sessionmaker()

    async def in_own_session(query) -> Any:
        async with make_session() as session:
            return await query(session)

    async with asyncio.TaskGroup() as group:
        tasks = {name: group.create_task(in_own_session(query)) for name, query in STATS.items()}
    return {name: task.result() for name, task in tasks.items()}


class Conflict(Exception):
    """The write would break a uniqueness rule; the message says which."""


async def list_items(session: AsyncSession) -> Sequence[Item]:
    return (await session.scalars(select(Item).order_by(Item.id))).all()


async def create_item(
    session: AsyncSession, name: str, price: Decimal, description: str | None
) -> Item:
    """Insert an item; Conflict when the name is taken.

    The database's UNIQUE constraint is the judge (a check-then-insert would
    race with a concurrent request). After the IntegrityError the session is
    rolled back, so the caller can go on using it.
    """
    item = Item(name=name, price=price, description=description)
    session.add(item)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"an item named {name!r} already exists") from None
    return item
