"""Cleanup holds under both kinds of cancellation that reach the service.

anyio cancel scopes (Starlette's, when a streaming client leaves) and
asyncio's own Task.cancel() (a TaskGroup whose sibling failed,
asyncio.timeout, uvicorn's shutdown). An anyio shield stops only the first;
db_accessor.uncancelled stops both. "Holds" means what the pool sees: every
connection checked back in and reset, none invalidated (thrown away because
a cancellation cut a driver call in half), and the next query reuses it.
"""

import asyncio
import contextlib
import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import event, text

from bench.common import free_port
from marketsvc import db_accessor
from marketsvc.db.engine import close_database, get_engine, is_sqlite, open_database
from marketsvc.db.schema import init_db
from marketsvc.db_accessor import NotFound, uncancelled
from tests.conftest import ThreadServer
from tests.test_faults import (  # noqa: F401
    AUTH,
    TOKEN,
    big_settings,
    get,
    post_query,
    read_a_little_then_leave,
)

POOL_EVENTS = ("connect", "checkout", "checkin", "reset", "invalidate")


def pool_events(engine) -> Counter:
    """A counter of what the engine's pool does from now on."""
    seen = Counter()
    for name in POOL_EVENTS:
        event.listen(engine.sync_engine.pool, name, lambda *_, name=name: seen.update([name]))
    return seen


def slow_query():
    """A read that takes a good while (half a second or more) on either engine."""
    if is_sqlite(get_engine()):
        return text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)"
            " SELECT count(*) FROM n"
        )
    return text("SELECT pg_sleep(0.5)")


def assert_clean(engine, seen: Counter) -> None:
    assert seen["invalidate"] == 0, f"a connection was thrown away: {dict(seen)}"
    assert engine.pool.checkedout() == 0, engine.pool.status()
    assert seen["checkin"] == seen["checkout"] == seen["reset"], dict(seen)


def on_database(database_url: str, check) -> None:
    async def run():
        engine = open_database(database_url)
        try:
            await init_db(engine)
            await check(engine)
        finally:
            await close_database()

    asyncio.run(run())


async def reused(engine, seen: Counter) -> None:
    """The connection left behind is the one the next query gets."""
    opened = seen["connect"]
    assert await db_accessor.execute_query(text("SELECT 1")) == [(1,)]
    assert seen["connect"] == opened, "a new connection had to be opened"


def test_asyncio_timeout_around_a_query_is_a_timeout_and_keeps_the_connection(database_url):
    async def check(engine):
        seen = pool_events(engine)
        with pytest.raises(TimeoutError):
            # asyncio.timeout cancels the task with Task.cancel(); the query
            # finishes first, then the timeout still turns into TimeoutError.
            async with asyncio.timeout(0.05):
                await db_accessor.execute_query(slow_query())
        assert_clean(engine, seen)
        await reused(engine, seen)

    on_database(database_url, check)


def test_three_cancels_during_a_query_cut_off_nothing(database_url):
    async def check(engine):
        seen = pool_events(engine)
        task = asyncio.create_task(db_accessor.execute_query(slow_query()))
        for _ in range(3):
            await asyncio.sleep(0.05)
            task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The cancellation went on, and was counted once per cancel().
        assert task.cancelled() and task.cancelling() == 3
        assert_clean(engine, seen)
        await reused(engine, seen)

    on_database(database_url, check)


def test_cancels_during_cleanup_do_not_cut_it_off(database_url):
    """A finally that gives a connection back, cancelled again while it runs."""

    async def check(engine):
        seen = pool_events(engine)
        started = asyncio.Event()

        async def holds_a_connection():
            conn = await engine.connect()
            try:
                started.set()
                await asyncio.sleep(10)
            finally:
                await uncancelled(give_back(conn))

        async def give_back(conn):
            # A slow cleanup, so that the cancellations land while it runs.
            # All of it is one uncancelled call: the cancellation is raised
            # again as soon as that call returns.
            await conn.execute(slow_query())
            await conn.close()

        task = asyncio.create_task(holds_a_connection())
        await started.wait()
        for _ in range(3):  # the first ends the sleep, two more hit the cleanup
            task.cancel()
            await asyncio.sleep(0.05)
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_clean(engine, seen)
        await reused(engine, seen)

    on_database(database_url, check)


BIG_ORDERS = [1, 2, 3]
LINES = 200_000


async def add_big_orders(engine) -> None:
    """Orders 1-3 with LINES lines each, so that their totals take a while."""
    numbers = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)"
        " SELECT i FROM n"
        if is_sqlite(engine)
        else "SELECT generate_series(1, :count) AS i"
    )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO item (id, name, price)"
                f" SELECT i + 100, 'bulk ' || i, 1 FROM ({numbers}) AS n"
            ),
            {"count": LINES},
        )
        for order_id in BIG_ORDERS:
            await conn.execute(
                text(
                    "INSERT INTO order_items (order_id, item_id, quantity)"
                    f" SELECT :order_id, i + 100, 1 FROM ({numbers}) AS n"
                ),
                {"count": LINES, "order_id": order_id},
            )


def test_orders_total_404_cancels_its_siblings_without_losing_their_connections(database_url):
    async def check(engine):
        await add_big_orders(engine)
        seen = pool_events(engine)
        # The unknown id's query answers at once; its NotFound makes the
        # TaskGroup cancel the three siblings, each in the middle of its query.
        with pytest.raises(NotFound, match="999999"):
            await db_accessor.get_orders_total([*BIG_ORDERS, 999999])
        assert_clean(engine, seen)
        await reused(engine, seen)

    on_database(database_url, check)


@pytest.fixture
def server(big_settings):  # noqa: F811
    server = ThreadServer(big_settings).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "request_bytes",
    [get("/api/customers"), post_query("SELECT * FROM customer CROSS JOIN address")],
    ids=["customers", "query"],
)
def test_a_client_leaving_mid_stream_throws_no_connection_away(server, request_bytes):
    # Starlette cancels the response body through an anyio cancel scope.
    engines = [get_engine(), server.server.config.app.state.research.engine]
    seen = [pool_events(engine) for engine in engines]
    received = read_a_little_then_leave(server.url, request_bytes)
    assert received.startswith(b"HTTP/1.1 200")
    # (The research engine has no pool to keep connections in: it counts
    # checkouts and checkins all the same.)
    assert server.settle(lambda: all(c["checkin"] == c["checkout"] for c in seen), 30), seen
    assert server.checked_out() == 0
    assert all(counts["invalidate"] == 0 for counts in seen), seen


def test_shutdown_during_a_query_cuts_off_no_connection(settings):
    """uvicorn's shutdown cancels the request task with Task.cancel().

    With no grace period (MARKETSVC_SHUTDOWN_TIMEOUT=0) uvicorn cancels the
    running requests at once, then asyncio.run cancels what is still left:
    two cancellations for a request that is in the middle of a query. The
    query takes well under db_accessor.IN_FLIGHT_GRACE, the time the
    lifespan waits for it.
    """
    import uvicorn

    from marketsvc.server import create_app

    app = create_app(settings.replace(query_token=TOKEN))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=0
        )
    )
    # asyncio.run, as `python -m marketsvc serve` runs uvicorn: once the
    # server returns, it cancels the tasks still running and waits for them.
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        engine = app.state.research.engine
        seen = pool_events(engine)
        slow = (
            "SELECT pg_sleep(1)"
            if engine.dialect.name == "postgresql"
            else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
            " WHERE i < 600000) SELECT count(*) FROM n"
        )
        client = threading.Thread(target=ask, args=(f"http://127.0.0.1:{port}", slow))
        client.start()
        while not seen["checkout"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seen["checkout"] == 1, "the query did not start"
        server.should_exit = True  # what SIGTERM does
    finally:
        thread.join(timeout=30)
    client.join(timeout=30)
    assert not thread.is_alive()
    assert seen["invalidate"] == 0, f"a connection was thrown away: {dict(seen)}"
    assert seen["checkin"] == seen["checkout"] == 1, dict(seen)


def ask(url: str, sql: str) -> None:
    """POST a research query; the answer (if any: the server is going away) does not matter."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(url + "/api/query", json={"query": sql}, headers=AUTH, timeout=30)
