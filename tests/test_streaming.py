"""The list routes stream: rows leave page by page, no connection held, memory flat."""

import asyncio
import json
import tracemalloc

import httpx
import pytest
from sqlalchemy import event

from marketsvc.config import Settings
from marketsvc.db.engine import close_database, get_engine, open_database
from marketsvc.db.schema import init_db
from marketsvc.db.seed import seed
from marketsvc.server import create_app
from tests.asgi import call


async def _seeded(url: str, customers: int, orders: int = 0) -> None:
    engine = open_database(url)
    await init_db(engine)
    await seed(engine, customers=customers, orders=orders)


@pytest.fixture
def seeded_url(database_url):
    """The test database with 30 000 extra customers and 20 000 orders."""
    asyncio.run(_seeded(database_url, 30_000, 20_000))
    asyncio.run(close_database())
    return database_url


@pytest.mark.parametrize(
    "path", ["/api/customers", "/api/orders_between_dates/2100-01-01/2000-01-01"]
)
def test_chunks_leave_between_pages_with_no_connection_held(seeded_url, path):
    """The body goes out page by page, and no connection is held while it is sent.

    At every chunk the test notes how many page queries have run and how many
    connections are checked out: the first chunk leaves after a few pages of
    many, and a client that stopped reading would be holding no connection.
    """
    seen: list[tuple[int, int, bool]] = []
    queries = 0

    def count(*_args) -> None:
        nonlocal queries
        queries += 1

    async def on_body(chunk: bytes, more_body: bool) -> None:
        seen.append((queries, get_engine().pool.checkedout(), more_body))

    async def scenario():
        open_database(seeded_url)
        event.listen(get_engine().sync_engine, "before_cursor_execute", count)
        try:
            return await call(create_app(Settings(database_url=seeded_url)), path, on_body)
        finally:
            await close_database()

    status, body = asyncio.run(scenario())
    assert status == 200
    assert len(seen) > 10, "the body went out in many chunks"
    assert seen[0][0] < queries / 2, "the first chunk left before most pages were read"
    assert all(checked_out == 0 for _, checked_out, _ in seen), seen
    assert [more for _, _, more in seen[:-1]] == [True] * (len(seen) - 1)
    assert seen[-1][2] is False
    rows = json.loads(body)
    assert len(rows) > 20_000
    if path == "/api/customers":
        assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    else:
        times = [row["order_time"] for row in rows]
        assert times == sorted(times)
        assert len({row["order_id"] for row in rows}) == len(rows), "no order split in two"
        assert all(row["items"] for row in rows)


def _peak_memory_while_streaming(url: str, customers: int) -> tuple[int, int]:
    async def scenario():
        await _seeded(url, customers)
        app = create_app(Settings(database_url=url))
        await call(app, "/api/customers")  # warm up: imports, statement cache
        tracemalloc.start()
        try:
            _, body_length = await call(app, "/api/customers", keep_body=False)
            return tracemalloc.get_traced_memory()[1], body_length
        finally:
            tracemalloc.stop()
            await close_database()

    return asyncio.run(scenario())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_memory_does_not_grow_with_the_row_count(database_url, tmp_path):
    small_peak, small_body = _peak_memory_while_streaming(
        f"sqlite+aiosqlite:///{tmp_path / 'small.db'}", 10_000
    )
    large_peak, large_body = _peak_memory_while_streaming(
        f"sqlite+aiosqlite:///{tmp_path / 'large.db'}", 60_000
    )
    assert large_body > 5 * small_body
    # Six times the rows, the same peak: memory holds one batch, not the result.
    assert large_peak < small_peak + 1_000_000, (small_peak, large_peak)


def test_real_server_streams_in_chunks(live_server, database_url):
    asyncio.run(_seeded(database_url, 20_000))
    asyncio.run(close_database())
    with httpx.stream("GET", live_server.url + "/api/customers", timeout=30) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        chunks = response.iter_raw()
        first = next(chunks)
        assert first.startswith(b"[")
        rest = b"".join(chunks)
    customers = json.loads(first + rest)
    assert len(customers) == 20_003
    assert customers[0]["name"] == "Alex"
