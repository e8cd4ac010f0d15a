"""The feed under load: how long after its 201 does an order reach a follower?

Two server processes share one fresh database. 1000 add_new_order calls go
to the first at once; two followers of /api/events/orders?follow=true
watch: one on the writing process itself (the baseline: the event need not
cross processes) and one on the other process (the order must travel
through the database: LISTEN/NOTIFY on PostgreSQL, the shared poller on
SQLite). The client notes the time each 201 arrives and the time each event
arrives, both in one event loop, so the two clocks are the same clock.

A delay is event time minus 201 time. It can be negative: the server sends
the event when the order commits, which may beat the 201 to the client.
"""

import asyncio
import os
import shutil
import time
from contextlib import ExitStack, asynccontextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import RESULTS, engines, marketsvc, median, seeded_sqlite, sqlite_url, table

ORDERS = 1000
ROUNDS = 3
SAMPLE_ORDERS = 3  # a fresh database holds the three sample orders
# 1000 requests at once queue for the database; let them wait, not fail.
SERVER_ENV = {"MARKETSVC_POOL_TIMEOUT": "60"}


class Follower:
    """Follows the feed; keeps (order id, arrival time) of every order event."""

    def __init__(self, base_url: str):
        self.url = f"{base_url}/api/events/orders?follow=true&after={SAMPLE_ORDERS}&limit={ORDERS}"
        self.ready = asyncio.Event()
        self.arrived: list[tuple[int, float]] = []

    async def run(self) -> None:
        timeout = httpx.Timeout(60, read=None)
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("GET", self.url) as response,
        ):
            response.raise_for_status()
            self.ready.set()
            event, event_id = None, None
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line.partition(":")[2].strip()
                elif line.startswith("id:"):
                    event_id = int(line.partition(":")[2])
                elif not line:
                    if event == "order":
                        self.arrived.append((event_id, time.monotonic()))
                    event, event_id = None, None


def new_order(n: int) -> dict:
    return {"customer_id": 1 + n % 3, "items": [{"id": 1 + n % 4, "quantity": 1 + n % 5}]}


async def write(url: str) -> dict[int, float]:
    """ORDERS concurrent orders, one connection each; order id -> time its 201 arrived."""
    answered: dict[int, float] = {}
    limits = httpx.Limits(max_connections=ORDERS, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, pool=None), limits=limits) as client:

        async def place(n: int) -> None:
            response = await client.post(f"{url}/api/add_new_order", json=new_order(n))
            assert response.status_code == 201, response.text
            answered[response.json()["order_id"]] = time.monotonic()

        await asyncio.gather(*(place(n) for n in range(ORDERS)))
    return answered


def delays(follower: Follower, answered: dict[int, float]) -> list[float]:
    ids = [order_id for order_id, _ in follower.arrived]
    assert ids == sorted(answered), "an order was lost, repeated or out of order"
    return sorted(arrived - answered[order_id] for order_id, arrived in follower.arrived)


async def write_and_follow(writer_url: str, other_url: str) -> dict[str, list[float]]:
    followers = {"same process": Follower(writer_url), "other process": Follower(other_url)}
    tasks = [asyncio.create_task(f.run()) for f in followers.values()]
    await asyncio.wait_for(asyncio.gather(*(f.ready.wait() for f in followers.values())), 10)
    answered = await write(writer_url)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    return {where: delays(f, answered) for where, f in followers.items()}


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


@asynccontextmanager
async def admin(server_url: str):
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


def fresh_database(server_url: str | None) -> str:
    """An empty SQLite file, or an empty PostgreSQL database: the servers build the schema."""
    if server_url is None:
        path = RESULTS / "feed.db"
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        shutil.copy(seeded_sqlite(0, 0), path)
        return sqlite_url(path)
    name = "marketsvc_bench_feed"

    async def recreate() -> None:
        async with admin(server_url) as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))

    asyncio.run(recreate())
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def one_round(server_url: str | None) -> dict[str, list[float]]:
    url = fresh_database(server_url)
    with ExitStack() as stack:
        writer = stack.enter_context(marketsvc(url, **SERVER_ENV))
        other = stack.enter_context(marketsvc(url, **SERVER_ENV))
        return asyncio.run(write_and_follow(writer.url, other.url))


def main() -> str:
    rows = []
    load_before = os.getloadavg()[0]
    for engine, server_url in engines():
        how = "LISTEN/NOTIFY" if server_url else "shared poller"
        rounds = [one_round(server_url) for _ in range(ROUNDS)]
        for where in ("same process", "other process"):
            seen = [r[where] for r in rounds]
            rows.append(
                [
                    engine,
                    f"{where} ({how})" if where == "other process" else where,
                    ms(median(percentile(d, 0.5) for d in seen)),
                    ms(median(percentile(d, 0.95) for d in seen)),
                    ms(median(d[-1] for d in seen)),
                    "yes",
                ]
            )
    load_after = os.getloadavg()[0]
    return table(
        f"Delay from 201 to event, {ORDERS} concurrent add_new_order calls, 2 processes "
        f"(ms, median of {ROUNDS}; load average {load_before:.1f} before, {load_after:.1f} after)",
        ["engine", "follower on", "p50", "p95", "max", f"all {ORDERS} once, in id order"],
        rows,
    )
