"""This step's lesson: one session per task, session dependencies, IntegrityError -> 409.

An AsyncSession is one connection and one transaction: it runs one
statement at a time. Concurrent work needs a session per task.
"""

import asyncio
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from marketsvc import db_accessor
from marketsvc.config import Settings
from marketsvc.db.engine import get_engine, get_sessionmaker
from marketsvc.db.unavailable import DatabaseUnavailable
from marketsvc.db_accessor import NotFound, one_error
from marketsvc.server import create_app

STATS = {
    "customers": 3,
    "orders": 3,
    "revenue": 56.5,
    "top_item": {"item_id": 2, "name": "Kit Kat", "quantity": 4},
}


# --- GET /api/stats: concurrent aggregates --------------------------------------


@pytest.mark.exercise("session-per-task")
def test_stats(client):
    response = client.get("/api/stats")
    assert response.status_code == 200
    assert response.json() == STATS


@pytest.mark.exercise("session-per-task")
def test_stats_see_a_new_order(client):
    body = {"customer_id": 3, "items": [{"id": 4, "quantity": 10}]}
    assert client.post("/api/add_new_order", json=body).status_code == 201
    stats = client.get("/api/stats").json()
    assert (stats["orders"], stats["revenue"]) == (4, 76.5)
    assert stats["top_item"] == {"item_id": 4, "name": "Onion", "quantity": 13}


@pytest.mark.exercise("session-per-task")
def test_stats_run_their_queries_at_the_same_time(in_db, checked_out):
    busiest = []

    def on_execute(*_args):
        busiest.append(checked_out())

    async def scenario():
        event.listen(get_engine().sync_engine, "before_cursor_execute", on_execute)
        return await db_accessor.get_stats()

    stats = in_db(scenario)
    assert stats["customers"] == 3 and stats["revenue"] == Decimal("56.5")
    # Four sessions, four connections: more than one query in flight at once.
    assert max(busiest) >= 2


def test_one_session_shared_by_concurrent_tasks_is_refused(in_db):
    async def scenario():
        async with get_sessionmaker()() as session, asyncio.TaskGroup() as group:
            for query in db_accessor.STATS.values():
                group.create_task(query(session))

    with pytest.raises(ExceptionGroup) as caught:
        in_db(scenario)
    # SQLAlchemy notices the second task using a session that is busy.
    assert caught.group_contains(InvalidRequestError, match="concurrent")


# --- /api/items: a session per request, and IntegrityError ------------------------


# steps: main tests/test_sessions.py::test_items_list


def test_a_new_item_is_stored(client, query, checked_out):
    body = {"name": "Tea", "price": 3.25, "description": "Loose leaf"}
    response = client.post("/api/items", json=body)
    assert response.status_code == 201
    assert response.json() == {"id": 5, **body}
    assert query("SELECT name, price FROM item WHERE id = 5") == [("Tea", 3.25)]
    # The request's session was closed with the request.
    assert checked_out() == 0


@pytest.mark.exercise("integrity-409")
def test_a_taken_name_is_409_and_writes_nothing(client, query):
    response = client.post("/api/items", json={"name": "Milk", "price": 4})
    assert response.status_code == 409
    assert response.json() == {"detail": "an item named 'Milk' already exists"}
    assert query("SELECT count(*), min(price) FROM item WHERE name = 'Milk'") == [(1, 5)]
    assert client.post("/api/items", json={"name": "Oat milk", "price": 4}).status_code == 201


@pytest.mark.exercise("integrity-409")
def test_the_session_is_usable_after_the_conflict(in_db):
    async def scenario():
        async with get_sessionmaker()() as session:
            with pytest.raises(db_accessor.Conflict):
                await db_accessor.create_item(session, "Bread", Decimal("2"), None)
            # Rolled back: the same session goes on working.
            tea = await db_accessor.create_item(session, "Tea", Decimal("3.25"), None)
            names = [item.name for item in await db_accessor.list_items(session)]
            return tea.id, names

    assert in_db(scenario) == (5, ["Milk", "Kit Kat", "Bread", "Onion", "Tea"])


# --- a database that cannot serve right now: 503 with Retry-After, never a 500 -----
# The pool is exhausted for real: the test checks the pool's only connection out
# itself, on the app's own event loop, and holds it while it calls.


def test_an_exhausted_pool_is_a_503_with_retry_after_also_through_a_task_group(database_url):
    settings = Settings(database_url=database_url, pool_size=1, pool_overflow=0, pool_timeout=0.1)

    async def take_a_connection():
        return await get_engine().connect()

    with TestClient(create_app(settings)) as client:
        held = client.portal.call(take_a_connection)  # the pool's only connection
        alone = client.get("/api/order_total/2")
        # A TaskGroup whose tasks all find no connection: one_error picks the 503.
        fanned_out = client.post("/api/orders_total", json={"orders": [1, 2, 3]})
        client.portal.call(held.close)
        after = client.get("/api/order_total/2")
    for response in (alone, fanned_out):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json() == {
            "detail": "all database connections are in use; try again shortly"
        }
    assert after.status_code == 200


# steps: main tests/test_faults.py::test_a_taskgroup_answers_for_the_error_a_retry_cannot_fix
