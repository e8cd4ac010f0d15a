"""Writes against a real server: nothing lost under load, nothing lost on restart."""

import asyncio

import httpx

from tests.conftest import LiveServer

ORDERS = 1000


async def _post_orders(url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:

        async def one(n: int) -> httpx.Response:
            items = [
                {"id": 1 + n % 4, "quantity": 1 + n % 3},
                {"id": 1 + (n + 1) % 4, "quantity": 1},
            ]
            return await http.post(
                "/api/add_new_order", json={"customer_id": 1 + n % 3, "items": items}
            )

        return await asyncio.gather(*(one(n) for n in range(count)))


def test_a_thousand_concurrent_orders_are_all_stored(live_server, snapshot):
    responses = asyncio.run(_post_orders(live_server.url, ORDERS))

    assert [r.status_code for r in responses] == [201] * ORDERS
    order_ids = [r.json()["order_id"] for r in responses]
    assert len(set(order_ids)) == ORDERS

    rows = snapshot()
    new_orders = [row for row in rows["orders"] if row[0] > 3]
    assert sorted(row[0] for row in new_orders) == sorted(order_ids)
    new_lines = [row for row in rows["order_items"] if row[0] > 3]
    assert len(new_lines) == 2 * ORDERS
    assert {row[0] for row in new_lines} == set(order_ids)


def test_a_restart_keeps_every_order(database_url):
    server = LiveServer(database_url).start()
    try:
        body = {"customer_id": 2, "items": [{"id": 3, "quantity": 2}]}
        order_id = httpx.post(server.url + "/api/add_new_order", json=body).json()["order_id"]
    finally:
        server.stop()

    server = LiveServer(database_url).start()
    try:
        orders = httpx.get(f"{server.url}/api/orders/2").json()
        assert [order["order_id"] for order in orders] == [2, order_id]
        assert httpx.get(f"{server.url}/api/order_total/{order_id}").json()["total"] == 21
    finally:
        server.stop()
