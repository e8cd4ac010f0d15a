"""PostgreSQL's own rules, and asyncpg's (pages 6, 8 and 10, and the environment page).

Each test needs a server: MARKETSVC_TEST_DATABASE_URL (see conftest.py).
"""

import asyncio
import logging
import uuid

import asyncpg
import pytest
from sqlalchemy import Integer, bindparam, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg itself takes it, without SQLAlchemy's driver name."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_read_only_transaction_does_not_stop_a_superuser(postgresql_url):
    # Why research queries need a login of their own: inside READ ONLY, a
    # superuser still reads the server's files and runs programs on it (the
    # program reads what COPY writes: one that exits first breaks the pipe).
    async def as_superuser() -> list:
        engine = create_async_engine(postgresql_url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SET TRANSACTION READ ONLY"))
                await conn.execute(text("COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'"))
                version = await conn.scalar(text("SELECT pg_read_file('PG_VERSION')"))
                read_only = await conn.scalar(text("SHOW transaction_read_only"))
                return [version.strip().isdigit(), read_only]
        finally:
            await engine.dispose()

    assert asyncio.run(as_superuser()) == [True, "on"]


def test_a_read_only_transaction_refuses_a_write(postgresql_url):
    table = f"claim_orders_{uuid.uuid4().hex[:8]}"  # a real table: temporary ones may be written

    async def scenario() -> None:
        conn = await asyncpg.connect(asyncpg_dsn(postgresql_url))
        try:
            await conn.execute(f"CREATE TABLE {table} (id integer)")
            async with conn.transaction(readonly=True):
                await conn.execute(f"DELETE FROM {table}")
        finally:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
            await conn.close()

    with pytest.raises(asyncpg.ReadOnlySQLTransactionError) as caught:
        asyncio.run(scenario())
    assert str(caught.value) == "cannot execute DELETE in a read-only transaction"


def test_asyncpg_placeholders_are_numbered_and_typed(postgresql_url, tmp_path, caplog):
    """The same statement, as SQLAlchemy's log prints it for aiosqlite and for asyncpg."""
    statement = select(bindparam("order_id", 2, type_=Integer))

    async def run(url: str) -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(statement)
        finally:
            await engine.dispose()

    printed = []
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'claims.db'}", postgresql_url):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            asyncio.run(run(url))
        printed += [r.getMessage() for r in caplog.records if "anon_1" in r.getMessage()]
    assert printed == ["SELECT ? AS anon_1", "SELECT $1::INTEGER AS anon_1"]


def test_asyncpg_refuses_a_second_statement_while_one_runs(postgresql_url):
    """One connection, one statement at a time: asyncpg on its own says so.
    (Through SQLAlchemy the second waits its turn instead, see
    test_sqlalchemy.py::test_tasks_sharing_one_async_connection_wait_for_each_other.)"""

    async def scenario() -> list:
        conn = await asyncpg.connect(asyncpg_dsn(postgresql_url))
        try:
            return await asyncio.gather(
                conn.fetchval("SELECT pg_sleep(0.2)"),
                conn.fetchval("SELECT 2"),
                return_exceptions=True,
            )
        finally:
            await conn.close()

    first, second = asyncio.run(scenario())
    assert first is None  # pg_sleep's answer
    assert isinstance(second, asyncpg.InterfaceError)
    assert "another operation is in progress" in str(second)


def test_asyncpg_sees_a_connection_the_server_closed_without_a_query(postgresql_url):
    """When the server ends a connection (a restart, pg_terminate_backend),
    asyncpg notices as soon as the event loop reads the socket's end:
    is_closed() turns true with no statement sent on that connection."""

    async def scenario() -> tuple[bool, bool]:
        victim = await asyncpg.connect(asyncpg_dsn(postgresql_url))
        admin = await asyncpg.connect(asyncpg_dsn(postgresql_url))
        try:
            before = victim.is_closed()
            await admin.execute("SELECT pg_terminate_backend($1)", victim.get_server_pid())
            for _ in range(1000):  # let the loop read; at most 10 s
                if victim.is_closed():
                    break
                await asyncio.sleep(0.01)
            return before, victim.is_closed()
        finally:
            await admin.close()
            victim.terminate()

    assert asyncio.run(scenario()) == (False, True)


def test_pool_pre_ping_on_asyncpg_is_three_round_trips(postgresql_url):
    """With pool_pre_ping, each checkout of a pooled connection first sends
    BEGIN, an empty statement and ROLLBACK: what asyncpg reports running."""
    engine = create_async_engine(postgresql_url, pool_pre_ping=True)
    ran: list[str] = []

    @event.listens_for(engine.sync_engine, "connect")
    def log_queries(dbapi_connection, _record) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda record: ran.append(record.query))

    async def scenario() -> None:
        try:
            async with engine.connect():
                pass  # a new connection: nothing to ping
            ran.clear()
            async with engine.connect():
                pass  # from the pool: pinged
            await asyncio.sleep(0)  # asyncpg reports through call_soon: let those run
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    assert ran[:3] == ["BEGIN;", ";", "ROLLBACK;"]


def test_an_identity_by_default_takes_explicit_ids_without_advancing(postgresql_url):
    """BY DEFAULT lets explicit ids in (ALWAYS refuses them), and they do not
    move the sequence on: the next generated id collides until setval(...,
    false) says which value comes next."""

    async def scenario() -> list:
        conn = await asyncpg.connect(asyncpg_dsn(postgresql_url))
        try:
            await conn.execute(
                "CREATE TEMPORARY TABLE claim_by_default"
                " (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text)"
            )
            await conn.execute(
                "CREATE TEMPORARY TABLE claim_always"
                " (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY)"
            )
            await conn.execute("INSERT INTO claim_by_default VALUES (1, 'sample'), (2, 'sample')")
            seen = []
            for insert in (
                "INSERT INTO claim_always (id) VALUES (1)",
                "INSERT INTO claim_by_default (name) VALUES ('new')",
            ):
                try:
                    await conn.execute(insert)
                except asyncpg.PostgresError as error:
                    seen.append(type(error).__name__)
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('claim_by_default', 'id'),"
                " COALESCE(MAX(id), 0) + 1, false) FROM claim_by_default"
            )
            seen.append(
                await conn.fetchval(
                    "INSERT INTO claim_by_default (name) VALUES ('new') RETURNING id"
                )
            )
            return seen
        finally:
            await conn.close()

    assert asyncio.run(scenario()) == ["GeneratedAlwaysError", "UniqueViolationError", 3]


def test_a_later_id_can_commit_first(postgresql_url):
    """Ids come from the sequence when a row is inserted, not when it commits:
    a reader can see order 2 while order 1 is still being written."""
    table = f"claim_orders_{uuid.uuid4().hex[:8]}"

    async def scenario() -> list[int]:
        first, second, reader = [await asyncpg.connect(asyncpg_dsn(postgresql_url)) for _ in "abc"]
        try:
            await reader.execute(
                f"CREATE TABLE {table} (id integer GENERATED BY DEFAULT AS IDENTITY)"
            )
            slow = first.transaction()
            await slow.start()
            assert await first.fetchval(f"INSERT INTO {table} DEFAULT VALUES RETURNING id") == 1
            assert await second.fetchval(f"INSERT INTO {table} DEFAULT VALUES RETURNING id") == 2
            visible = [row["id"] for row in await reader.fetch(f"SELECT id FROM {table}")]
            await slow.commit()
            return visible
        finally:
            await reader.execute(f"DROP TABLE IF EXISTS {table}")
            for conn in (first, second, reader):
                await conn.close()

    assert asyncio.run(scenario()) == [2]


def test_a_notify_is_delivered_only_when_its_transaction_commits(postgresql_url):
    channel = f"claim_{uuid.uuid4().hex[:8]}"

    async def scenario() -> list[str]:
        listener = await asyncpg.connect(asyncpg_dsn(postgresql_url))
        sender = await asyncpg.connect(asyncpg_dsn(postgresql_url))
        received: asyncio.Queue[str] = asyncio.Queue()
        try:
            await listener.add_listener(channel, lambda *args: received.put_nowait(args[3]))
            for payload, commit in (("rolled back", False), ("committed", True)):
                transaction = sender.transaction()
                await transaction.start()
                await sender.execute("SELECT pg_notify($1, $2)", channel, payload)
                await (transaction.commit() if commit else transaction.rollback())
            # Notifications arrive in the order they were committed: the first
            # one to come is the proof that the rolled-back one never will.
            return [await asyncio.wait_for(received.get(), timeout=10)]
        finally:
            await sender.close()
            await listener.close()

    assert asyncio.run(scenario()) == ["committed"]
