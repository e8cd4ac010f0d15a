"""Which real database errors count as "unavailable" (503) and which stay bugs (500)."""

import asyncio
import os
import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from marketsvc.db.errors import settled
from marketsvc.db.unavailable import unavailable_reason
from tests.conftest import PG_ENV


def error_of(url: str, statement: str = "SELECT 1") -> BaseException:
    """The exception that running `statement` on `url` really raises."""

    async def run() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    with pytest.raises(Exception) as caught:
        asyncio.run(settled(run()))
    return caught.value


def test_sqlite_locked_longer_than_the_busy_timeout_is_busy(tmp_path):
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1})
    try:
        with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()
        holder.close()
    assert unavailable_reason(caught.value) == "the database is busy"


def test_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path):
    exc = error_of(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    assert unavailable_reason(exc) == "cannot connect to the database"


def test_sqlite_mistakes_stay_bugs(tmp_path):
    exc = error_of(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "SELECT * FROM no_such_table")
    assert unavailable_reason(exc) is None
    assert unavailable_reason(ValueError("not a database error")) is None


@pytest.fixture
def pg_server() -> str:
    if not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL: set {PG_ENV}")
    return os.environ[PG_ENV]


def test_postgresql_refused_missing_and_mistaken(pg_server):
    refused = make_url(pg_server).set(port=1).render_as_string(hide_password=False)
    assert unavailable_reason(error_of(refused)) == "cannot reach the database"
    missing = make_url(pg_server).set(database="marketsvc_no_such_db")
    assert (
        unavailable_reason(error_of(missing.render_as_string(hide_password=False)))
        == "cannot connect to the database"
    )
    assert unavailable_reason(error_of(pg_server, "SELEC 1")) is None
    assert unavailable_reason(error_of(pg_server, "SELECT 1/0")) is None


def test_postgresql_connection_killed_by_the_server(pg_server):
    async def run() -> BaseException:
        engine = create_async_engine(pg_server, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                pid = await conn.scalar(text("SELECT pg_backend_pid()"))
                async with engine.connect() as admin:
                    await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await asyncio.sleep(0.2)
                try:
                    await conn.execute(text("SELECT 1"))
                except DBAPIError as exc:
                    return exc
        finally:
            await engine.dispose()
        raise AssertionError("the killed connection still worked")

    exc = asyncio.run(run())
    assert unavailable_reason(exc) == "the connection to the database was lost"
