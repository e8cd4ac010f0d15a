# steps: patch
# steps: edit __doc__
#=through aiosqlite, as it does in production.
#+
#+Tests that take `any_database_url` (or `service`) run twice: on SQLite, and
#+on a fresh PostgreSQL database, created and dropped around the test, when
#+MARKETSVC_TEST_DATABASE_URL names a PostgreSQL server
#+(postgresql+asyncpg://user@host/db). Without it they are skipped there,
#+with the reason.
# steps: after import asyncio
import os
# steps: after import shutil
import socket
# steps: after import sqlite3
import subprocess
import sys
import time
import uuid
# steps: after from pathlib
from types import SimpleNamespace
# steps: after from typing

import httpx
import pytest
# steps: after from fastapi.testclient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
# steps: after from marketsvc.config
from marketsvc.db import schema
# steps: after from marketsvc.server

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO_ROOT / "marketdb.sql"
PG_ENV = "MARKETSVC_TEST_DATABASE_URL"
# steps: after checked_out


# --- SQLite and PostgreSQL ---------------------------------------------------------


class RecordingConnection:
    """Stands in for a PostgreSQL connection and writes down what it is sent."""

    def __init__(self):
        self.dialect = SimpleNamespace(name="postgresql")
        self.sent: list[str] = []

    async def exec_driver_sql(self, statement: str) -> None:
        self.sent.append(statement)

    async def execute(self, statement: Any, *_args: Any) -> None:
        self.sent.append(str(statement))


@pytest.fixture
def recording_connection() -> RecordingConnection:
    return RecordingConnection()


def postgresql_setup_missing() -> str | None:
    """Why marketsvc cannot set up a PostgreSQL database yet; None when it can."""
    try:
        asyncio.run(schema._load_schema_file(RecordingConnection()))
    except NotImplementedError as exc:
        return f"PostgreSQL: not ready yet ({exc})"
    return None
# steps: main _admin


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own; the service loads marketdb.sql into it."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty'}"
        return
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"PostgreSQL: set {PG_ENV} to a server's URL to run this test there too")
    if reason := postgresql_setup_missing():
        pytest.skip(reason)
    name = f"marketsvc_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def service(any_database_url: str) -> Iterator[TestClient]:
    """A client of the service on `any_database_url` (start-up loads the sample data)."""
    with TestClient(create_app(Settings(database_url=any_database_url))) as client:
        yield client


@pytest.fixture
def sql(any_database_url: str) -> Callable[[str], list[tuple]]:
    """sql(statement): run one statement on the test database, committed; its rows if any."""

    async def run(statement: str) -> list[tuple]:
        engine = create_async_engine(any_database_url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return lambda statement: asyncio.run(run(statement))


@pytest.fixture
def snapshot(sql) -> Callable[[], dict[str, list[tuple]]]:
    """snapshot(): every row of every table, to show that a request changed nothing."""

    def take() -> dict[str, list[tuple]]:
        return {table: sorted(sql(f"SELECT * FROM {table}")) for table in schema.ALL_TABLES}

    return take
# steps: main bench/common.py::free_port


@pytest.fixture
def live_server(any_database_url: str) -> Iterator[str]:
    """The service in a uvicorn process of its own, on a free local port; yields its URL."""
    port = free_port()
    env = {**os.environ, "MARKETSVC_DATABASE_URL": any_database_url, "MARKETSVC_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "marketsvc", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
