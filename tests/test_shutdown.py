"""SIGTERM: open streams end at once, the process exits in time, the pool is closed.

Against `python -m marketsvc serve` exactly as an operator runs it.
"""

import asyncio
import json
import os
import signal
import threading
import time

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import PG_ENV
from tests.serve import ServeProcess, StalledClient, get, seed_database

EXIT_WITHIN = 10


@pytest.fixture
def server(database_url, tmp_path):
    seed_database(database_url, 60_000)
    server = ServeProcess(database_url, tmp_path / "server.log")
    yield server
    server.stop()


def connections_left(database_url: str) -> int:
    """Sessions of the service still connected to its database (PostgreSQL)."""

    async def count() -> int:
        admin = create_async_engine(os.environ[PG_ENV], poolclass=NullPool)
        try:
            async with admin.connect() as conn:
                query = "SELECT count(*) FROM pg_stat_activity WHERE datname = :name"
                name = make_url(database_url).database
                return await conn.scalar(text(query), {"name": name})
        finally:
            await admin.dispose()

    return asyncio.run(count())


def assert_closed_cleanly(server: ServeProcess, database_url: str, seconds: float) -> None:
    assert seconds < EXIT_WITHIN, f"exit took {seconds:.1f} s\n{server.log()}"
    # uvicorn shuts down, then re-raises the SIGTERM it caught: the process
    # ends by that signal, as an unhandled SIGTERM would end it.
    assert server.process.returncode == -signal.SIGTERM, server.log()
    assert "Application shutdown complete" in server.log()
    if database_url.startswith("postgresql"):
        assert connections_left(database_url) == 0, "the pool was not disposed of"
    else:
        # SQLite deletes its write-ahead log when the last connection closes.
        database = make_url(database_url).database
        assert not os.path.exists(database + "-wal"), "a connection was left open"


def test_sigterm_aborts_a_stalled_stream_and_exits(server, database_url):
    stalled = StalledClient(server.url, get("/api/customers"))
    time.sleep(1)  # long enough for every buffer on the way to fill up
    with httpx.Client(base_url=server.url) as http:
        # A plain request, and its connection kept alive afterwards.
        assert http.get("/api/stats").status_code == 200
        seconds = server.terminate()
    assert_closed_cleanly(server, database_url, seconds)
    stalled.read_to_end()
    assert stalled.status == 200
    assert not stalled.complete, "cut short, so the chunked body has no end"
    with pytest.raises(json.JSONDecodeError):
        json.loads(stalled.body)  # and the array no closing bracket
    assert "GET /api/customers: stream aborted, the server is shutting down" in server.log()
    assert "Traceback" not in server.log(), "one line says why, not a traceback"


def test_sigterm_ends_a_stream_being_read(server, database_url):
    """A client still reading (slowly) when the server stops is told it got less."""
    started = threading.Event()
    outcome: list[BaseException | None] = []

    def read_slowly() -> None:
        try:
            with httpx.stream("GET", server.url + "/api/customers", timeout=20) as response:
                for _ in response.iter_raw(4096):
                    started.set()
                    time.sleep(0.01)  # about 12 s for the whole body
            outcome.append(None)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    assert started.wait(20)
    seconds = server.terminate()
    reader.join(30)
    assert_closed_cleanly(server, database_url, seconds)
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError), outcome


def test_sigterm_with_an_event_follower_exits(server, database_url):
    follower = StalledClient(server.url, get("/api/events/orders?follow=true"), read_bytes=1)
    assert follower.status == 200
    seconds = server.terminate()
    assert_closed_cleanly(server, database_url, seconds)
    follower.close()


def test_sigterm_with_nothing_open_exits_at_once(server, database_url):
    seconds = server.terminate()
    assert_closed_cleanly(server, database_url, seconds)
    assert seconds < 3
