"""The order feed as deployed: real server processes, signals, many writers.

Each server is `python -m marketsvc serve` in a process of its own, all on
one database. Orders written through some processes must reach a follower
on another, every one exactly once and in id order.
"""

import asyncio
import signal
import statistics
import sys
import time

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Server
from marketsvc.db.models import Order, OrderItem
from tests.conftest import LiveServer
from tests.deployed import start_all, stop_all
from tests.sse import Follower, wait_until

ORDERS = 1000


def start_server(database_url: str, **env: str) -> Server:
    """`python -m marketsvc serve` in a process of its own (stderr discarded, so a
    burst of error logs cannot fill a pipe that nobody reads and stall it)."""
    env = {"MARKETSVC_DATABASE_URL": database_url, **env}
    return Server([sys.executable, "-m", "marketsvc", "serve"], env)


def new_order(n: int) -> dict:
    return {"customer_id": n % 3 + 1, "items": [{"id": n % 4 + 1, "quantity": n % 5 + 1}]}


def test_sigterm_ends_followers_with_a_retry_hint_and_they_resume(database_url):
    server = LiveServer(database_url, env={"MARKETSVC_SSE_KEEPALIVE": "0.2"}).start()

    async def follow_until_signal() -> list[Follower]:
        followers = [
            Follower(f"{server.url}/api/events/orders?follow=true"),
            Follower(f"{server.url}/api/events/orders?follow=true&customer_id=1"),
        ]
        tasks = [asyncio.create_task(f.run()) for f in followers]
        assert await wait_until(
            lambda: all(any("comment" in e for e in f.events) for f in followers), 10
        )
        server.process.send_signal(signal.SIGTERM)
        # Each stream ends by itself: the server closes it.
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        return followers

    try:
        began = time.monotonic()
        everything, customer_1 = asyncio.run(follow_until_signal())
        server.process.wait(timeout=10 - (time.monotonic() - began))
    finally:
        server.stop()
    for follower in (everything, customer_1):
        last = follower.events[-1]
        assert int(last["retry"]) > 0
        assert not follower.ended()  # no `end`: the client is meant to come back
    assert everything.order_ids() == [1, 2, 3]
    assert customer_1.order_ids() == [1, 3]

    # The browser reconnects with Last-Event-ID; the next server carries on.
    server = LiveServer(database_url).start()
    try:
        order_id = httpx.post(f"{server.url}/api/add_new_order", json=new_order(1)).json()
        resumed = Follower(
            f"{server.url}/api/events/orders?follow=true&limit=1", headers={"Last-Event-ID": "3"}
        )
        asyncio.run(asyncio.wait_for(resumed.run(), timeout=10))
    finally:
        server.stop()
    assert resumed.order_ids() == [order_id["order_id"]] == [4]
    assert resumed.ended()


async def write_and_follow(
    follow_url: str, writer_urls: list[str], orders: int
) -> tuple[Follower, dict[int, float]]:
    """Send `orders` concurrent orders round-robin to the writers; follow on follow_url."""
    follower = Follower(f"{follow_url}/api/events/orders?follow=true&after=3&limit={orders}")
    task = asyncio.create_task(follower.run())
    assert await wait_until(lambda: follower.status == 200, 10)
    answered: dict[int, float] = {}
    # A connection per request: none is reused just as the server closes it
    # for being idle (a race that a loaded machine makes likely).
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
    timeout = httpx.Timeout(60, pool=None)  # all 1000 are sent at once; most wait here
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def place(n: int) -> None:
            response = await client.post(
                f"{writer_urls[n % len(writer_urls)]}/api/add_new_order", json=new_order(n)
            )
            assert response.status_code == 201, response.text
            answered[response.json()["order_id"]] = time.monotonic()

        await asyncio.gather(*(place(n) for n in range(orders)))
    await asyncio.wait_for(task, timeout=120)
    return follower, answered


async def stored_orders(database_url: str) -> tuple[int, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            orders = await conn.scalar(select(func.count()).where(Order.id > 3))
            lines = await conn.scalar(select(func.count()).where(OrderItem.order_id > 3))
            return orders, lines
    finally:
        await engine.dispose()


def check_delivery(follower: Follower, answered: dict[int, float], orders: int) -> float:
    """Every order exactly once, in id order; returns the p95 delay from 201 to event."""
    assert len(answered) == orders
    assert follower.order_ids() == sorted(answered)
    assert follower.ended()
    delays = [max(0.0, follower.arrived[i] - answered[i]) for i in answered]
    return statistics.quantiles(delays, n=20)[-1]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_orders_written_through_other_processes_reach_a_follower_once_in_order(
    database_url, tmp_path
):
    # Three processes of two workers, all started at once on a fresh database,
    # as an operator starts them. A small pool each: the PostgreSQL server's
    # connections are shared.
    env = {"MARKETSVC_POOL_TIMEOUT": "60", "MARKETSVC_POOL_SIZE": "4"}
    servers = start_all(3, database_url, tmp_path, workers=2, **env)
    try:
        # The follower lands on one worker of the first process; the other
        # two processes take every write.
        follower, answered = asyncio.run(
            write_and_follow(servers[0].url, [s.url for s in servers[1:]], ORDERS)
        )
    finally:
        stop_all(servers)
    for server in servers:
        assert not server.failures(), server.text()
    p95 = check_delivery(follower, answered, ORDERS)
    print(f"\nPostgreSQL, 3 processes x 2 workers: p95 delay from 201 to event {p95:.3f} s")
    assert p95 <= 2
    assert asyncio.run(stored_orders(database_url)) == (ORDERS, ORDERS)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_processes_on_one_sqlite_file_share_the_feed(database_url):
    # 1000 requests at once wait their turn for SQLite's one writer.
    env = {"MARKETSVC_POOL_TIMEOUT": "60"}
    writer = start_server(database_url, **env)
    reader = start_server(database_url, **env)
    try:
        follower, answered = asyncio.run(write_and_follow(reader.url, [writer.url], ORDERS))
    finally:
        writer.stop()
        reader.stop()
    p95 = check_delivery(follower, answered, ORDERS)
    print(f"\nSQLite, 2 processes: p95 delay from 201 to event {p95:.3f} s")
    assert p95 <= 2
    assert asyncio.run(stored_orders(database_url)) == (ORDERS, ORDERS)
