"""POST /api/query: a researcher's ad-hoc SQL, read-only and streamed.

Read-only is the database's own doing, not ours: the statement runs on a
separate engine whose connections cannot write.

- SQLite: the file is opened read-only (mode=ro), `PRAGMA query_only` is
  on, and an authorizer lets the statement read tables and call functions
  but refuses ATTACH, DETACH, PRAGMA and every kind of write or DDL.
- PostgreSQL: every statement runs in a READ ONLY transaction with a
  statement_timeout. Give it a database user that can only SELECT
  (MARKETSVC_QUERY_DATABASE_URL): a superuser can still read server files.
"""

import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence

import anyio
import asyncpg
from sqlalchemy import Row, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ResourceClosedError
from sqlalchemy.ext.asyncio import AsyncEngine

from marketsvc.db.engine import create_engine
from marketsvc.db_accessor import uncancelled

STREAM_BATCH_ROWS = 2000

# What a research query may do in SQLite: read and compute, nothing else.
# (Transactions are allowed: SQLAlchemy's own BEGIN and ROLLBACK need them.)
_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
    sqlite3.SQLITE_TRANSACTION,
}
# Pragmas that only describe the schema (their argument is a table name).
_READ_PRAGMAS = {"table_info", "table_xinfo", "table_list", "index_list", "index_info"}


def _sqlite_authorizer(action: int, arg1, arg2, _db_name, _trigger) -> int:
    if action == sqlite3.SQLITE_PRAGMA:
        allowed = arg1 in _READ_PRAGMAS
    elif action == sqlite3.SQLITE_FUNCTION:
        allowed = arg2 != "load_extension"
    else:
        allowed = action in _ALLOWED_ACTIONS
    return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY


class QueryFailed(Exception):
    """The database refused or failed the statement; the message is its own."""


def create_query_engine(url: str, *, timeout: float, pool_size: int = 5) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A URI filename lets SQLite open the file read-only.
        parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={"uri": "true"})
        engine = create_engine(parsed.render_as_string(False), pool_size=pool_size)
        event.listen(engine.sync_engine, "connect", _sqlite_query_only)
        return engine.execution_options(research_timeout=timeout)
    engine = create_engine(url, pool_size=pool_size)
    return engine.execution_options(postgresql_readonly=True, research_timeout=timeout)


def _sqlite_query_only(dbapi_connection, _record) -> None:
    # A second lock on the door: even a statement the authorizer let
    # through cannot change the database file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def token_matches(authorization: str | None, token: str) -> bool:
    """Bearer token check in constant time, so timing tells nothing about the token."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(given.strip().encode(), token.encode())


async def _prepare(engine: AsyncEngine, conn) -> None:
    timeout = engine.get_execution_options()["research_timeout"]
    if engine.dialect.name == "sqlite":
        raw = await conn.get_raw_connection()
        await raw.driver_connection.set_authorizer(_sqlite_authorizer)
        # SQLite has no statement timeout; a progress handler that gives up
        # once `timeout` seconds have passed plays that part until the first
        # rows arrive (see run_query).
        deadline = time.monotonic() + timeout
        await raw.driver_connection.set_progress_handler(
            lambda: time.monotonic() > deadline, 10_000
        )
    else:
        await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")


async def run_query(engine: AsyncEngine, sql: str) -> AsyncIterator[Sequence[Row]]:
    """Yield the statement's rows in batches, as dicts keyed by column name.

    Raises QueryFailed before the first batch when the database rejects the
    statement; after that, an error propagates as it is and aborts the
    response that is streaming the rows.
    """
    conn = await engine.connect()
    try:
        try:
            await _prepare(engine, conn)
            # text() treats ":name" as a parameter; research SQL has none.
            result = await conn.stream(text(sql.replace(":", r"\:")))
            try:
                columns = list(result.keys())
            except ResourceClosedError:  # e.g. SET: it ran, and returns nothing
                raise QueryFailed("the statement returns no rows; send a query") from None
            batches = result.partitions(STREAM_BATCH_ROWS)
            first = await uncancelled(anext(batches, []))
        except DATABASE_ERRORS as exc:
            raise QueryFailed(_database_message(exc)) from None
        if engine.dialect.name == "sqlite":
            # Rows are flowing: from here the client's reading sets the pace.
            raw = await conn.get_raw_connection()
            await raw.driver_connection.set_progress_handler(None, 0)
        batch = first
        while batch:
            yield [dict(zip(columns, row, strict=True)) for row in batch]
            batch = await uncancelled(anext(batches, None))
    finally:
        with anyio.CancelScope(shield=True):
            await conn.close()


# Errors of the database itself. Most arrive wrapped in SQLAlchemy's
# DBAPIError; a server-side cursor's fetch can raise the driver's own.
DATABASE_ERRORS = (DBAPIError, sqlite3.Error, asyncpg.PostgresError)


def _database_message(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).strip() or type(orig).__name__
    # asyncpg prefixes its class name; the database's own words follow.
    return message.split(": ", 1)[-1] if message.startswith("<class") else message
