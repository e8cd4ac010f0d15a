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

# steps: main import secrets
# steps: main import sqlite3
# steps: main import time
# steps: main from collections.abc

# steps: main import anyio
# steps: main import asyncpg
# steps: main from sqlalchemy
# steps: main from sqlalchemy.engine
# steps: main from sqlalchemy.exc
# steps: main from sqlalchemy.ext.asyncio

# steps: main from marketsvc.db.engine
from marketsvc.db_accessor import uncancelled

STREAM_BATCH_ROWS = 2000

# steps: main _ALLOWED_ACTIONS
# steps: main _READ_PRAGMAS


# steps: main _sqlite_authorizer


# steps: main QueryFailed


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


# steps: main _sqlite_query_only


# steps: main token_matches


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


# steps: main DATABASE_ERRORS


# steps: main _database_message
