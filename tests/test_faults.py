"""Faults: clients leaving mid-stream, errors mid-stream, a database that cannot serve.

Each runs against a real uvicorn server in this process, so the tests can
check what the server has left behind: checked-out connections in the pool
and tasks on its event loop.
"""

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from marketsvc.db.engine import POOL_MAX_OVERFLOW, close_database, open_database
from marketsvc.db.schema import init_db
from marketsvc.db.seed import seed
from marketsvc.db.unavailable import DatabaseUnavailable
from marketsvc.db_accessor import NotFound, one_error
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
    settings = big_settings.replace(pool_size=2, pool_overflow=10, pool_timeout=1.0)
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


# --- the database unavailable: always a 503 with Retry-After, never a 500 ----


@contextmanager
def all_connections_taken(server: ThreadServer):
    """Check out every connection of the server's pool until the block ends."""
    from marketsvc.db.engine import get_engine

    async def take(ready: asyncio.Event, release: asyncio.Event) -> None:
        pool = get_engine().pool
        held = [await get_engine().connect() for _ in range(pool.size() + POOL_MAX_OVERFLOW)]
        ready.set()
        await release.wait()
        for conn in held:
            await conn.close()

    async def events():
        return asyncio.Event(), asyncio.Event()

    ready, release = asyncio.run_coroutine_threadsafe(events(), server.loop).result()
    done = asyncio.run_coroutine_threadsafe(take(ready, release), server.loop)
    asyncio.run_coroutine_threadsafe(ready.wait(), server.loop).result(timeout=20)
    try:
        yield
    finally:
        server.loop.call_soon_threadsafe(release.set)
        done.result(timeout=20)


def database_routes() -> list[tuple[str, str, dict | None]]:
    """Every route that needs the database, with a valid request (a new item name each time)."""
    return [
        ("GET", "/api/customers", None),
        ("GET", "/api/orders/1", None),
        ("GET", "/api/order_total/1", None),
        ("POST", "/api/orders_total", {"orders": [1, 2, 3]}),
        ("GET", "/api/orders_total", {"orders": [1, 2]}),
        ("GET", "/api/orders_between_dates/2100-01-01/2000-01-01", None),
        ("POST", "/api/add_new_order", {"customer_id": 1, "items": [{"id": 1, "quantity": 2}]}),
        ("GET", "/api/stats", None),
        ("GET", "/api/items", None),
        ("POST", "/api/items", {"name": f"Kettle {uuid.uuid4().hex[:8]}", "price": 12.5}),
        ("GET", "/api/events/orders?customer_id=1", None),
    ]


STREAMED_ROUTES = {
    "/api/customers",
    "/api/orders_between_dates/2100-01-01/2000-01-01",
    "/api/events/orders?customer_id=1",
}


@pytest.fixture
def exhaustible_server(settings):
    """A server with one pooled connection (plus overflow) and a short wait for it."""
    server = ThreadServer(settings.replace(pool_size=1, pool_timeout=0.3)).start()
    yield server
    server.stop()


def assert_503(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 503, (response.request.url, response.text)
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/json"
    assert reason in response.json()["detail"]


def test_every_route_answers_503_while_the_pool_is_exhausted(exhaustible_server, snapshot):
    before = snapshot()
    with httpx.Client(base_url=exhaustible_server.url, timeout=20) as http:
        with all_connections_taken(exhaustible_server):
            for method, path, body in database_routes():
                response = http.request(method, path, json=body)
                assert_503(response, "all database connections are in use")
        assert snapshot() == before, "a 503 changed nothing"
        # Connections back: every route works again.
        for method, path, body in database_routes():
            response = http.request(method, path, json=body)
            assert response.status_code in (200, 201), (path, response.text)


def test_orders_total_with_an_unknown_id_and_no_connection_is_a_503(exhaustible_server):
    # Every task of the TaskGroup fails; none may turn into a 500.
    with httpx.Client(base_url=exhaustible_server.url, timeout=20) as http:
        with all_connections_taken(exhaustible_server):
            response = http.post("/api/orders_total", json={"orders": [1, 99999, 2]})
            assert_503(response, "connections")
        response = http.post("/api/orders_total", json={"orders": [1, 99999, 2]})
        assert response.status_code == 404
        assert response.json()["detail"] == "unknown order ids: [99999]"


def test_a_taskgroup_answers_for_the_error_a_retry_cannot_fix():
    not_found = NotFound("order 7 does not exist")
    exhausted = PoolTimeout("QueuePool limit reached")
    mixed = ExceptionGroup("tasks", [exhausted, ExceptionGroup("inner", [not_found])])
    assert one_error(mixed) is not_found
    only_pool = one_error(ExceptionGroup("tasks", [exhausted, PoolTimeout("again")]))
    assert isinstance(only_pool, DatabaseUnavailable)
    assert "connections are in use" in str(only_pool)
    # A bug among them: nothing is picked, the whole group is a 500.
    assert one_error(ExceptionGroup("tasks", [exhausted, ZeroDivisionError()])) is None


def terminate_backends(database_url: str) -> int:
    """PostgreSQL: drop every connection to the test's database, as a restart would."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from tests.conftest import PG_ENV

    async def terminate() -> int:
        admin = create_async_engine(os.environ[PG_ENV], poolclass=NullPool)
        try:
            async with admin.connect() as conn:
                result = await conn.execute(
                    text(
                        # With a timeout it returns once each backend has
                        # exited, as after a restart; without one it only
                        # signals them, and a request could still reach one.
                        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": make_url(database_url).database},
                )
                return len(result.all())
        finally:
            await admin.dispose()

    return asyncio.run(terminate())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_after_the_database_drops_its_connections_the_next_request_works(database_url, settings):
    server = ThreadServer(settings.replace(query_token=TOKEN)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=20) as http:
            for _ in range(3):
                # Fill the pool with connections, then have PostgreSQL kill them all.
                for method, path, body in database_routes():
                    http.request(method, path, json=body)
                assert terminate_backends(database_url) > 0
                for method, path, body in database_routes():
                    response = http.request(method, path, json=body)
                    assert response.status_code in (200, 201), (path, response.text)
                query = http.post("/api/query", json={"query": "SELECT 1 AS ok"}, headers=AUTH)
                assert query.json() == [{"ok": 1}]
    finally:
        server.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_connections_dropped_mid_request_are_503_never_500(database_url, settings):
    """Kill the service's connections over and over while requests run."""
    server = ThreadServer(settings).start()
    stop = threading.Event()

    def keep_terminating() -> None:
        while not stop.is_set():
            terminate_backends(database_url)
            time.sleep(0.02)

    async def hammer() -> list[tuple[str, int | str, str]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:

            async def one(method: str, path: str, body) -> tuple[str, int | str, str]:
                try:
                    response = await http.request(method, path, json=body)
                except httpx.RemoteProtocolError:
                    return path, "aborted", ""
                if response.status_code == 503:
                    assert response.headers["retry-after"] == "1"
                    assert response.json()["detail"]
                return path, response.status_code, response.text

            requests = [
                one(method, path, body)
                for method, path, body in database_routes() * 8
                if method == "GET" or path == "/api/orders_total"
            ]
            return await asyncio.gather(*requests)

    killer = threading.Thread(target=keep_terminating)
    killer.start()
    try:
        responses = asyncio.run(hammer())
    finally:
        stop.set()
        killer.join()
    try:
        for path, status, text in responses:
            if status == "aborted":
                # Only a stream can be cut short: its 200 had already gone out.
                assert path in STREAMED_ROUTES, path
            else:
                assert status in (200, 503), (path, status, text)
        # And once the database leaves it alone, everything works again.
        for method, path, body in database_routes():
            response = httpx.request(method, server.url + path, json=body, timeout=20)
            assert response.status_code in (200, 201), (path, response.text)
    finally:
        server.stop()
