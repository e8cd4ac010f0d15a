"""Many processes and workers starting at once: the data is loaded once, nobody dies.

Every test here starts on an empty database, the case where start-up has
the most to do and where, without the start-up lock, workers raced each
other to create the same tables (UniqueViolation on pg_type) and died.
"""

import asyncio
import os
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from marketsvc.config import REPO_ROOT, Settings
from marketsvc.research import research_login_name
from marketsvc.server import create_app
from tests.deployed import start_all, stop_all

ROUNDS = 3
TOKEN = "start-up-test-token"

# One process entering the app's lifespan (what a worker does before it
# serves), at the moment START_AT, so that all of them collide.
BARE_LIFESPAN = """
import asyncio, os, time
from sqlalchemy import text
from marketsvc.config import Settings
from marketsvc.db.engine import get_engine
from marketsvc.server import create_app

async def main():
    app = create_app(Settings.from_env())
    time.sleep(max(0.0, float(os.environ["START_AT"]) - time.time()))
    async with app.router.lifespan_context(app):
        async with get_engine().connect() as conn:
            print(await conn.scalar(text("SELECT count(*) FROM orders")))

asyncio.run(main())
"""


async def _counts(url: str) -> dict[str, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            counts = {
                table: await conn.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("item", "customer", "orders", "order_items")
            }
            if engine.dialect.name == "postgresql":
                login = research_login_name(engine.url.database)
                counts["research login"] = await conn.scalar(
                    text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": login}
                )
            return counts
    finally:
        await engine.dispose()


def assert_sample_data_loaded_once(url: str) -> None:
    counts = asyncio.run(_counts(url))
    expected = {"item": 4, "customer": 3, "orders": 3, "order_items": 6}
    if "research login" in counts:
        expected["research login"] = 1
    assert counts == expected


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_three_processes_of_two_workers_start_at_once(database_url, tmp_path, round_):
    servers = start_all(
        3, database_url, tmp_path, workers=2, MARKETSVC_QUERY_TOKEN=TOKEN, MARKETSVC_POOL_SIZE="2"
    )
    try:
        for server in servers:
            assert server.workers_started() == 2
            # Each worker answers from the same data; send enough requests
            # that both workers of each process get some.
            for _ in range(10):
                response = httpx.get(server.url + "/api/order_total/2", timeout=10)
                assert response.json() == {"order_id": 2, "total": 15}
    finally:
        stop_all(servers)
    for server in servers:
        assert server.failures() == [], server.text()
    assert_sample_data_loaded_once(database_url)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_eight_lifespans_start_at_the_same_moment(database_url, round_):
    env = {
        **os.environ,
        "MARKETSVC_DATABASE_URL": database_url,
        "MARKETSVC_QUERY_TOKEN": TOKEN,
        "MARKETSVC_POOL_SIZE": "2",
        # Late enough that all eight have imported the service by then.
        "START_AT": str(time.time() + 8),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", BARE_LIFESPAN],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outcomes = [process.communicate(timeout=90) for process in processes]
    for process, (out, err) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == "3"
    assert_sample_data_loaded_once(database_url)


@pytest.mark.slow
def test_a_populated_database_is_left_alone(database_url, tmp_path):
    servers = start_all(2, database_url, tmp_path, workers=2)
    try:
        body = {"customer_id": 1, "items": [{"id": 2, "quantity": 1}]}
        response = httpx.post(servers[0].url + "/api/add_new_order", json=body, timeout=10)
        assert response.status_code == 201
    finally:
        stop_all(servers)
    servers = start_all(2, database_url, tmp_path, workers=2)
    try:
        orders = httpx.get(servers[1].url + "/api/orders/1", timeout=10).json()
        assert len(orders) == 3  # the two sample orders and the new one
    finally:
        stop_all(servers)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_start_up_needs_no_more_than_a_pool_of_one(database_url):
    """The lock's connection is not the pool's, so the work still finds one."""
    settings = Settings(
        database_url=database_url,
        pool_size=1,
        pool_overflow=0,
        pool_timeout=3,
        query_token=TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/order_total/3").json() == {"order_id": 3, "total": 21}
    assert_sample_data_loaded_once(database_url)
