"""Fixtures: each test gets the service on a fresh database of its own.

The database is a temporary SQLite file holding marketdb.sql, so tests can
write freely and never touch the real `marketdb`.
"""

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from marketsvc.config import Settings
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
def client(db_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=f"sqlite:///{db_path}"))
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
