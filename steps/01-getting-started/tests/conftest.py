"""Fixtures: each test gets the service on a fresh database of its own.

The database is a temporary SQLite file loaded from marketdb.sql when the
app starts, so tests can write freely and never touch the real `marketdb`.
"""

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from marketsvc.config import Settings
from marketsvc.server import create_app


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "marketdb-test"


@pytest.fixture
def client(db_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{db_path}"))
    # Entering the client runs the app's start-up, which loads marketdb.sql.
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def query(db_path: Path) -> Callable[..., list[tuple]]:
    """Read the test database directly, to see what the service really wrote."""

    def run(sql: str, *params: object) -> list[tuple]:
        with closing(sqlite3.connect(db_path)) as conn:
            return conn.execute(sql, params).fetchall()

    return run
