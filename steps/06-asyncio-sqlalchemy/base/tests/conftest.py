"""Fixtures: each test gets the service on a fresh database of its own.

The database is a temporary SQLite file holding marketdb.sql, so tests can
write freely and never touch the real `marketdb`. The service reaches it
through aiosqlite, as it does in production.
"""

import asyncio
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from marketsvc.config import Settings
from marketsvc.db.engine import close_database, get_engine, open_database
from marketsvc.server import create_app

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "marketdb.sql"


@pytest.fixture(scope="session")
def loaded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """marketdb.sql loaded once per test run; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "marketdb"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(SCHEMA_FILE.read_text())
    return path


@pytest.fixture
def db_path(tmp_path: Path, loaded_db: Path) -> Path:
    path = tmp_path / "marketdb-test"
    shutil.copyfile(loaded_db, path)
    return path


@pytest.fixture
def database_url(db_path: Path) -> str:
    return f"sqlite+aiosqlite:///{db_path}"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url))
    # Entering the client runs the app's start-up, which opens the database.
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def query(db_path: Path) -> Callable[..., list[tuple]]:
    """Read the test database directly, to see what the service really wrote."""

    def run(sql: str, *params: object) -> list[tuple]:
        with closing(sqlite3.connect(db_path)) as conn:
            return conn.execute(sql, params).fetchall()

    return run


@pytest.fixture
def in_db(database_url: str) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    """in_db(fn) runs `await fn()` in an event loop of its own, database open.

    An AsyncEngine belongs to the event loop that uses it, so tests that call
    db_accessor directly open the database in their own loop (not in the one
    the TestClient runs the app in).
    """

    def run(fn: Callable[[], Awaitable[Any]]) -> Any:
        async def scenario() -> Any:
            open_database(database_url)
            try:
                return await fn()
            finally:
                await close_database()

        return asyncio.run(scenario())

    return run


@pytest.fixture
def checked_out() -> Callable[[], int]:
    """checked_out(): how many of the service's connections are out of its pool now."""
    return lambda: get_engine().pool.checkedout()
