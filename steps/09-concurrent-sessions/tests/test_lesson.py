"""This step's lesson: one session per task, session dependencies, IntegrityError -> 409.

An AsyncSession is one connection and one transaction: it runs one
statement at a time. Concurrent work needs a session per task.
"""

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.exc import InvalidRequestError

from marketsvc import db_accessor
from marketsvc.db.engine import get_engine, get_sessionmaker

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


def test_items_are_listed(client):
    response = client.get("/api/items")
    assert response.status_code == 200
    assert [(item["id"], item["name"], item["price"]) for item in response.json()] == [
        (1, "Milk", 5),
        (2, "Kit Kat", 1),
        (3, "Bread", 10.5),
        (4, "Onion", 2),
    ]


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
