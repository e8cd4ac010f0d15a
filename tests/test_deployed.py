"""Tested as deployed: three serve processes of two workers each on one PostgreSQL.

The processes start together on a fresh, empty database; then 1000 orders
go out at once, round-robin over the three, as a load balancer would send
them. Every one must be answered 201 and stored with exactly its items.
"""

import asyncio
import json
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import loadgen
from tests.deployed import start_all, stop_all

pytestmark = pytest.mark.slow

ORDERS = 1000
CONNECTIONS_PER_PROCESS = 100


def order_body(n: int) -> dict:
    """Order n, told apart from every other by the quantity of its first item."""
    return {
        "customer_id": 1 + n % 3,
        "items": [{"id": 1 + n % 4, "quantity": n + 1}, {"id": 1 + (n + 1) % 4, "quantity": 1}],
    }


def as_stored(body: dict) -> tuple:
    lines = frozenset((line["id"], line["quantity"]) for line in body["items"])
    return body["customer_id"], lines


async def send_round_robin(servers, bodies: list[dict]) -> list[loadgen.Result]:
    share = [[] for _ in servers]
    for n, body in enumerate(bodies):
        share[n % len(servers)].append(("POST", "/api/add_new_order", json.dumps(body).encode()))
    return await asyncio.gather(
        *(
            loadgen.run("127.0.0.1", server.port, requests, CONNECTIONS_PER_PROCESS, True)
            for server, requests in zip(servers, share, strict=True)
        )
    )


async def stored_orders(url: str) -> dict[int, tuple]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            customers = dict((await conn.execute(text("SELECT id, customer_id FROM orders"))).all())
            lines: dict[int, set] = {order_id: set() for order_id in customers}
            rows = await conn.execute(text("SELECT order_id, item_id, quantity FROM order_items"))
            for order_id, item_id, quantity in rows:
                lines[order_id].add((item_id, quantity))
    finally:
        await engine.dispose()
    return {oid: (customers[oid], frozenset(lines[oid])) for oid in customers}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_thousand_orders_over_three_processes_of_two_workers(database_url, tmp_path):
    """Deployed as in production: PostgreSQL only."""
    env = {"MARKETSVC_POOL_SIZE": "5", "MARKETSVC_POOL_OVERFLOW": "5"}
    servers = start_all(3, database_url, tmp_path, workers=2, **env)
    try:
        bodies = [order_body(n) for n in range(ORDERS)]
        results = asyncio.run(send_round_robin(servers, bodies))
    finally:
        stop_all(servers)

    statuses = Counter(status for result in results for status in result.statuses)
    assert statuses == {201: ORDERS}
    answered = [json.loads(body)["order_id"] for result in results for body in result.bodies]
    assert len(set(answered)) == ORDERS

    stored = asyncio.run(stored_orders(database_url))
    new = {order_id: order for order_id, order in stored.items() if order_id > 3}
    assert sorted(new) == sorted(answered)  # nothing more, nothing less
    assert Counter(new.values()) == Counter(as_stored(body) for body in bodies)
    assert len(stored) == 3 + ORDERS
    for server in servers:
        assert server.failures() == [], server.text()
