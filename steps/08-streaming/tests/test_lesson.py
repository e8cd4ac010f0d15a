"""This step's lesson: streaming over HTTP with flat memory, and Server-Sent Events.

Some tests drive the ASGI app by hand instead of through a client, to see
each chunk of the body as the server sends it and what the pool holds at
that moment.
"""

import asyncio
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import event

from marketsvc.config import Settings
from marketsvc.db.engine import close_database, get_engine, open_database
from marketsvc.db.schema import init_db
from marketsvc.db.seed import seed
from marketsvc.server import create_app
from marketsvc.streaming import start_stream

REPO_ROOT = Path(__file__).resolve().parent.parent

OnBody = Callable[[bytes, bool], Awaitable[None]]


async def call(
    app,
    path: str,
    on_body: OnBody | None = None,
    leave: asyncio.Event | None = None,
    keep_body: bool = True,
):
    """GET `path` from `app`; returns (status, body length, body).

    on_body(chunk, more_body) sees every chunk as it is sent. When `leave`
    is set, the client says it has gone away (http.disconnect). With
    keep_body=False the body is only counted, so that a memory measurement
    sees the server alone.
    """
    status, length, body = 0, 0, bytearray()
    leave = leave or asyncio.Event()

    async def receive() -> dict:
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status, length
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            if on_body is not None:
                await on_body(message["body"], message.get("more_body", False))
            length += len(message["body"])
            if keep_body:
                body.extend(message["body"])

    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
    }
    await app(scope, receive, send)
    return status, length, bytes(body)


def serve(database_url: str, scenario, **settings):
    """Run `await scenario(app)` with the app started (its lifespan entered)."""

    async def main():
        app = create_app(Settings(database_url=database_url, **settings))
        async with app.router.lifespan_context(app):
            return await scenario(app)

    return asyncio.run(main())


@pytest.fixture
def big_database_url(database_url):
    """The test database with 20 000 more customers and 5 000 more orders."""

    async def grow():
        engine = open_database(database_url)
        try:
            await seed(engine, customers=20_000, orders=5_000)
        finally:
            await close_database()

    asyncio.run(grow())
    return database_url


# --- streaming a JSON array ----------------------------------------------------


@pytest.mark.exercise("stream-response")
@pytest.mark.parametrize(
    "path", ["/api/customers", "/api/orders_between_dates/2100-01-01/2000-01-01"]
)
def test_the_first_chunk_leaves_while_the_query_is_still_running(big_database_url, path):
    seen = []

    async def on_body(chunk: bytes, more_body: bool) -> None:
        seen.append((get_engine().pool.checkedout(), more_body))

    async def scenario(app):
        return await call(app, path, on_body)

    status, _, body = serve(big_database_url, scenario)
    assert status == 200
    # A route that built a list first would have given its connection back
    # before sending anything, and sent the body in one piece.
    assert seen[0] == (1, True), "the first chunk left after the query had finished"
    assert len(seen) > 3
    rows = json.loads(body)
    assert len(rows) > 5_000
    assert len({json.dumps(row) for row in rows}) == len(rows)


@pytest.mark.exercise("stream-response")
def test_a_client_that_leaves_mid_stream_gives_the_connection_back(big_database_url):
    leave = asyncio.Event()
    during, invalidated = [], []

    async def on_body(chunk: bytes, more_body: bool) -> None:
        during.append(get_engine().pool.checkedout())
        leave.set()  # gone after the first chunk
        await asyncio.sleep(0.01)

    async def scenario(app):
        pool = get_engine().sync_engine.pool
        event.listen(pool, "invalidate", lambda *_: invalidated.append("invalidated"))
        await asyncio.wait_for(call(app, "/api/customers", on_body, leave), 10)
        return get_engine().pool.checkedout()

    after = serve(big_database_url, scenario)
    assert during[0] == 1, "nothing was streamed"
    assert after == 0, "the stream's connection was not given back"
    assert invalidated == [], "a cancelled fetch cost the pool its connection"


def _peak_memory(url: str, customers: int) -> tuple[int, int]:
    async def scenario(app):
        await call(app, "/api/customers")  # warm up: imports, caches
        tracemalloc.start()
        try:
            _, length, _ = await call(app, "/api/customers", keep_body=False)
            return tracemalloc.get_traced_memory()[1], length
        finally:
            tracemalloc.stop()

    async def grow():
        engine = open_database(url)
        try:
            await init_db(engine)  # a new, empty file: load marketdb.sql first
            await seed(engine, customers=customers, orders=0)
        finally:
            await close_database()

    asyncio.run(grow())
    return serve(url, scenario)


@pytest.mark.exercise("stream-response")
def test_memory_does_not_grow_with_the_number_of_rows(tmp_path):
    small_peak, small_length = _peak_memory(f"sqlite+aiosqlite:///{tmp_path / 'small'}", 5_000)
    large_peak, large_length = _peak_memory(f"sqlite+aiosqlite:///{tmp_path / 'large'}", 30_000)
    assert large_length > 5 * small_length
    # Six times the rows, about the same peak: one batch in memory at a time.
    assert large_peak < small_peak + 1_000_000, (small_peak, large_peak)


# --- start_stream: the status before the first byte ----------------------------


async def numbers(count: int, fail_at: int | None = None, closed: list | None = None):
    try:
        for n in range(count):
            if n == fail_at:
                raise ValueError(f"failed at {n}")
            yield n
    finally:
        if closed is not None:
            closed.append(True)


async def drain(stream) -> list:
    return [item async for item in stream]


@pytest.mark.exercise("status-first")
def test_start_stream_runs_the_generator_to_its_first_item():
    async def scenario():
        stream = await start_stream(numbers(3))
        return await drain(stream)

    assert asyncio.run(scenario()) == [0, 1, 2]


@pytest.mark.exercise("status-first")
def test_start_stream_raises_what_fails_before_the_first_item_and_closes_it():
    closed = []

    async def scenario():
        await start_stream(numbers(3, fail_at=0, closed=closed))

    with pytest.raises(ValueError, match="failed at 0"):
        asyncio.run(scenario())
    assert closed == [True]


@pytest.mark.exercise("status-first")
def test_start_stream_of_nothing_streams_nothing():
    async def scenario():
        return await drain(await start_stream(numbers(0)))

    assert asyncio.run(scenario()) == []


# --- Server-Sent Events ----------------------------------------------------------


def parse_events(text: str) -> list[dict]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append(fields)
    return events


@pytest.mark.exercise("sse")
def test_events_send_every_order_then_end(client):
    response = client.get("/api/events/orders")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text)
    assert [(e["event"], e.get("id")) for e in events] == [
        ("order", "1"),
        ("order", "2"),
        ("order", "3"),
        ("end", None),
    ]
    assert json.loads(events[1]["data"])["total"] == 15
    assert json.loads(events[-1]["data"]) == {"sent": 3, "last_id": 3}


@pytest.mark.exercise("sse")
@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ("?customer_id=1", {}, ["1", "3"]),
        ("?after=1", {}, ["2", "3"]),
        ("?limit=2", {}, ["1", "2"]),
        ("", {"Last-Event-ID": "2"}, ["3"]),  # a reconnecting browser resumes
    ],
)
def test_events_filter_and_resume(client, query, headers, expected):
    response = client.get("/api/events/orders" + query, headers=headers)
    events = parse_events(response.text)
    assert [e["id"] for e in events if e["event"] == "order"] == expected


@pytest.mark.exercise("sse")
def test_a_client_that_leaves_stops_the_event_stream(database_url):
    leave = asyncio.Event()
    chunks = []

    async def on_body(chunk: bytes, more_body: bool) -> None:
        chunks.append(chunk)
        if b"id: 3" in chunk:
            leave.set()  # caught up; the stream now waits for new orders

    async def scenario(app):
        # follow=true never ends by itself: only the client leaving stops it.
        await asyncio.wait_for(call(app, "/api/events/orders?follow=true", on_body, leave), 5)
        return get_engine().pool.checkedout()

    assert serve(database_url, scenario, sse_keepalive=0.1) == 0
    assert b"event: end" not in b"".join(chunks)


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?customer_id=99", {}, 404),
        ("?customer_id=0", {}, 422),
        ("?limit=0", {}, 422),
        ("?after=-1", {}, 422),
        ("", {"Last-Event-ID": "latest"}, 422),
    ],
)
def test_bad_event_filters_are_refused_before_the_stream(client, query, headers, status):
    response = client.get("/api/events/orders" + query, headers=headers)
    assert response.status_code == status
    assert response.json()["detail"]


# --- data to stream ----------------------------------------------------------------


def test_the_seed_command_adds_customers_and_orders(database_url, query):
    result = subprocess.run(
        [sys.executable, "-m", "marketsvc", "seed", "--customers", "50", "--orders", "20"],
        cwd=REPO_ROOT,
        env={**os.environ, "MARKETSVC_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert query("SELECT count(*) FROM customer") == [(53,)]
    assert query("SELECT count(*) FROM orders") == [(23,)]
    assert query(
        "SELECT count(*) FROM orders WHERE id NOT IN (SELECT order_id FROM order_items)"
    ) == [(0,)]
