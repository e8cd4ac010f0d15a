"""Writes against a real server: nothing lost under load, nothing lost on restart."""

import asyncio
import json

import httpx

from bench import loadgen
from tests.conftest import LiveServer

ORDERS = 1000


def _post_orders(port: int, count: int) -> loadgen.Result:
    """`count` orders over 200 keep-alive connections, all read to the end."""
    requests = []
    for n in range(count):
        items = [{"id": 1 + n % 4, "quantity": 1 + n % 3}, {"id": 1 + (n + 1) % 4, "quantity": 1}]
        body = json.dumps({"customer_id": 1 + n % 3, "items": items}).encode()
        requests.append(("POST", "/api/add_new_order", body))
    return asyncio.run(loadgen.run("127.0.0.1", port, requests, 200, keep_bodies=True))


def test_a_thousand_concurrent_orders_are_all_stored(live_server, snapshot):
    result = _post_orders(live_server.port, ORDERS)

    assert result.statuses == [201] * ORDERS
    order_ids = [json.loads(body)["order_id"] for body in result.bodies]
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
