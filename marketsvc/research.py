"""POST /api/query: a researcher's ad-hoc SQL, read-only and streamed.

Read-only is the database's own doing, not ours: the statement runs on a
separate engine whose connections cannot write.

- SQLite: the file is opened read-only (mode=ro), `PRAGMA query_only` is
  on, and an authorizer lets the statement read tables and call functions
  but refuses ATTACH, DETACH, PRAGMA and every kind of write or DDL.
- PostgreSQL: every statement runs in a READ ONLY transaction with a
  statement_timeout, on a fresh connection. A superuser is lowered to the
  role marketsvc_reader (SELECT on the service's tables, nothing else) for
  the transaction, because a read-only transaction alone still lets a
  superuser run COPY ... TO PROGRAM. Better still, give the route a user
  that can only SELECT (MARKETSVC_QUERY_DATABASE_URL).
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
from sqlalchemy.pool import NullPool

from marketsvc.db.engine import create_engine
from marketsvc.db.schema import TABLES
from marketsvc.db_accessor import STREAM_BATCH_ROWS, uncancelled

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
    # NullPool: every research query gets a fresh session, so nothing it
    # leaves behind (a SET, an advisory lock) reaches the next one.
    engine = create_engine(url, poolclass=NullPool)
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


READER_ROLE = "marketsvc_reader"


async def create_reader_role(engine: AsyncEngine) -> None:
    """On PostgreSQL, as a superuser: the role research queries run as.

    It can log in nowhere and may only SELECT from the service's tables.
    Run at start-up, in an ordinary transaction (a read-only one could not).
    """
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        is_super = text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not await conn.scalar(is_super):
            return  # not ours to create roles; use MARKETSVC_QUERY_DATABASE_URL
        exists = text("SELECT 1 FROM pg_roles WHERE rolname = :role")
        if not await conn.scalar(exists, {"role": READER_ROLE}):
            await conn.exec_driver_sql(f"CREATE ROLE {READER_ROLE} NOLOGIN")
        tables = ", ".join(TABLES)
        await conn.exec_driver_sql(f"GRANT SELECT ON {tables} TO {READER_ROLE}")


class _Deadline:
    """A time limit that each fetch renews (SQLite has no statement timeout)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.renew()

    def renew(self) -> None:
        self.at = time.monotonic() + self.seconds

    def passed(self) -> bool:
        return time.monotonic() > self.at


async def _prepare(engine: AsyncEngine, conn) -> _Deadline:
    timeout = engine.get_execution_options()["research_timeout"]
    deadline = _Deadline(timeout)
    if engine.dialect.name == "sqlite":
        raw = await conn.get_raw_connection()
        await raw.driver_connection.set_authorizer(_sqlite_authorizer)
        # SQLite calls this every 10 000 steps of its virtual machine; a true
        # answer interrupts the statement. run_query renews the deadline
        # before every fetch, so no single fetch runs longer than `timeout`
        # (and a client that left never leaves a query running for long).
        await raw.driver_connection.set_progress_handler(deadline.passed, 10_000)
        return deadline
    if await conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
        # A superuser can write files and run programs even inside a
        # read-only transaction (COPY ... TO PROGRAM, pg_read_file). Drop to
        # a role that may only read the service's own tables.
        await conn.exec_driver_sql(f"SET LOCAL ROLE {READER_ROLE}")
    await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
    return deadline


async def run_query(engine: AsyncEngine, sql: str) -> AsyncIterator[Sequence[Row]]:
    """Yield the statement's rows in batches, as dicts keyed by column name.

    Raises QueryFailed before the first batch when the database rejects the
    statement; after that, an error propagates as it is and aborts the
    response that is streaming the rows.
    """
    conn = await engine.connect()
    try:
        try:
            deadline = await _prepare(engine, conn)
            # text() treats ":name" as a parameter; research SQL has none.
            result = await conn.stream(text(sql.replace(":", r"\:")))
            try:
                columns = list(result.keys())
            except ResourceClosedError:  # e.g. SET: it ran, and returns nothing
                raise QueryFailed("the statement returns no rows; send a query") from None
            batches = result.partitions(STREAM_BATCH_ROWS)
            deadline.renew()
            batch = await uncancelled(anext(batches, []))
        except DATABASE_ERRORS as exc:
            raise QueryFailed(_database_message(exc)) from None
        while batch:
            yield [dict(zip(columns, row, strict=True)) for row in batch]
            deadline.renew()
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
