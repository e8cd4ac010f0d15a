"""Event-loop CPU per request through each app, in one process, without HTTP.

bench/throughput.py measures requests per second through real servers, and
on a small shared machine its rounds scatter by a fifth. This asks a
narrower question with far less noise: how much CPU the event loop's thread
spends on one GET order_total, from the ASGI call to the last byte handed
to the server, in the service and in the AsyncEngine floor of
bench/baseline_app.py, 16 requests at once, rounds alternating. aiosqlite's
threads and the database server are left out, and so is uvicorn, which
both pay alike. On PostgreSQL (BENCH_PG_URL) too.
"""

import asyncio
import importlib
import logging.config
import os
import time

import uvloop

from bench.common import PG_ENV, engines, median, seeded_url, table
from marketsvc.access_log import uvicorn_log_config

ORDERS = 200_000
AT_ONCE = 16
REQUESTS = 1600  # a round
ROUNDS = 7


def scope(path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def one_request(app, path: str) -> None:
    statuses = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope(path), receive, send)
    assert statuses == [200], (path, statuses)


async def measure(url: str, order_ids: list[int]) -> dict[str, float]:
    # baseline_app reads its database URL when it is imported.
    os.environ["BENCH_DATABASE_URL"] = url
    from bench import baseline_app

    baseline_app = importlib.reload(baseline_app)
    from marketsvc.config import Settings
    from marketsvc.server import create_app

    service = create_app(Settings(database_url=url))
    apps = {
        "marketsvc": (service, "/api/order_total/"),
        "bare AsyncEngine (baseline_app)": (baseline_app.app, "/engine/order_total/"),
    }

    async def round_of(app, prefix: str) -> float:
        async def client(first: int) -> None:
            for n in range(first, REQUESTS, AT_ONCE):
                await one_request(app, f"{prefix}{order_ids[n % len(order_ids)]}")

        started = time.thread_time()
        await asyncio.gather(*(client(first) for first in range(AT_ONCE)))
        return (time.thread_time() - started) / REQUESTS * 1e6

    costs: dict[str, list[float]] = {name: [] for name in apps}
    async with (
        service.router.lifespan_context(service),
        baseline_app.lifespan(baseline_app.app),
    ):
        for app, prefix in apps.values():
            await round_of(app, prefix)  # warm up: pools filled, statements cached
        for _ in range(ROUNDS):
            for name, (app, prefix) in apps.items():
                costs[name].append(await round_of(app, prefix))
    return {name: median(values) for name, values in costs.items()}


async def existing_order_ids(url: str) -> list[int]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT id FROM orders ORDER BY id LIMIT 5000"))
            return [row.id for row in rows]
    finally:
        await engine.dispose()


def main() -> str:
    # Access lines go through the service's own handler, as in a server,
    # into the void instead of this benchmark's output.
    logging.config.dictConfig(uvicorn_log_config("text"))
    for handler in logging.getLogger("marketsvc.access").handlers:
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (open for the process)
    rows = []
    for engine, server_url in engines():
        url = seeded_url(server_url, 50_000, ORDERS)
        order_ids = uvloop.run(existing_order_ids(url))
        costs = uvloop.run(measure(url, order_ids))  # uvicorn's event loop
        floor = costs["bare AsyncEngine (baseline_app)"]
        rows += [[engine, name, cost, floor / cost] for name, cost in costs.items()]
    return table(
        f"Event-loop CPU per GET order_total, in one process, {AT_ONCE} at once "
        f"(median of {ROUNDS} rounds of {REQUESTS}; PostgreSQL only with {PG_ENV})",
        ["engine", "app", "us of CPU per request", "x AsyncEngine floor (its speed)"],
        rows,
    )
