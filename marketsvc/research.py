"""POST /api/query: a researcher's ad-hoc SQL, read-only, bounded and streamed.

A research query is SQL written by someone else, so the database does the
refusing, not string matching in this module:

- SQLite: the file is opened read-only (mode=ro) with `PRAGMA query_only`,
  and an authorizer lets a statement read tables and call functions but
  refuses ATTACH, PRAGMA writes, every write or DDL, and the functions that
  escape SQL (load_extension), expose memory (fts3_tokenizer) or hold
  Python's GIL for as long as the pattern likes (REGEXP). No value may grow
  past MAX_VALUE_BYTES (SQLITE_LIMIT_LENGTH), so `zeroblob(1e9)` fails
  instead of taking gigabytes.
- PostgreSQL: the statement runs as a login that is no superuser and may
  only SELECT the service's five tables, in a READ ONLY transaction. A
  superuser service URL creates that login itself; or an operator names one
  in MARKETSVC_QUERY_DATABASE_URL (a read replica, say). Anything that can
  do more is refused at start-up and /api/query stays off.

The time limit is the service's own and covers the whole query, from its
start to its last row: SQL can lift statement_timeout, but not the service's
clock (a fetch gets only the time that is left; then asyncpg cancels the
backend, SQLite's progress handler interrupts the statement). No row may be
larger than MAX_ROW_BYTES, so that memory and the time spent encoding a
batch stay small. Each query opens a connection of its own and
closes it afterwards, so nothing it leaves in its session (a setting, an
advisory lock) reaches the next one; at most `slots` run at once per process.
"""

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import asyncpg
from sqlalchemy import Row, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, ResourceClosedError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from marketsvc.config import Settings
from marketsvc.db.schema import TABLES
from marketsvc.db_accessor import STREAM_BATCH_ROWS, uncancelled

# The largest string or blob a SQLite research query may build, and the most
# columns it may return: together they bound the size of one row.
MAX_VALUE_BYTES = 1_000_000
MAX_COLUMNS = 100
# The most a row's values may hold (measured before encoding: characters,
# bytes, 8 per number); a larger row fails the query. A JSON string may be
# up to six times its characters (control characters become \u0001).
MAX_ROW_BYTES = 1_000_000
# A batch of rows stops growing at about this many bytes (SQLite), so a
# query of many large rows still streams in flat memory, and encoding one
# batch never holds the event loop for long.
BATCH_BYTES = 1_000_000
# asyncpg cannot stop a fetch by size, and a PostgreSQL value may be as
# large as 1 GB: fetch few rows at a time, so that many large rows cost
# little memory (at some speed: a round trip per PG_BATCH_ROWS rows).
PG_BATCH_ROWS = 50
# asyncpg's own deadline comes this long after the server's statement_timeout:
# normally the server stops the statement first, with its clearer message.
CANCEL_GRACE = 0.5
APPLICATION_NAME = "marketsvc research"
# Disk a research query may fill with temporary files on a PostgreSQL server.
RESEARCH_TEMP_FILE_LIMIT = "1GB"


class QueryFailed(Exception):
    """The database refused or failed the statement; the message is its own."""


class ResearchBusy(Exception):
    """No research connection to be had: all in use, or the database refused one."""


class ResearchRefused(Exception):
    """/api/query cannot run safely with this configuration; the message says why."""


@dataclass
class Research:
    """What POST /api/query needs: its engine, its time limit and its slots."""

    engine: AsyncEngine
    timeout: float
    slots: asyncio.Semaphore
    slot_wait: float

    async def close(self) -> None:
        await self.engine.dispose()


def token_matches(authorization: str | None, token: str) -> bool:
    """Bearer token check in constant time, so timing tells nothing about the token."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(given.strip().encode(), token.encode())


# --- start-up ------------------------------------------------------------------


async def open_research(settings: Settings, service_engine: AsyncEngine) -> Research:
    """The research engine for `settings`; ResearchRefused when it would be unsafe."""
    url = settings.query_database_url
    if url is None and make_url(settings.database_url).get_backend_name() == "postgresql":
        try:
            url = await ensure_research_login(service_engine, settings)
        except DATABASE_ERRORS as exc:
            message = _database_message(exc)
            raise ResearchRefused(f"the research login could not be set up: {message}") from None
    engine = create_research_engine(url or settings.database_url, timeout=settings.query_timeout)
    try:
        if engine.dialect.name == "postgresql":
            await check_research_login(engine)
    except (*DATABASE_ERRORS, OSError) as exc:
        await engine.dispose()
        message = _database_message(exc)
        raise ResearchRefused(f"the research login could not be checked: {message}") from None
    except BaseException:
        await engine.dispose()
        raise
    return Research(
        engine=engine,
        timeout=settings.query_timeout,
        slots=asyncio.Semaphore(settings.query_pool_size),
        slot_wait=settings.pool_timeout,
    )


def create_research_engine(url: str, *, timeout: float) -> AsyncEngine:
    """An engine whose connections can only read. NullPool: one per query."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A URI filename lets SQLite open the file read-only.
        parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={"uri": "true"})
        return create_async_engine(
            parsed, poolclass=NullPool, connect_args={"factory": ResearchConnection}
        )
    server_settings = {
        "application_name": APPLICATION_NAME,
        "default_transaction_read_only": "on",
        "statement_timeout": str(int(timeout * 1000)),
    }
    engine = create_async_engine(
        parsed,
        poolclass=NullPool,
        connect_args={
            "server_settings": server_settings,
            # asyncpg's per-call deadline: when it passes, asyncpg asks the
            # server to cancel the statement, whatever the SQL has SET.
            "command_timeout": timeout + CANCEL_GRACE,
        },
    )
    return engine.execution_options(postgresql_readonly=True)


# PostgreSQL roles that give powers beyond reading the five tables: files
# and programs on the server, signals to other sessions, others' queries.
_POWERFUL_ROLES = [
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_signal_backend",
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_read_all_stats",
    "pg_read_all_settings",
    "pg_monitor",
]
_LOGIN_POWERS = text(
    """
    SELECT current_user AS login,
           rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls
             AS privileged,
           ARRAY(SELECT p.rolname FROM pg_roles AS p
                 WHERE p.rolname = ANY(:powerful)
                   AND pg_has_role(current_user, p.oid, 'MEMBER')
                 ORDER BY p.rolname) AS powerful
    FROM pg_roles WHERE rolname = current_user
    """
)
_TABLE_RIGHTS = text(
    """
    SELECT has_table_privilege(:t, 'SELECT') AS reads,
           has_table_privilege(:t, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
             AS writes
    """
)


async def check_research_login(engine: AsyncEngine) -> None:
    """ResearchRefused unless the login may do no more than SELECT the tables."""
    async with engine.connect() as conn:
        powers = (await conn.execute(_LOGIN_POWERS, {"powerful": _POWERFUL_ROLES})).one()
        login = powers.login
        if powers.privileged:
            raise ResearchRefused(
                f"the research login {login} is a superuser or may create roles, "
                "databases or replicate; give MARKETSVC_QUERY_DATABASE_URL a login "
                "that may only SELECT the service's tables"
            )
        if powers.powerful:
            raise ResearchRefused(
                f"the research login {login} is a member of {', '.join(powers.powerful)}; "
                "give it no role beyond SELECT on the service's tables"
            )
        for table in TABLES:
            rights = (await conn.execute(_TABLE_RIGHTS, {"t": table})).one()
            if rights.writes:
                raise ResearchRefused(
                    f"the research login {login} may write to {table}; grant it SELECT only"
                )
            if not rights.reads:
                raise ResearchRefused(f"the research login {login} may not SELECT {table}")


# Held while one process creates or updates the research login, so that
# workers starting at once do not race on the same role (the catalog would
# answer "tuple concurrently updated").
_LOGIN_LOCK = 0x6D6B_7376_7273  # "mksvrs"


# A research query can take any advisory lock, this one too, but it ends
# (and lets go) by MARKETSVC_QUERY_TIMEOUT: start-up waits that long and a
# little more, then leaves /api/query off rather than hang.
LOGIN_LOCK_GRACE = 10.0


async def _take_login_lock(conn, wait: float) -> None:
    """Take _LOGIN_LOCK for this transaction, saying so if it has to wait."""
    params = {"key": _LOGIN_LOCK}
    if await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), params):
        return
    print(
        f"marketsvc: waiting up to {wait:g} s for the research login's lock "
        f"(advisory lock {_LOGIN_LOCK}, held by another process starting, or a research query)",
        file=sys.stderr,
        flush=True,
    )
    await conn.execute(
        text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": str(int(wait * 1000))}
    )
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), params)


def research_login_name(database: str) -> str:
    """One login per database: a role is cluster-wide, tables are not."""
    digest = hashlib.sha256(database.encode()).hexdigest()[:12]
    return f"marketsvc_research_{digest}"


def research_password(settings: Settings) -> str:
    """The same password in every worker, secret to anyone without both secrets.

    Derived from the query token and the service's own database password,
    which all workers share, so no process has to tell the others.
    """
    url = make_url(settings.database_url)
    token = settings.query_token.get_secret_value() if settings.query_token else ""
    key = f"{url.password or ''}\0{token}".encode()
    return hmac.new(key, f"research login of {url.database}".encode(), "sha256").hexdigest()


def scram_secret(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 form of a password (RFC 5802, 7677).

    Sent instead of the password, so the password itself never reaches the
    server's log or any statement log.
    """
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def ensure_research_login(service_engine: AsyncEngine, settings: Settings) -> str:
    """Create (or bring back in line) the research login; return its URL.

    Needs a service user that may create roles; otherwise ResearchRefused.
    Every start sets the login's attributes and password again, so a login
    someone widened by hand is narrowed back.
    """
    url = make_url(settings.database_url)
    login = research_login_name(url.database or "")
    password = research_password(settings)
    async with service_engine.connect() as conn:
        may_create = await conn.scalar(
            text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        )
        if not may_create:
            raise ResearchRefused(
                f"the service's database user {url.username} may not create the research "
                "login; set MARKETSVC_QUERY_DATABASE_URL to a login that may only SELECT "
                "the service's tables"
            )
        await _take_login_lock(conn, wait=settings.query_timeout + LOGIN_LOCK_GRACE)
        exists = await conn.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :login"), {"login": login}
        )
        verb = "ALTER" if exists else "CREATE"
        # Role statements take no bound parameters; the login name is ours
        # (hex digits) and the secret is base64, so neither needs quoting.
        # Sent on the driver itself: MARKETSVC_ECHO must not print it.
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(
            f"{verb} ROLE {login} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"NOREPLICATION NOBYPASSRLS PASSWORD '{scram_secret(password)}'"
        )
        await conn.exec_driver_sql(f"GRANT SELECT ON {', '.join(TABLES)} TO {login}")
        if await conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")):
            # Sorting a huge result spills to temporary files on the server.
            # Only a superuser may set this limit, and the login cannot lift it.
            await conn.exec_driver_sql(
                f"ALTER ROLE {login} SET temp_file_limit = '{RESEARCH_TEMP_FILE_LIMIT}'"
            )
        await conn.commit()
    return url.set(username=login, password=password).render_as_string(hide_password=False)


async def open_research_or_explain(
    settings: Settings, service_engine: AsyncEngine
) -> Research | ResearchRefused:
    """open_research, or the refusal, said in one line on stderr as well."""
    try:
        return await open_research(settings, service_engine)
    except ResearchRefused as refusal:
        print(f"marketsvc: POST /api/query is off: {refusal}", file=sys.stderr, flush=True)
        return refusal


# --- SQLite: a connection that can only read ------------------------------------

# What a research query may do in SQLite: read and compute, nothing else.
# (Transactions are allowed: SQLAlchemy's own BEGIN and ROLLBACK need them.)
_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
    sqlite3.SQLITE_TRANSACTION,
}
# Pragmas that only describe the schema (their argument is a table name),
# and the one setting SQLAlchemy reads when it connects (read, never set).
_READ_PRAGMAS = {"table_info", "table_xinfo", "table_list", "index_list", "index_info"}
_READ_ONLY_SETTINGS = {"read_uncommitted"}
# load_extension runs native code; fts3_tokenizer hands out (and takes) raw
# pointers; regexp is SQLAlchemy's Python function, which holds the GIL, so
# a pattern that backtracks forever would stall the whole service.
_DENIED_FUNCTIONS = {"load_extension", "fts3_tokenizer", "regexp"}


def _sqlite_authorizer(action: int, arg1, arg2, _db_name, _trigger) -> int:
    if action == sqlite3.SQLITE_PRAGMA:
        allowed = arg1 in _READ_PRAGMAS or (arg1 in _READ_ONLY_SETTINGS and arg2 is None)
    elif action == sqlite3.SQLITE_FUNCTION:
        allowed = arg2.lower() not in _DENIED_FUNCTIONS
    else:
        allowed = action in _ALLOWED_ACTIONS
    return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY


class ResearchConnection(sqlite3.Connection):
    """sqlite3's connection, locked down the moment it opens.

    sqlite3.connect(factory=...) builds it inside aiosqlite's own thread,
    the only thread that may call setlimit and set_authorizer.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        self.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS)
        # A second lock on the door: even a statement the authorizer let
        # through cannot change the database file.
        self.execute("PRAGMA query_only = ON")
        self.set_authorizer(_sqlite_authorizer)

    def cursor(self, factory=None):
        return super().cursor(factory or BoundedCursor)


class BoundedCursor(sqlite3.Cursor):
    """A cursor whose fetchmany stops early once a batch holds BATCH_BYTES."""

    def fetchmany(self, size=None):
        size = size or self.arraysize
        rows, room = [], BATCH_BYTES
        while len(rows) < size and room > 0:
            row = self.fetchone()
            if row is None:
                break
            rows.append(row)
            room -= row_size(row)
        return rows


class _Deadline:
    """The moment a query's time is up, set once when it starts."""

    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def passed(self) -> bool:
        return time.monotonic() > self.at


def row_size(values, limit: int = MAX_ROW_BYTES) -> int:
    """Roughly the bytes of a row's values; counting stops once past `limit`."""
    size = 0
    for value in values:
        if isinstance(value, str | bytes | bytearray | memoryview):
            size += len(value)
        elif isinstance(value, dict):  # json columns
            size += row_size(value.keys(), limit - size) + row_size(value.values(), limit - size)
        elif isinstance(value, list | tuple):  # arrays
            size += row_size(value, limit - size)
        else:
            size += 8
        if size > limit:
            break
    return size


def _checked(batch: Sequence[Row] | None) -> Sequence[Row] | None:
    """The batch, unless one of its rows is larger than MAX_ROW_BYTES."""
    for row in batch or ():
        if row_size(row) > MAX_ROW_BYTES:
            raise QueryFailed(
                f"a row is larger than {MAX_ROW_BYTES:,} bytes; select less of it "
                "(substr, length, md5)"
            )
    return batch


# --- running a query -------------------------------------------------------------


async def run_query(research: Research, sql: str) -> AsyncIterator[Sequence[Row]]:
    """Yield the statement's rows in batches, as dicts keyed by column name.

    Raises ResearchBusy when every slot stays taken, QueryFailed before the
    first batch when the database rejects the statement; after that, an
    error propagates as it is and aborts the response that streams the rows.
    """
    try:
        async with asyncio.timeout(research.slot_wait):
            await research.slots.acquire()
    except TimeoutError:
        raise ResearchBusy from None
    try:
        # aclosing: when the response ends early, the connection is closed
        # right here, before its slot is given back.
        async with aclosing(_rows(research, sql)) as batches:
            async for batch in batches:
                yield batch
    finally:
        research.slots.release()


async def _rows(research: Research, sql: str) -> AsyncIterator[Sequence[Row]]:
    deadline = _Deadline(research.timeout)
    try:
        conn = await research.engine.connect()
    except (*DATABASE_ERRORS, OSError) as exc:  # the server is full, or away
        message = _database_message(exc)
        raise ResearchBusy(f"the database refused a research connection ({message})") from None
    sqlite = research.engine.dialect.name == "sqlite"
    try:
        try:
            driver = (await conn.get_raw_connection()).driver_connection
            if sqlite:
                # SQLite calls this every 10 000 steps of its virtual machine;
                # a true answer interrupts the statement, wherever it is.
                await driver.set_progress_handler(deadline.passed, 10_000)
            # text() treats ":name" as a parameter; research SQL has none.
            result = await _in_time(
                driver, deadline, lambda: conn.stream(text(sql.replace(":", r"\:")))
            )
            try:
                columns = list(result.keys())
            except ResourceClosedError:  # e.g. SET: it ran, and returns nothing
                raise QueryFailed("the statement returns no rows; send a query") from None
            batches = result.partitions(STREAM_BATCH_ROWS if sqlite else PG_BATCH_ROWS)
            batch = _checked(await _in_time(driver, deadline, lambda: anext(batches, [])))
        except TimeoutError:
            raise QueryFailed(_too_long(research.timeout)) from None
        except DATABASE_ERRORS as exc:
            if deadline.passed():  # SQLite's own word for it is "interrupted"
                raise QueryFailed(_too_long(research.timeout)) from None
            raise QueryFailed(_database_message(exc)) from None
        while batch:
            yield [dict(zip(columns, row, strict=True)) for row in batch]
            # However slowly the client reads, the time is the query's, not
            # each fetch's: a fetch gets what is left of it.
            try:
                batch = _checked(await _in_time(driver, deadline, lambda: anext(batches, None)))
            except TimeoutError:
                raise QueryFailed(_too_long(research.timeout)) from None
    finally:
        await uncancelled(conn.close())


async def _in_time(driver, deadline: _Deadline, fetch: Callable[[], Awaitable]):
    """Await a fetch for the query's remaining time at most, or TimeoutError.

    Run to its end whatever cancels the response meanwhile (uncancelled). On
    PostgreSQL, asyncpg's own per-call deadline becomes the time the query
    has left: when it passes, asyncpg asks the server to cancel the
    statement. A SQLite fetch is left to the progress handler, which
    interrupts it at the deadline.
    """
    if deadline.passed():
        raise TimeoutError
    if isinstance(driver, asyncpg.Connection):
        # asyncpg reads command_timeout from its settings at every call.
        driver._config = driver._config._replace(command_timeout=deadline.left() + CANCEL_GRACE)
    return await uncancelled(fetch())


# Errors of the database itself. Most arrive wrapped in SQLAlchemy's
# DBAPIError; a server-side cursor's fetch can raise the driver's own.
DATABASE_ERRORS = (DBAPIError, sqlite3.Error, asyncpg.PostgresError)


def _too_long(timeout: float) -> str:
    return f"the query ran longer than MARKETSVC_QUERY_TIMEOUT ({timeout:g} s) and was cancelled"


def _database_message(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    message = str(orig).strip() or type(orig).__name__
    # asyncpg prefixes its class name; the database's own words follow.
    return message.split(": ", 1)[-1] if message.startswith("<class") else message
