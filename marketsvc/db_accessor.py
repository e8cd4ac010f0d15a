"""All data access of the service: routes call these functions, never SQL.

The three workshop helpers come first, then one function per question the
API answers. Every function opens and closes its own connection, so it is
safe to call from many tasks at once.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import anyio
import anyio.lowlevel
from sqlalchemy import (
    ColumnElement,
    Executable,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload

from marketsvc import idempotency
from marketsvc.db.engine import (
    get_engine,
    get_sessionmaker,
    is_sqlite,
    single_statement,
    write_session,
    write_transaction,
)
from marketsvc.db.models import Address, Customer, Item, Order, OrderItem
from marketsvc.db.unavailable import DatabaseUnavailable, leaves, unavailable_reason

# Rows per page (one query each) while streaming.
STREAM_BATCH_ROWS = 2000
# Seconds a stream that has begun keeps asking a busy pool for a connection
# (Settings.pool_timeout at a time) before it gives up and is aborted.
MIDSTREAM_PATIENCE = 60.0
# How many order totals orders_total computes at once, each on its own
# connection. Bounded so one request cannot take the whole pool.
FAN_OUT_LIMIT = 4


class NotFound(LookupError):
    """Something the request names does not exist; the message says what."""


def one_error(group: BaseExceptionGroup) -> Exception | None:
    """The error a request answers for, out of the many a TaskGroup collected.

    A TaskGroup raises an ExceptionGroup, which no exception handler of the
    app matches. Any error that is neither NotFound nor the database being
    unavailable is a bug: None, and the whole group goes up (a 500). Else a
    missing id wins, the client's mistake that a retry cannot fix; else the
    database being unavailable (a 503 that a retry may fix).
    """
    errors = leaves(group)
    reasons = [unavailable_reason(exc) for exc in errors]
    pairs = zip(errors, reasons, strict=True)
    if any(reason is None and not isinstance(exc, NotFound) for exc, reason in pairs):
        return None
    for exc in errors:
        if isinstance(exc, NotFound):
            return exc
    return DatabaseUnavailable(next(reason for reason in reasons if reason))


# --- the workshop's three helpers ------------------------------------------


async def uncancelled(awaitable):
    """Await a database call to its end, whatever cancels the caller meanwhile.

    Cut off halfway through a call, SQLAlchemy can no longer trust the
    connection and throws it away. Two kinds of cancellation reach this
    service: an anyio cancel scope (Starlette's, when a streaming client
    goes away) and asyncio's own Task.cancel() (a failing sibling in a
    TaskGroup, asyncio.timeout, uvicorn's shutdown). An anyio shield stops
    only the first kind, so the call runs in a task of its own, which no
    cancellation of the caller reaches, and the caller waits for it however
    often it is cancelled. Then the cancellation goes on: re-raised as it
    came, so a TaskGroup or asyncio.timeout still sees its own.
    """
    call = asyncio.create_task(_to_the_end(awaitable))
    _in_flight.add(call)
    call.add_done_callback(_in_flight.discard)
    try:
        # shield() lets the caller's cancellation end only its own wait
        # (a few microseconds cheaper than asyncio.wait()).
        result = await asyncio.shield(call)
    except asyncio.CancelledError as cancelled:
        # The anyio shield only saves work: without it a cancelled anyio
        # scope would cancel this waiting task again at every turn of the
        # event loop. Entered only now, it costs nothing when no one cancels.
        with anyio.CancelScope(shield=True):
            while not call.done():
                try:
                    await asyncio.wait([call])
                except asyncio.CancelledError:
                    continue  # a later cancellation: the first one goes on
        if not call.cancelled():
            call.exception()  # retrieved: nobody is left to use the result
        raise cancelled
    # An anyio cancellation that came meanwhile is raised here (without a
    # turn of the event loop when there is none): otherwise a stream whose
    # writes no longer wait (its client is gone) might never reach an await
    # that can be cancelled, and would run its query to the end.
    await anyio.lowlevel.checkpoint_if_cancelled()
    return result


async def _to_the_end(awaitable):
    # Any awaitable (a coroutine, anext(...)) as the coroutine of a task.
    return await awaitable


# The calls uncancelled is running. Their tasks are out of reach of the
# caller's cancellation, but not of asyncio.run's, which cancels every task
# left when the server returns: so the server waits for them first.
_in_flight: set[asyncio.Future] = set()


# Shutdown waits this long at most for them.
IN_FLIGHT_GRACE = 3.0


async def finish_in_flight() -> None:
    """Wait until no call of uncancelled is running (IN_FLIGHT_GRACE s at most).

    For shutdown, before the engines close: a request cancelled by the
    server finishes its database call, then its cleanup (another call).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + IN_FLIGHT_GRACE
    while loop.time() < deadline:
        calls = [call for call in _in_flight if call.get_loop() is loop]
        if not calls:
            await asyncio.sleep(0)  # a cancelled request may start its cleanup now
            calls = [call for call in _in_flight if call.get_loop() is loop]
            if not calls:
                return
        await asyncio.wait(calls, timeout=deadline - loop.time())


async def execute_query(statement: Executable, params: dict | None = None) -> Sequence[Row]:
    """Run one read and return all its rows (for results that fit in memory).

    The read runs to its end even when the caller is cancelled (a sibling
    failed in a TaskGroup, a timeout), so its connection goes back to the
    pool instead of being thrown away.
    """
    return await uncancelled(_read_all(statement, params))


async def _read_all(statement: Executable, params: dict | None) -> Sequence[Row]:
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
    statement: Select,
    params: dict | None = None,
    *,
    keys: Sequence[str],
    batch_rows: int = STREAM_BATCH_ROWS,
) -> AsyncIterator[Sequence[Row]]:
    """Yield the rows of a read in batches, one short query per batch.

    `keys` names result columns that order the rows and tell any two apart
    (the primary key, or a sort key ending in it). Each batch is the next
    `batch_rows` rows after the last key seen (keyset paging), read on a
    connection that goes back to the pool before the batch is handed out.
    So a client that reads slowly, or not at all, holds no connection while
    the response waits on it, memory holds one batch, and no transaction
    stays open for the length of the stream. The price: a long stream is
    not one snapshot; rows committed meanwhile appear if they sort after
    the point already sent.
    """
    columns = [statement.selected_columns[name] for name in keys]
    ordered = statement.order_by(*columns).limit(batch_rows)
    # The first page fails fast (a 503, nothing sent yet); once the response
    # has begun, a busy pool is waited out rather than cutting it short.
    batch = await execute_query(ordered, params)
    while True:
        if batch:
            yield batch
        if len(batch) < batch_rows:
            return
        last = [getattr(batch[-1], name) for name in keys]
        page = ordered.where(after_key(columns, last))
        batch = await patiently(execute_query, page, params)


async def patiently(query, *args) -> Sequence[Row]:
    """Run query(*args), waiting out pool timeouts for up to MIDSTREAM_PATIENCE s."""
    deadline = time.monotonic() + MIDSTREAM_PATIENCE
    while True:
        try:
            return await query(*args)
        except PoolTimeout:
            if time.monotonic() > deadline:
                raise


def after_key(columns: Sequence[ColumnElement], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that sort after `values` by `columns` (all ascending)."""
    if len(columns) == 1:
        return columns[0] > values[0]
    # A row-value comparison, (a, b) > (x, y), plus the same bound on the
    # first column alone, which any index on that column can serve.
    return and_(
        columns[0] >= values[0], tuple_(*columns) > tuple_(*values, types=[c.type for c in columns])
    )


# --- customers ---------------------------------------------------------------

CUSTOMERS = select(Customer.id, Customer.name, Address.flat_number, Address.post_code).join(
    Customer.address
)


def customer_json(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "address": {"flat_number": row.flat_number, "post_code": row.post_code},
    }


def stream_customers() -> AsyncIterator[Sequence[Row]]:
    return stream_query(CUSTOMERS, keys=["id"])


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
    statement = ORDER_LINES.where(Order.order_time.between(after, before))
    keys = ["order_time", "order_id", "item_id"]
    held: list[Row] = []
    # aclosing: when this generator is closed early (client gone), close the
    # inner one too, right away, so that its connection goes back to the pool.
    async with aclosing(stream_query(statement, keys=keys)) as batches:
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
    except ExceptionGroup as errors:
        error = one_error(errors)
        if error is None:
            raise
        if isinstance(error, NotFound):
            # Name every missing id, not only the first task's.
            missing = await unknown_order_ids(unique_ids)
            raise NotFound(f"unknown order ids: {missing}") from None
        raise error from errors
    return [{"order_id": i, "total": tasks[i].result()} for i in order_ids]


# --- writing an order --------------------------------------------------------


async def add_new_order(
    customer_id: int, items: list[tuple[int, int]], idempotency_key: str | None = None
) -> int:
    """Insert an order and its (item_id, quantity) lines in one transaction.

    Everything is checked inside the transaction that writes, so either the
    whole order is stored or nothing is. Returns the new order's id; with an
    idempotency key already used for the same order, the id of that order
    (idempotency.KeyReused if it was used for another one).
    """
    request_hash = idempotency.fingerprint(customer_id, items)
    try:
        return await _store_order(customer_id, items, idempotency_key, request_hash)
    except IntegrityError:
        # PostgreSQL: a request with the same key committed its order while
        # this one was writing, so this key's INSERT failed and the whole
        # transaction was rolled back. The first order stands. (SQLite's
        # writers take turns, so the second one finds the key instead.)
        if idempotency_key is None:
            raise
        async with single_statement(get_engine()).connect() as conn:
            earlier = await idempotency.order_of(conn, idempotency_key, request_hash)
        if earlier is None:
            raise
        return earlier


async def _store_order(
    customer_id: int, items: list[tuple[int, int]], key: str | None, request_hash: str
) -> int:
    """The transaction of add_new_order: the key, the checks, then the writes."""
    item_ids = [item_id for item_id, _ in items]
    now = datetime.now(UTC).replace(tzinfo=None)
    async with write_transaction() as conn:
        if key is not None:
            await idempotency.forget_expired(conn, now)
            earlier = await idempotency.order_of(conn, key, request_hash)
            if earlier is not None:
                return earlier  # a retry: nothing new is written

        customer = await conn.scalar(select(Customer.id).where(Customer.id == customer_id))
        if customer is None:
            raise NotFound(f"customer {customer_id} does not exist")
        found = set(await conn.scalars(select(Item.id).where(Item.id.in_(item_ids))))
        missing = [item_id for item_id in item_ids if item_id not in found]
        if missing:
            raise NotFound(f"unknown item ids: {missing}")

        await announce_order(conn)  # sent if, and when, this transaction commits
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
        if key is not None:
            await idempotency.remember(conn, key, request_hash, order_id, now)
    return order_id


# --- cancelling an order -----------------------------------------------------

# How long after it was placed an order may still be cancelled.
CANCEL_WINDOW = timedelta(minutes=30)


async def cancel_order(order_id: int) -> None:
    """Delete an order, its lines and its idempotency keys, in one transaction.

    NotFound when there is no such order (also when it was cancelled
    already); Conflict when it was placed longer than CANCEL_WINDOW ago.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    async with write_transaction() as conn:
        # FOR UPDATE: on PostgreSQL a second cancel of the same order waits
        # here until the first one commits, and then finds no order (a 404)
        # instead of deleting nothing and answering 200 too. SQLite's
        # writers take turns anyway (SQLAlchemy leaves FOR UPDATE out there).
        placed = await conn.scalar(
            select(Order.order_time).where(Order.id == order_id).with_for_update()
        )
        if placed is None:
            raise NotFound(f"order {order_id} does not exist")
        if now - placed > CANCEL_WINDOW:
            minutes = CANCEL_WINDOW // timedelta(minutes=1)
            raise Conflict(
                f"order {order_id} was placed at {placed:%Y-%m-%d %H:%M:%S} UTC; "
                f"an order can be cancelled only within {minutes} minutes of being placed"
            )
        await idempotency.forget_order(conn, order_id)
        await conn.execute(delete(OrderItem).where(OrderItem.order_id == order_id))
        await conn.execute(delete(Order).where(Order.id == order_id))


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

    try:
        async with asyncio.TaskGroup() as group:
            tasks = {
                name: group.create_task(in_own_session(query)) for name, query in STATS.items()
            }
    except ExceptionGroup as errors:
        error = one_error(errors)
        if error is None:
            raise
        raise error from errors
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
    race with a concurrent request). write_session queues the write behind
    the service's other writers and rolls the session back after the
    IntegrityError, so the caller can go on using it.
    """
    item = Item(name=name, price=price, description=description)
    try:
        async with write_session(session):
            session.add(item)
    except IntegrityError:
        raise Conflict(f"an item named {name!r} already exists") from None
    return item
