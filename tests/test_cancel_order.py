"""POST /api/cancel_order/{order_id}: an order, its lines and its keys go, all or nothing."""

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from marketsvc.db.models import Order, OrderItem
from marketsvc.server import create_app
from tests.conftest import ThreadServer
from tests.sse import Follower, parse, wait_until

ORDER = {"customer_id": 2, "items": [{"id": 1, "quantity": 2}, {"id": 3, "quantity": 1}]}


def place(client, body=ORDER, key: str | None = None) -> int:
    headers = {} if key is None else {"Idempotency-Key": key}
    response = client.post("/api/add_new_order", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["order_id"]


def cancel(client, order_id) -> httpx.Response:
    return client.post(f"/api/cancel_order/{order_id}")


def run_sql(database_url: str, *statements: str) -> None:
    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def order_placed_ago(database_url: str, age: timedelta) -> int:
    """An order of customer 1 (one line) placed `age` ago; its id."""

    async def run() -> int:
        engine = create_async_engine(database_url)
        placed = datetime.now(UTC).replace(tzinfo=None) - age
        try:
            async with engine.begin() as conn:
                order_id = await conn.scalar(
                    Order.__table__.insert()
                    .values(customer_id=1, order_time=placed)
                    .returning(Order.id)
                )
                await conn.execute(
                    OrderItem.__table__.insert().values(order_id=order_id, item_id=1, quantity=1)
                )
                return order_id
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_cancelling_removes_the_order_and_its_lines_and_nothing_else(client, snapshot):
    doomed = place(client)
    kept = place(client, {"customer_id": 1, "items": [{"id": 2, "quantity": 1}]})
    before = snapshot()

    response = cancel(client, doomed)

    assert response.status_code == 200
    assert response.json() == {"order_id": doomed}
    after = snapshot()
    assert after["orders"] == [row for row in before["orders"] if row[0] != doomed]
    assert after["order_items"] == [row for row in before["order_items"] if row[0] != doomed]
    assert len(before["order_items"]) - len(after["order_items"]) == 2
    for table in ("item", "address", "customer", "idempotency_key"):
        assert after[table] == before[table], table
    assert client.get(f"/api/order_total/{doomed}").status_code == 404
    assert client.get(f"/api/order_total/{kept}").json() == {"order_id": kept, "total": 1.0}


def test_an_unknown_order_is_404_and_changes_nothing(client, snapshot):
    before = snapshot()
    response = cancel(client, 999)
    assert response.status_code == 404
    assert response.json() == {"detail": "order 999 does not exist"}
    assert snapshot() == before


def test_the_second_cancel_of_an_order_is_404(client):
    order_id = place(client)
    assert cancel(client, order_id).status_code == 200
    again = cancel(client, order_id)
    assert again.status_code == 404
    assert again.json() == {"detail": f"order {order_id} does not exist"}


@pytest.mark.parametrize("bad_id", ["0", "-1", "01", "+1", "1.5", "abc", "1_0", str(2**31)])
def test_an_id_that_cannot_exist_is_422(client, snapshot, bad_id):
    before = snapshot()
    response = cancel(client, bad_id)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)  # the path check, like the other routes
    assert snapshot() == before


def test_the_sample_orders_are_too_old_to_cancel(client, snapshot):
    before = snapshot()
    response = cancel(client, 1)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "order 1 was placed at 2024-03-01 09:30:00 UTC; "
        "an order can be cancelled only within 30 minutes of being placed"
    }
    assert snapshot() == before


def test_the_window_is_thirty_minutes_after_the_order_was_placed(client, database_url):
    recent = order_placed_ago(database_url, timedelta(minutes=29))
    old = order_placed_ago(database_url, timedelta(minutes=31))
    assert cancel(client, recent).status_code == 200
    assert cancel(client, old).status_code == 409


def refuse_deleting_orders(database_url: str) -> None:
    """A trigger that fails the DELETE of an order, after its lines and key are gone."""
    if make_url(database_url).get_backend_name() == "sqlite":
        run_sql(
            database_url,
            "CREATE TRIGGER refuse BEFORE DELETE ON orders BEGIN SELECT RAISE(ABORT, 'no'); END",
        )
        return
    run_sql(
        database_url,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'no'; END $$",
        "CREATE TRIGGER refuse BEFORE DELETE ON orders FOR EACH ROW EXECUTE FUNCTION refuse()",
    )


def test_a_failure_half_way_rolls_the_whole_cancel_back(settings, database_url, snapshot):
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        order_id = place(client, key="key-of-the-order")
        refuse_deleting_orders(database_url)
        before = snapshot()
        assert cancel(client, order_id).status_code == 500
        assert snapshot() == before  # the lines and the key are still there


def test_an_idempotency_key_is_forgotten_with_its_order(client, snapshot):
    order_id = place(client, key="order-5e1d")
    assert [row[0] for row in snapshot()["idempotency_key"]] == ["order-5e1d"]

    assert cancel(client, order_id).status_code == 200

    assert snapshot()["idempotency_key"] == []
    # The key is free again: sent again, it stores a new order, once.
    again = place(client, key="order-5e1d")
    assert again != order_id
    assert place(client, key="order-5e1d") == again
    assert client.get(f"/api/order_total/{again}").status_code == 200


def test_the_id_of_a_cancelled_order_is_never_used_again(client):
    newest = place(client)
    assert cancel(client, newest).status_code == 200
    assert place(client) > newest


class HeldWriteLock:
    """Keeps an order locked from outside the service, as a slow writer would.

    SQLite: the file's write lock (BEGIN IMMEDIATE); PostgreSQL: the order's
    row (SELECT ... FOR UPDATE). Requests that cancel it wait until release().
    """

    def __init__(self, database_url: str, order_id: int):
        self.url = make_url(database_url)
        self.order_id = order_id
        self.released = False

    async def __aenter__(self) -> "HeldWriteLock":
        if self.url.get_backend_name() == "sqlite":
            self.sqlite = sqlite3.connect(self.url.database, isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
            return self
        self.engine = create_async_engine(self.url)
        self.conn = await self.engine.connect()
        await self.conn.begin()
        lock = text("SELECT id FROM orders WHERE id = :id FOR UPDATE")
        await self.conn.execute(lock, {"id": self.order_id})
        return self

    async def release(self) -> None:
        if self.released:
            return
        self.released = True
        if self.url.get_backend_name() == "sqlite":
            self.sqlite.execute("COMMIT")
            self.sqlite.close()
            return
        await self.conn.commit()
        await self.conn.close()
        await self.engine.dispose()

    async def __aexit__(self, *_exc) -> None:
        await self.release()


@pytest.fixture
def server(settings):
    running = ThreadServer(settings.replace(sse_keepalive=0.2)).start()
    yield running
    running.stop()


def test_two_concurrent_cancels_of_one_order_one_200_and_one_404(server, database_url):
    async def scenario() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            order_id = (await http.post("/api/add_new_order", json=ORDER)).json()["order_id"]
            async with HeldWriteLock(database_url, order_id) as held:
                first = asyncio.create_task(http.post(f"/api/cancel_order/{order_id}"))
                second = asyncio.create_task(http.post(f"/api/cancel_order/{order_id}"))
                await asyncio.sleep(0.5)  # both requests are now waiting for the lock
                await held.release()
                responses = await asyncio.gather(first, second)
            assert (await http.get(f"/api/order_total/{order_id}")).status_code == 404
        return sorted(response.status_code for response in responses)

    assert asyncio.run(scenario()) == [200, 404]


def test_the_feed_passes_a_cancelled_order_and_goes_on(server):
    async def scenario() -> None:
        follower = Follower(f"{server.url}/api/events/orders?follow=true&after=3")
        task = asyncio.create_task(follower.run())
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                assert await wait_until(lambda: any("comment" in e for e in follower.events))
                first = (await http.post("/api/add_new_order", json=ORDER)).json()["order_id"]
                assert await wait_until(lambda: follower.order_ids() == [first])
                assert (await http.post(f"/api/cancel_order/{first}")).status_code == 200

                later = (await http.post("/api/add_new_order", json=ORDER)).json()["order_id"]
                assert await wait_until(lambda: follower.order_ids() == [first, later])

                # A new reader never sees the cancelled order: its id is a
                # gap that it passes, and its stream ends as usual.
                response = await http.get("/api/events/orders?after=3")
                events = parse(response.text)
                assert [int(e["id"]) for e in events if e.get("event") == "order"] == [later]
                assert events[-1] == {"event": "end", "data": {"sent": 1, "last_id": later}}
        finally:
            task.cancel()

    asyncio.run(scenario())


def test_the_route_is_documented_in_openapi(client):
    operation = client.get("/openapi.json").json()["paths"]["/api/cancel_order/{order_id}"]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/CancelledOrderOut"}
    assert {"404", "409", "422"} <= set(operation["responses"])
