"""Faults: clients leaving mid-stream, errors mid-stream, more clients than connections.

Each runs against a real uvicorn server in this process, so the tests can
check what the server has left behind: checked-out connections in the pool
and tasks on its event loop.
"""

import asyncio
import json
import socket
import time

import httpx
import pytest

from marketsvc.db.engine import close_database, open_database
from marketsvc.db.schema import init_db
from marketsvc.db.seed import seed
from tests.conftest import ThreadServer

TOKEN = "fault-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CUSTOMERS = 40_000


@pytest.fixture
def big_settings(settings):
    async def populate():
        engine = open_database(settings.database_url)
        await init_db(engine)
        await seed(engine, customers=CUSTOMERS, orders=20_000)
        await close_database()

    asyncio.run(populate())
    return settings.replace(query_token=TOKEN)


@pytest.fixture
def server(big_settings):
    server = ThreadServer(big_settings).start()
    yield server
    server.stop()


def read_a_little_then_leave(url: str, request: bytes) -> bytes:
    """Send `request`, read the first few KB of the answer, then drop the connection."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    # A tiny receive buffer, so the server fills it fast and must wait on us.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(request)
    sock.settimeout(10)
    received = b""
    while len(received) < 16_000:
        received += sock.recv(4096)
    time.sleep(0.3)  # the server is now blocked, mid-stream
    sock.close()
    return received


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def post_query(sql: str) -> bytes:
    body = json.dumps({"query": sql}).encode()
    return (
        f"POST /api/query HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.mark.parametrize(
    "request_bytes",
    [
        get("/api/customers"),
        get("/api/orders_between_dates/2100-01-01/2000-01-01"),
        post_query("SELECT * FROM customer CROSS JOIN address"),
    ],
    ids=["customers", "orders_between_dates", "query"],
)
def test_a_client_leaving_mid_stream_leaves_nothing_behind(server, request_bytes):
    baseline = server.task_names()
    received = read_a_little_then_leave(server.url, request_bytes)
    assert received.startswith(b"HTTP/1.1 200")
    assert server.settle(lambda: server.checked_out() == 0), "a connection was left out"
    assert server.settle(lambda: server.task_names() == baseline), server.task_names()
    assert httpx.get(server.url + "/api/order_total/1").status_code == 200


def test_an_error_mid_stream_aborts_the_response(server, database_url):
    # Row 30 000 fails, long after the first bytes left: SQLite overflows a
    # 64-bit integer there, PostgreSQL divides by zero.
    boom = {"sqlite": "abs(-9223372036854775807 - 1)", "postgresql": "1 / (id - id)"}[
        database_url.split("+")[0]
    ]
    failing = f"SELECT id, CASE WHEN id >= 30000 THEN {boom} ELSE id END AS value FROM customer"
    with httpx.stream(
        "POST", server.url + "/api/query", json={"query": failing}, headers=AUTH
    ) as r:
        assert r.status_code == 200
        body = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                body += chunk
    assert len(body) > 10_000, "the failure came after streaming began"
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)  # never a well-formed but truncated array
    assert server.settle(lambda: server.checked_out() == 0)
    after = httpx.post(server.url + "/api/query", json={"query": "SELECT 1 AS ok"}, headers=AUTH)
    assert after.json() == [{"ok": 1}]


@pytest.fixture
def small_pool_server(big_settings):
    settings = big_settings.replace(pool_size=2, pool_timeout=1.0)
    server = ThreadServer(settings).start()
    yield server
    server.stop()


def test_more_streams_than_connections_wait_or_get_a_clear_503(small_pool_server):
    url = small_pool_server.url

    async def storm():
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

            async def one():
                response = await http.get("/api/customers")
                return response.status_code, response

            return await asyncio.gather(*(one() for _ in range(200)))

    start = time.monotonic()
    results = asyncio.run(storm())
    elapsed = time.monotonic() - start

    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 12  # at least the pool's worth got through
    for status, response in results:
        if status == 200:
            assert len(response.json()) == CUSTOMERS + 3
        else:
            assert response.headers["retry-after"] == "1"
            assert "connections" in response.json()["detail"]
    assert elapsed < 120, "clients hung"
    assert small_pool_server.settle(lambda: small_pool_server.checked_out() == 0)
