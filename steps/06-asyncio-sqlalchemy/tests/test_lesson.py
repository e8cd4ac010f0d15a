"""This step's lesson: an AsyncEngine, async generators and a TaskGroup fan-out.

The tests that call db_accessor directly run in an event loop of their own
(the `in_db` fixture), where the database is open.
"""

import asyncio
import time
from contextlib import aclosing
from datetime import datetime

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError

from marketsvc import db_accessor
from marketsvc.db.engine import get_engine
from marketsvc.db.models import Customer, Item, Order


def test_the_engine_is_async_on_aiosqlite(in_db, checked_out):
    async def names():
        assert get_engine().url.drivername == "sqlite+aiosqlite"
        rows = await db_accessor.execute_query(select(Item.name).order_by(Item.id))
        return [row.name for row in rows], checked_out()

    # execute_query fetched every row and gave its connection back.
    assert in_db(names) == (["Milk", "Kit Kat", "Bread", "Onion"], 0)


# About half a second of work for SQLite, so that cancellations land mid-query.
SLOW_READ = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000)"
    " SELECT count(*) FROM n"
)


def test_asyncio_cancellation_does_not_cut_a_query_in_half(in_db, checked_out):
    async def scenario():
        invalidated = []
        pool = get_engine().sync_engine.pool
        event.listen(pool, "invalidate", lambda *_: invalidated.append("invalidated"))
        # Task.cancel(), three times, as a TaskGroup or a shutdown does it:
        # the read finishes, then the cancellation goes on.
        task = asyncio.create_task(db_accessor.execute_query(SLOW_READ))
        for _ in range(3):
            await asyncio.sleep(0.05)
            task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # asyncio.timeout cancels the same way, and still says TimeoutError.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await db_accessor.execute_query(SLOW_READ)
        return invalidated, checked_out()

    # No connection was thrown away, none is left out.
    assert in_db(scenario) == ([], 0)


def test_execute_insert_query_commits_and_returns_the_new_row(in_db, query):
    statement = Item.__table__.insert().returning(Item.id)

    async def insert():
        return await db_accessor.execute_insert_query(statement, {"name": "Tea", "price": 3})

    assert in_db(insert).id == 5
    assert query("SELECT name FROM item WHERE id = 5") == [("Tea",)]


def test_every_connection_enforces_foreign_keys(in_db):
    statement = Order.__table__.insert()

    async def order_for_nobody():
        params = {"customer_id": 99, "order_time": datetime(2024, 4, 1, 10)}
        await db_accessor.execute_insert_query(statement, params)

    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        in_db(order_for_nobody)


# --- stream_query ------------------------------------------------------------

CUSTOMER_IDS = select(Customer.id).order_by(Customer.id)


@pytest.mark.exercise("stream-query")
def test_stream_query_yields_batches_while_its_connection_is_out(in_db, checked_out):
    async def scenario():
        seen = []
        async for batch in db_accessor.stream_query(CUSTOMER_IDS, batch_rows=2):
            seen.append(([row.id for row in batch], checked_out()))
        return seen, checked_out()

    seen, after = in_db(scenario)
    # Rows arrive two at a time while the cursor is open on one connection...
    assert seen == [([1, 2], 1), ([3], 1)]
    # ...which goes back to the pool when the generator ends.
    assert after == 0


@pytest.mark.exercise("stream-query")
def test_closing_a_stream_early_gives_its_connection_back(in_db, checked_out):
    async def scenario():
        stream = db_accessor.stream_query(CUSTOMER_IDS, batch_rows=1)
        first = await anext(stream)
        during = checked_out()
        await stream.aclose()  # what `break` in an `async for` leads to
        return [row.id for row in first], during, checked_out()

    assert in_db(scenario) == ([1], 1, 0)


@pytest.mark.exercise("stream-query")
def test_a_cancel_during_the_streams_cleanup_cuts_nothing_off(in_db, checked_out):
    async def read_slowly(started):
        async with aclosing(db_accessor.stream_query(CUSTOMER_IDS, batch_rows=1)) as stream:
            async for _batch in stream:
                started.set()
                await asyncio.sleep(10)  # a slow client: the first cancel() lands here

    async def scenario():
        engine = get_engine().sync_engine
        invalidated = []
        event.listen(engine.pool, "invalidate", lambda *_: invalidated.append("invalidated"))
        started = asyncio.Event()
        reader = asyncio.create_task(read_slowly(started))
        # A second cancel() while the connection is being closed (a timeout,
        # then the server shutting down): the close's ROLLBACK sends it.
        event.listen(engine, "rollback", lambda _conn: reader.cancel())
        first_batch = asyncio.create_task(started.wait())
        await asyncio.wait([first_batch, reader], return_when=asyncio.FIRST_COMPLETED)
        if not first_batch.done():  # the stream failed before its first batch
            first_batch.cancel()
            await reader  # its error is this test's answer
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        return invalidated, checked_out()

    assert in_db(scenario) == ([], 0)


# --- orders_total: a TaskGroup fan-out ----------------------------------------


@pytest.mark.exercise("task-group")
def test_orders_total_runs_its_queries_at_the_same_time(in_db, checked_out):
    busiest = []

    def on_execute(*_args):
        busiest.append(checked_out())

    async def scenario():
        event.listen(get_engine().sync_engine, "before_cursor_execute", on_execute)
        return await db_accessor.get_orders_total([3, 1, 2])

    totals = in_db(scenario)
    assert [(t["order_id"], t["total"]) for t in totals] == [(3, 21), (1, 20.5), (2, 15)]
    assert max(busiest) >= 2, "one query at a time: each total waited for the one before"


@pytest.mark.exercise("task-group")
def test_a_missing_order_cancels_the_other_tasks(in_db, monkeypatch):
    started, cancelled = set(), set()

    async def fake_total(order_id: int):
        if order_id == 99:
            await asyncio.sleep(0.05)
            raise db_accessor.NotFound(f"order {order_id} does not exist")
        started.add(order_id)
        try:
            await asyncio.sleep(10)  # a slow query
        except asyncio.CancelledError:
            cancelled.add(order_id)
            raise

    monkeypatch.setattr(db_accessor, "get_order_total", fake_total)

    async def scenario():
        async with asyncio.timeout(2):
            await db_accessor.get_orders_total([1, 99, 2])

    began = time.monotonic()
    with pytest.raises(db_accessor.NotFound, match=r"unknown order ids: \[99\]"):
        in_db(scenario)
    assert time.monotonic() - began < 2, "the slow siblings were waited for"
    assert started == cancelled == {1, 2}


def test_a_missing_order_leaves_no_connection_checked_out(client, checked_out):
    response = client.post("/api/orders_total", json={"orders": [1, 99, 2, 3, 98]})
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown order ids: [98, 99]"}
    assert checked_out() == 0
    assert client.post("/api/orders_total", json={"orders": [2]}).status_code == 200
