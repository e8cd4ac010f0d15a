"""Stats and items: one session per task, a session per request, 409 on duplicates."""

import asyncio
import time

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import InvalidRequestError

from marketsvc import db_accessor
from marketsvc.db.engine import close_database, get_sessionmaker, open_database
from marketsvc.db.schema import init_db


def test_stats_of_the_sample_data(client):
    response = client.get("/api/stats")
    assert response.status_code == 200
    assert response.json() == {
        "customers": 3,
        "orders": 3,
        "revenue": 56.5,
        "top_item": {"item_id": 2, "name": "Kit Kat", "quantity": 4},
    }


def test_stats_follow_new_orders(client):
    body = {"customer_id": 3, "items": [{"id": 3, "quantity": 9}]}
    assert client.post("/api/add_new_order", json=body).status_code == 201
    stats = client.get("/api/stats").json()
    assert stats["orders"] == 4
    assert stats["revenue"] == 151
    assert stats["top_item"] == {"item_id": 3, "name": "Bread", "quantity": 12}


DELAY = 0.4


@pytest.fixture
def slow_queries(monkeypatch, database_url):
    """Every stats query first waits DELAY seconds *in the database*, as on a busy server.

    Returns a runner: run(coro_fn) opens the test database, awaits
    coro_fn(), and closes the database again, all in one event loop.
    """

    def slowed(query):
        async def run(session):
            if session.bind.dialect.name == "sqlite":
                await session.execute(text("SELECT sleep(:s)"), {"s": DELAY})
            else:
                await session.execute(text("SELECT pg_sleep(:s)"), {"s": DELAY})
            return await query(session)

        return run

    monkeypatch.setattr(
        db_accessor, "STATS", {name: slowed(q) for name, q in db_accessor.STATS.items()}
    )

    async def in_database(coro_fn):
        engine = open_database(database_url)
        if engine.dialect.name == "sqlite":
            # SQLite has no sleep(); give every connection one.
            event.listen(
                engine.sync_engine,
                "connect",
                lambda dbapi_conn, _: dbapi_conn.create_function("sleep", 1, time.sleep),
            )
        await init_db(engine)
        try:
            return await coro_fn()
        finally:
            await close_database()

    return lambda coro_fn: asyncio.run(in_database(coro_fn))


def test_stats_run_concurrently_taking_one_delay_not_four(slow_queries):
    async def scenario():
        start = time.perf_counter()
        stats = await db_accessor.get_stats()
        return time.perf_counter() - start, stats

    elapsed, stats = slow_queries(scenario)
    assert stats["customers"] == 3
    assert stats["top_item"]["name"] == "Kit Kat"
    assert len(db_accessor.STATS) == 4
    # Four queries of DELAY each: concurrent they take about one DELAY.
    assert elapsed < 2.5 * DELAY, f"{elapsed:.2f}s: the aggregates ran one after another"


def test_sharing_one_session_across_tasks_is_refused_or_serialises(slow_queries):
    """The wrong pattern: four concurrent tasks on one AsyncSession."""

    async def scenario():
        async with get_sessionmaker()() as shared:
            start = time.perf_counter()
            results = await asyncio.gather(
                *(query(shared) for query in db_accessor.STATS.values()),
                return_exceptions=True,
            )
            return results, time.perf_counter() - start

    results, elapsed = slow_queries(scenario)
    refused = [r for r in results if isinstance(r, Exception)]
    if refused:
        # SQLAlchemy noticed several tasks using one session at once.
        assert all(isinstance(r, InvalidRequestError) for r in refused), refused
        assert "concurrent operations are not permitted" in str(refused[0])
    else:
        # One session is one connection: the four queries waited in line.
        assert elapsed >= 4 * DELAY * 0.9, f"{elapsed:.2f}s"


def test_items_list(client):
    response = client.get("/api/items")
    assert response.status_code == 200
    assert [(i["id"], i["name"], i["price"]) for i in response.json()] == [
        (1, "Milk", 5),
        (2, "Kit Kat", 1),
        (3, "Bread", 10.5),
        (4, "Onion", 2),
    ]


def test_create_item(client):
    response = client.post(
        "/api/items", json={"name": " Tea ", "price": 3.25, "description": "Loose leaf"}
    )
    assert response.status_code == 201
    assert response.json() == {"id": 5, "name": "Tea", "price": 3.25, "description": "Loose leaf"}
    assert client.get("/api/items").json()[-1]["name"] == "Tea"


def test_minus_zero_is_stored_as_zero(client):
    response = client.post("/api/items", json={"name": "Free sample", "price": -0.0})
    assert response.status_code == 201
    assert response.text.endswith('"price":0.0,"description":null}')


def test_a_duplicate_name_is_409_and_writes_nothing(client, snapshot):
    before = snapshot()
    response = client.post("/api/items", json={"name": "Milk", "price": 1})
    assert response.status_code == 409
    assert response.json() == {"detail": "an item named 'Milk' already exists"}
    assert snapshot() == before
    assert client.post("/api/items", json={"name": "Oat milk", "price": 2}).status_code == 201


def test_the_session_is_usable_after_the_conflict(database_url):
    async def scenario():
        await init_db(open_database(database_url))
        try:
            async with get_sessionmaker()() as session:
                with pytest.raises(db_accessor.Conflict):
                    await db_accessor.create_item(session, "Bread", 1, None)
                item = await db_accessor.create_item(session, "Rye bread", 4.5, None)
                names = [i.name for i in await db_accessor.list_items(session)]
                return item.id, names
        finally:
            await close_database()

    item_id, names = asyncio.run(scenario())
    assert item_id > 4  # PostgreSQL spends a sequence value on the failed insert
    assert names == ["Milk", "Kit Kat", "Bread", "Onion", "Rye bread"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "price": 1},
        {"name": "   ", "price": 1},
        {"name": "x" * 101, "price": 1},
        {"name": "Gold", "price": -1},
        {"name": "Gold", "price": 1.234},
        {"name": "Gold", "price": 100_000_000},
        {"name": "Gold", "price": "NaN"},
        {"name": "Gold", "price": "Infinity"},
        {"name": "Gold", "price": None},
        {"name": "Gold"},
        {"price": 1},
        {"name": 5, "price": 1},
        {"name": "Gold", "price": 1, "description": "d" * 501},
        {"name": "Gold", "price": 1, "id": 99},
        ["Gold", 1],
    ],
)
def test_invalid_items_are_422_and_write_nothing(client, snapshot, body):
    before = snapshot()
    response = client.post("/api/items", json=body)
    assert response.status_code == 422
    assert snapshot() == before
