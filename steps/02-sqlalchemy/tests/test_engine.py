"""The Engine: one per process, on the plain sqlite3 driver, foreign keys on."""

import pytest
from sqlalchemy import text

from marketsvc import db_accessor


def test_the_engine_uses_the_plain_sqlite_driver(client):
    assert db_accessor.get_engine().url.drivername == "sqlite"


def test_an_async_sqlite_url_names_the_same_file(tmp_path):
    engine = db_accessor.open_database(f"sqlite+aiosqlite:///{tmp_path / 'db'}")
    try:
        assert engine.url.drivername == "sqlite"
        assert engine.url.database == str(tmp_path / "db")
    finally:
        db_accessor.close_database()


def test_other_databases_are_refused():
    with pytest.raises(ValueError, match="SQLite"):
        db_accessor.open_database("postgresql://someone@localhost/market")


def test_every_connection_enforces_foreign_keys(client):
    with db_accessor.get_engine().connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
