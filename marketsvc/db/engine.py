"""Engine and session set-up, shared by the whole service.

One AsyncEngine per process, opened by the app's lifespan (or the CLI) and
reached through get_engine() / get_sessionmaker(). Keeping it behind two
functions lets tests point the service at a temporary database.
"""

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# How long a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections the service keeps open (Settings.pool_size), plus this many
# more under a burst; a request that waits Settings.pool_timeout for one gets
# a 503 (see server.py).
POOL_MAX_OVERFLOW = 0

_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None
_write_lock = asyncio.Lock()


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    pool_timeout: float = 10.0,
    pool_overflow: int = POOL_MAX_OVERFLOW,
    **options,
) -> AsyncEngine:
    """Build an AsyncEngine for `url`, with SQLite made safe for concurrent use."""
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    # A database server can drop pooled connections behind our back (a
    # restart, pg_terminate_backend, an idle timeout). Each one is looked at
    # as it leaves the pool (drop_if_closed) and a dead one quietly replaced.
    # A SQLite connection is a file handle that nothing outside can close.
    pooled = not in_memory and "poolclass" not in options
    check = options.pop("pool_pre_ping", pooled) and parsed.get_backend_name() != "sqlite"
    if pooled:
        options.update(pool_size=pool_size, max_overflow=pool_overflow, pool_timeout=pool_timeout)
    if behind_transaction_pooler(parsed):
        options["connect_args"] = {**POOLER_CONNECT_ARGS, **options.get("connect_args", {})}
    engine = create_async_engine(parsed, echo=echo, **options)
    if is_sqlite(engine):
        _configure_sqlite(engine)
        _skip_rollbacks_with_nothing_to_undo(engine)
    if check:
        event.listen(engine.sync_engine, "checkout", drop_if_closed)
    return engine


def _skip_rollbacks_with_nothing_to_undo(engine: AsyncEngine) -> None:
    """No ROLLBACK for a SQLite connection that has no transaction open.

    A connection goes back to the pool with a rollback(), which on aiosqlite
    is a hop to its thread and back (one in five of a single-statement
    read's) even when no BEGIN was ever sent. SQLAlchemy skips it when the
    dialect says the connection is in autocommit mode, but for sqlite3 that
    means isolation_level None, which ours always is (see on_connect),
    BEGIN IMMEDIATE or not. So the dialect is told what matters instead:
    whether SQLite has a transaction open, which aiosqlite knows without
    asking its thread.
    """
    dialect = engine.sync_engine.dialect
    dialect.skip_autocommit_rollback = True
    dialect.detect_autocommit_setting = _no_transaction_open


def _no_transaction_open(dbapi_connection) -> bool:
    driver = dbapi_connection.driver_connection  # sqlite3's or aiosqlite's connection
    try:
        return not driver.in_transaction
    except ValueError:  # aiosqlite's, closed already: nothing to roll back
        return True


def drop_if_closed(_dbapi_connection, record, _proxy) -> None:
    """A pooled connection that the server has closed is replaced, at no cost.

    asyncpg notices a server closing the socket the moment the event loop
    reads its end, so asking the connection (is_closed) sends nothing.
    SQLAlchemy's pool_pre_ping would send a query instead, on every checkout
    (on asyncpg inside BEGIN and ROLLBACK: three round trips), about a tenth
    of this service's work per request. A connection that dies in the very
    instant it is taken fails its statement instead, a 503 (which a ping
    could not prevent either: the server can go between the ping and the
    query), and SQLAlchemy then drops every connection the pool had opened
    before it, so only that request sees it.
    DisconnectionError tells the pool to drop this connection and check out
    another (a new one, if need be), so the request never sees the error.
    """
    if record.driver_connection.is_closed():
        raise exc.DisconnectionError("the database closed this pooled connection")


def behind_transaction_pooler(url) -> bool:
    """True for a PostgreSQL URL that says ?prepared_statement_cache_size=0.

    That is how a URL says it goes through PgBouncer in transaction mode
    (see docs/reference/beyond-one-machine.md): each transaction may run on
    another server connection, shared with other clients, so a prepared
    statement kept for later may be gone or may carry a name that another
    client's statement has already taken on that connection.
    """
    return (
        url.get_backend_name() == "postgresql"
        and url.query.get("prepared_statement_cache_size") == "0"
    )


def _unique_statement_name() -> str:
    return f"__marketsvc_{uuid.uuid4().hex}__"


# asyncpg's own cache off too (it names its statements 1, 2, 3 ... per
# connection), and every statement SQLAlchemy prepares gets a unique name.
POOLER_CONNECT_ARGS = {
    "statement_cache_size": 0,
    "prepared_statement_name_func": _unique_statement_name,
}


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Python's sqlite3 driver opens transactions lazily and in its own
        # way; switch that off and let SQLAlchemy say BEGIN (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")  # off by default in SQLite
        # busy_timeout first: switching a new file to WAL needs a lock, and
        # other processes starting at the same moment may hold it.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection):
        # A transaction that will write takes the write lock up front
        # (BEGIN IMMEDIATE), so it waits its turn on busy_timeout instead of
        # failing with "database is locked" when it upgrades from reading.
        options = connection.get_execution_options()
        if options.get("sqlite_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get("single_statement"):
            connection.exec_driver_sql("BEGIN")


@functools.lru_cache(maxsize=8)
def single_statement(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, for a read that is one statement.

    One statement always reads one consistent snapshot, so a transaction
    around it buys nothing and costs two round trips (BEGIN, ROLLBACK): on
    SQLite every one of them is a hop to aiosqlite's thread and back. Not
    for server-side cursors on PostgreSQL, which need a transaction.
    """
    if is_sqlite(engine):
        return engine.execution_options(single_statement=True)
    if behind_transaction_pooler(engine.url):
        # Without a transaction PgBouncer may run the statement's prepare
        # and its execution on two different server connections.
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, for transactions that write."""
    return engine.execution_options(sqlite_write=True)


@asynccontextmanager
async def write_transaction(engine: AsyncEngine | None = None) -> AsyncIterator[AsyncConnection]:
    """A transaction that writes: committed at the end, rolled back on error.

    SQLite lets one transaction write at a time. Writers of this process
    queue on an asyncio.Lock, which wakes the next one the moment the lock is
    free; left to SQLite's busy handler they would sleep and retry in steps
    of up to 100 ms, and a burst of orders would crawl. Other processes are
    still kept in order by BEGIN IMMEDIATE and busy_timeout.
    """
    engine = engine or get_engine()
    if not is_sqlite(engine):
        async with engine.begin() as conn:
            yield conn
        return
    async with _write_lock, writer(engine).begin() as conn:
        yield conn


@asynccontextmanager
async def write_session(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """write_transaction for an ORM session: the same writers' queue.

    The session's next transaction takes its turn like any other writer
    (and BEGIN IMMEDIATE on SQLite), is committed at the end and rolled back
    on error, after which the session can be used again. It must start here:
    a transaction the session already began with a read could not take the
    write lock up front.
    """
    if session.in_transaction():
        raise RuntimeError("write_session() needs a session with no transaction in progress")
    lock = _write_lock if is_sqlite(get_engine()) else contextlib.nullcontext()
    async with lock:
        await session.connection(execution_options={"sqlite_write": True})
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def open_database(url: str, **engine_options) -> AsyncEngine:
    """Create the process's engine and session factory (options: see create_engine)."""
    global _engine, _sessionmaker, _write_lock
    _engine = create_engine(url, **engine_options)
    _write_lock = asyncio.Lock()
    # expire_on_commit=False: objects stay readable after commit without a
    # new round trip, which async code cannot do implicitly.
    _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


async def close_database() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = _sessionmaker = None


def get_engine() -> AsyncEngine:
    if _engine is None:
        raise RuntimeError("the database is not open: call open_database() first")
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    if _sessionmaker is None:
        raise RuntimeError("the database is not open: call open_database() first")
    return _sessionmaker


async def ping() -> None:
    """Check out a connection and run SELECT 1 on it."""
    async with single_statement(get_engine()).connect() as conn:
        await conn.execute(text("SELECT 1"))
