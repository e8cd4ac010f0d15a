"""SQLAlchemy on the pinned version (pages 2, 3, 4, 6, 7, 9 and 10).

Real SQLite files; the tests that take `any_url` run on PostgreSQL too when
MARKETSVC_TEST_DATABASE_URL names a server.
"""

import asyncio
import logging
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    MetaData,
    Numeric,
    Table,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.exc import (
    IntegrityError,
    InvalidRequestError,
    PendingRollbackError,
    SAWarning,
    TimeoutError,
)
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    raiseload,
    relationship,
    selectinload,
)
from sqlalchemy.orm.exc import DetachedInstanceError
from sqlalchemy.schema import CreateTable


class Base(DeclarativeBase):
    pass


class Parent(Base):
    __tablename__ = "parent"
    id: Mapped[int] = mapped_column(primary_key=True)
    children: Mapped[list["Child"]] = relationship(back_populates="parent")


class Child(Base):
    __tablename__ = "child"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("parent.id"))
    parent: Mapped[Parent] = relationship(back_populates="children")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A SQLite file with three parents of two children each."""
    path = tmp_path / "claims.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent);"
            "INSERT INTO parent VALUES (1), (2), (3);"
            "INSERT INTO child VALUES (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3);"
        )
    conn.close()
    return path


def sent_statements(engine) -> list[str]:
    """Every statement `engine` sends from now on, as the driver gets it."""
    sent: list[str] = []
    sync_engine = getattr(engine, "sync_engine", engine)
    event.listen(sync_engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def verbs(statements: list[str]) -> list[str]:
    return [statement.split()[0] for statement in statements]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, database: Path) -> str:
    """The async URL of the SQLite file, then of the PostgreSQL server (skipped without one)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{database}"
    return request.getfixturevalue("postgresql_url")


SLOW_QUERY = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
    " WHERE i < 3000000) SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(1)",
}


# --- page 2: the compiled cache, and what reaches SQLite ---------------------


def test_the_compiled_cache_is_keyed_on_the_statement_not_the_object(database, caplog):
    engine = create_engine(f"sqlite:///{database}")
    sql = "SELECT id FROM parent WHERE id = :id"
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        for parent_id in (1, 2):
            with engine.connect() as conn:
                conn.execute(text(sql), {"id": parent_id})  # a new text() each time
    stats = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[")]
    assert stats[0].startswith("[generated in")
    assert stats[1].startswith("[cached since")


def test_a_read_sends_no_begin_and_no_rollback_to_sqlite(database, caplog):
    engine = create_engine(f"sqlite:///{database}")
    executed: list[str] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(executed.append)

    with (
        caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"),
        engine.connect() as conn,
    ):
        conn.execute(text("SELECT count(*) FROM parent"))
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0] == "BEGIN (implicit)" and logged[-1] == "ROLLBACK"  # in the log
    assert executed == ["SELECT count(*) FROM parent"]  # what SQLite ran


# --- page 3: flushes, detached objects, back_populates ---------------------------


def test_the_annotation_decides_not_null():
    """Mapped[str] makes a NOT NULL column, Mapped[str | None] a nullable one."""

    class Typed(DeclarativeBase):
        pass

    class Item(Typed):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str]
        description: Mapped[str | None]

    ddl = str(CreateTable(Item.__table__).compile(create_engine("sqlite://")))
    assert "\tname VARCHAR NOT NULL," in ddl
    assert "\tdescription VARCHAR," in ddl


def test_autoflush_writes_before_a_query_and_commit_writes_the_rest(database):
    """session.add() sends nothing. Pending objects are flushed before a query
    that goes to the database (session.get of an object not yet loaded is one)
    and at commit; a get() that the identity map answers sends nothing at all
    (while the object is referenced: the map holds it weakly, see page 7)."""
    engine = create_engine(f"sqlite:///{database}")
    sent = sent_statements(engine)
    with Session(engine) as session:
        session.add(Child(id=7, parent_id=1))
        assert sent == []
        second = session.get(Parent, 2)
        assert verbs(sent) == ["INSERT", "SELECT"]  # autoflush, then the query
        sent.clear()
        session.add(Child(id=8, parent_id=1))
        assert session.get(Parent, 2) is second  # from the identity map
        assert sent == []
        session.commit()
        assert verbs(sent) == ["INSERT"]


def test_a_detached_object_cannot_load_what_it_lacks(database):
    """Once the session is closed, touching a relationship that was not
    loaded, or an attribute that commit expired, raises DetachedInstanceError."""
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        parent = session.get(Parent, 1)
    with pytest.raises(DetachedInstanceError, match="lazy load operation"):
        parent.children  # noqa: B018 -- touching is the point
    with Session(engine) as session:
        parent = session.get(Parent, 1)
        session.commit()  # expires every attribute
    with pytest.raises(DetachedInstanceError, match="refresh operation"):
        parent.id  # noqa: B018


def test_without_back_populates_the_other_side_waits_for_a_flush(database):
    """Two relationships over one foreign key without back_populates: SQLAlchemy
    warns that both write the same column, and appending to the collection
    leaves the other side None until a flush has written the foreign key."""

    class Unlinked(DeclarativeBase):
        pass

    class Folder(Unlinked):
        __tablename__ = "parent"
        id: Mapped[int] = mapped_column(primary_key=True)
        files: Mapped[list["File"]] = relationship()

    class File(Unlinked):
        __tablename__ = "child"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(ForeignKey("parent.id"))
        folder: Mapped[Folder] = relationship()

    with Session(create_engine(f"sqlite:///{database}")) as session:
        with pytest.warns(SAWarning, match="back_populates"):
            folder = session.get(Folder, 1)
        new = File(id=7)
        folder.files.append(new)
        assert new.folder is None
        session.flush()
        assert new.folder is folder  # loaded through the parent_id the flush wrote


# --- page 4: loader strategies ---------------------------------------------------


def test_joinedload_is_a_left_outer_join_unless_told_innerjoin(database):
    engine = create_engine(f"sqlite:///{database}")
    sent = sent_statements(engine)
    with Session(engine) as session:
        session.scalars(select(Child).options(joinedload(Child.parent))).all()
        session.scalars(select(Child).options(joinedload(Child.parent, innerjoin=True))).all()
    assert "FROM child LEFT OUTER JOIN parent AS parent_1" in sent[0]
    assert "FROM child JOIN parent AS parent_1" in sent[1]


def test_a_joined_collection_repeats_each_parent_and_needs_unique(database):
    """joinedload of a one-to-many sends one row per child (the parent's columns
    repeated), and its result must go through .unique() to fold them back."""
    engine = create_engine(f"sqlite:///{database}")
    sent = sent_statements(engine)
    statement = select(Parent).options(joinedload(Parent.children))
    with Session(engine) as session:
        with pytest.raises(InvalidRequestError, match="unique\\(\\) method must be invoked"):
            session.scalars(statement).all()
        parents = session.scalars(statement).unique().all()
        rows = session.connection().exec_driver_sql(sent[-1]).all()
    assert (len(parents), len(rows)) == (3, 6)


def test_selectinload_sends_its_in_list_in_chunks_of_500(database):
    with sqlite3.connect(database) as conn:
        conn.executemany("INSERT INTO parent VALUES (?)", [(n,) for n in range(4, 1002)])
    conn.close()
    engine = create_engine(f"sqlite:///{database}")
    sent = sent_statements(engine)
    with Session(engine) as session:
        parents = session.scalars(select(Parent).options(selectinload(Parent.children))).all()
    assert len(parents) == 1001
    assert [statement.count("?") for statement in sent[1:]] == [500, 500, 1]


def test_raiseload_makes_touching_the_relationship_raise(database):
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        parent = session.scalars(select(Parent).options(raiseload(Parent.children))).first()
        with pytest.raises(InvalidRequestError, match="not available due to lazy='raise'"):
            parent.children  # noqa: B018


# --- page 6: async engines, pools, cancellation --------------------------------------


def test_aiosqlite_runs_each_connection_on_a_thread_of_its_own(database):
    """Each connection's SQLite calls run on its own thread, not the loop's."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.run_async(
            lambda conn: conn.create_function("thread_id", 0, threading.get_ident)
        )

    async def scenario() -> tuple[int, int, int]:
        try:
            async with engine.connect() as first, engine.connect() as second:
                one = await first.scalar(text("SELECT thread_id()"))
                two = await second.scalar(text("SELECT thread_id()"))
                return one, two, threading.get_ident()
        finally:
            await engine.dispose()

    one, two, loop_thread = asyncio.run(scenario())
    assert len({one, two, loop_thread}) == 3


def test_an_aiosqlite_read_sends_no_begin_and_no_rollback(database, caplog):
    """Through aiosqlite as through sqlite3: BEGIN (implicit) and ROLLBACK are
    SQLAlchemy's log lines; SQLite itself runs the SELECT alone."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    executed: list[str] = []

    @event.listens_for(engine.sync_engine, "connect")
    def trace(dbapi_connection, _record) -> None:
        dbapi_connection.run_async(lambda conn: conn.set_trace_callback(executed.append))

    async def scenario() -> None:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT count(*) FROM parent"))
        finally:
            await engine.dispose()

    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        asyncio.run(scenario())
    logged = [r.getMessage() for r in caplog.records]
    assert logged[0] == "BEGIN (implicit)" and logged[-1] == "ROLLBACK"
    assert executed == ["SELECT count(*) FROM parent"]


def test_conn_stream_fetches_rows_as_they_are_asked_for(database):
    """conn.stream() reads from the cursor as the partitions are asked for;
    conn.execute() has fetched every row before it returns. A SQL function
    counts the rows SQLite has produced."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    produced: list[int] = []
    rows = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)"
        " SELECT produce(i) FROM n"
    )

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        def produce(n: int) -> int:
            produced.append(n)
            return n

        dbapi_connection.run_async(lambda conn: conn.create_function("produce", 1, produce))

    async def scenario() -> tuple[int, int, int]:
        try:
            async with engine.connect() as conn:
                result = await conn.stream(rows)
                first = await anext(result.partitions(10))
                streamed = len(produced)
                await result.close()
                produced.clear()
                await conn.execute(rows)
                return len(first), streamed, len(produced)
        finally:
            await engine.dispose()

    batch, streamed, executed = asyncio.run(scenario())
    assert batch == 10
    assert streamed in (10, 11)  # the first batch (sqlite3 steps one row ahead), not 1000
    assert executed == 1000


def test_the_default_async_pool_lends_5_plus_10_and_keeps_5(database):
    """5 connections stay in the pool, 10 more are opened under a burst; the
    next caller waits pool_timeout and gets SQLAlchemy's TimeoutError; the
    extra 10 are closed as they come back to the full pool."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}", pool_timeout=0.1)

    async def scenario() -> tuple[int, int]:
        held = [await engine.connect() for _ in range(15)]
        try:
            with pytest.raises(TimeoutError, match="QueuePool limit of size 5 overflow 10"):
                await engine.connect()
        finally:
            for conn in held:
                await conn.close()
        kept = engine.pool.checkedin()
        await engine.dispose()
        return len(held), kept

    assert asyncio.run(scenario()) == (15, 5)


def pool_events(engine) -> list[str]:
    """What the engine's pool does from now on: checkout, invalidate, checkin."""
    seen: list[str] = []
    for name in ("checkout", "invalidate", "checkin"):
        event.listen(engine.sync_engine.pool, name, lambda *_, name=name: seen.append(name))
    return seen


def test_a_query_cancelled_in_the_driver_call_loses_its_connection(any_url):
    """Task.cancel() while the driver runs a statement: SQLAlchemy cannot know
    the connection's state and invalidates it (closes it, not back to the pool)."""
    engine = create_async_engine(any_url)
    seen = pool_events(engine)

    async def scenario() -> None:
        in_the_driver = asyncio.Event()
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: in_the_driver.set())

        async def slow() -> None:
            async with engine.connect() as conn:
                await conn.execute(text(SLOW_QUERY[engine.dialect.name]))

        try:
            task = asyncio.create_task(slow())
            await in_the_driver.wait()  # the statement is in the driver's hands
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    assert seen == ["checkout", "invalidate", "checkin"]


def test_async_with_finishes_the_close_whatever_cancels_it(any_url):
    """The close at the end of `async with engine.connect()` runs in a task of
    its own that SQLAlchemy waits for (the idea of step 6's uncancelled): two
    cancel()s, one while the block waits and one during the close's ROLLBACK,
    cut nothing off; the cancellation goes on once the connection is back."""
    engine = create_async_engine(any_url)
    seen = pool_events(engine)

    async def scenario() -> None:
        inside = asyncio.Event()

        async def hold() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                inside.set()
                await asyncio.sleep(10)  # the first cancel() lands here

        try:
            task = asyncio.create_task(hold())
            # The second, while the close's ROLLBACK is on its way.
            event.listen(engine.sync_engine, "rollback", lambda _conn: task.cancel())
            await inside.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    assert seen == ["checkout", "checkin"]


def test_tasks_sharing_one_async_connection_wait_for_each_other(any_url):
    """Two tasks on one AsyncConnection both get their answers: on aiosqlite
    the statements queue on the connection's thread, on asyncpg behind a lock
    of SQLAlchemy's adapter (asyncpg itself refuses, see test_postgresql.py)."""
    engine = create_async_engine(any_url)

    async def scenario() -> list[int]:
        try:
            async with engine.connect() as conn:

                async def ask(n: int) -> int:
                    return await conn.scalar(text(f"SELECT {n}"))

                return await asyncio.gather(ask(1), ask(2))
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == [1, 2]


# --- page 7: streaming ORM objects --------------------------------------------


def stream_parents(database: Path, **options) -> tuple[list[tuple[int, int]], list[str]]:
    """Stream every parent: (id, parents built so far) for each, and the SQL sent."""
    built: list[int] = []
    sent: list[str] = []

    def on_load(parent, _context) -> None:
        built.append(parent.id)

    async def scenario() -> list[tuple[int, int]]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
        event.listen(
            engine.sync_engine, "before_cursor_execute", lambda *args: sent.append(args[2])
        )
        seen = []
        try:
            async with async_sessionmaker(engine)() as session:
                statement = select(Parent).order_by(Parent.id).execution_options(**options)
                if options.pop("eager", False):
                    statement = statement.options(selectinload(Parent.children))
                async for parent in await session.stream_scalars(statement):
                    seen.append((parent.id, len(built)))
        finally:
            await engine.dispose()
        return seen

    event.listen(Parent, "load", on_load)
    try:
        return asyncio.run(scenario()), sent
    finally:
        event.remove(Parent, "load", on_load)


def test_stream_scalars_without_yield_per_builds_every_object_first(database):
    seen, _ = stream_parents(database)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_stream_scalars_with_yield_per_builds_objects_batch_by_batch(database):
    seen, _ = stream_parents(database, yield_per=1)
    assert seen == [(1, 1), (2, 2), (3, 3)]


def test_selectinload_on_a_stream_runs_once_per_batch(database):
    _, sent = stream_parents(database, yield_per=2, eager=True)
    # The parents, then the children of each batch: parents 1-2, then 3.
    assert len(sent) == 3
    assert sum("FROM child" in statement for statement in sent) == 2


def test_the_identity_map_holds_objects_weakly(database):
    async def scenario() -> tuple[int, int]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with async_sessionmaker(engine)() as session:
                parent = await session.get(Parent, 1)
                held = len(session.identity_map)
                del parent
                return held, len(session.identity_map)
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == (1, 0)


def test_commit_expires_every_object_so_the_next_read_reloads_it(database):
    """By default (expire_on_commit=True) a commit forgets every loaded value:
    reading one afterwards starts a transaction and reloads the row. Under
    asyncio that reload is an implicit query, refused like a lazy load."""
    engine = create_engine(f"sqlite:///{database}")
    sent = sent_statements(engine)
    with Session(engine) as session:
        parent = session.get(Parent, 1)
        session.commit()
        sent.clear()
        assert parent.id == 1
    assert verbs(sent) == ["SELECT"]
    with Session(engine, expire_on_commit=False) as session:
        parent = session.get(Parent, 1)
        session.commit()
        sent.clear()
        assert parent.id == 1
    assert sent == []


def test_sqlite_writes_an_offset_beside_every_limit(database):
    engine = create_engine(f"sqlite:///{database}")
    sent: list[tuple] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2:4]))
    with engine.connect() as conn:
        conn.execute(select(Parent.id).limit(2))
    assert sent == [("SELECT parent.id \nFROM parent\n LIMIT ? OFFSET ?", (2, 0))]


# --- page 9: a failed flush ------------------------------------------------------


def test_after_a_failed_flush_the_session_refuses_work_until_rolled_back(database):
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        session.add(Parent(id=1))  # taken
        with pytest.raises(IntegrityError):
            session.flush()
        with pytest.raises(PendingRollbackError, match=r"first issue Session\.rollback"):
            session.scalars(select(Parent)).all()
        session.rollback()
        assert session.scalars(select(Parent.id)).all() == [1, 2, 3]


# --- page 10: what a transaction sees of commits made during it ---------------


async def counts_around_a_commit_on(engine) -> tuple[int, int]:
    """Count rows twice in one transaction, with another connection's commit between."""
    async with engine.begin() as setup:
        await setup.execute(text("CREATE TABLE IF NOT EXISTS claim_seen (id INTEGER)"))
        await setup.execute(text("DELETE FROM claim_seen"))
    async with engine.connect() as reader, engine.connect() as writer:
        await reader.begin()
        before = await reader.scalar(text("SELECT count(*) FROM claim_seen"))
        await writer.execute(text("INSERT INTO claim_seen VALUES (1)"))
        await writer.commit()
        after = await reader.scalar(text("SELECT count(*) FROM claim_seen"))
        await reader.rollback()
    async with engine.begin() as cleanup:
        await cleanup.execute(text("DROP TABLE claim_seen"))
    return before, after


def test_a_sqlite_transaction_reads_one_snapshot(database):
    # Set up as the service does: WAL, so that the reader does not block the
    # writer, and a real BEGIN (sqlite3 on its own sends none before a read,
    # and each statement would then see every commit).
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")

    @event.listens_for(engine.sync_engine, "connect")
    def like_the_service(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode = WAL")

    @event.listens_for(engine.sync_engine, "begin")
    def begin(conn) -> None:
        conn.exec_driver_sql("BEGIN")

    async def scenario() -> tuple[int, int]:
        try:
            return await counts_around_a_commit_on(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == (0, 0)


def test_a_postgresql_read_committed_transaction_sees_each_commit(postgresql_url):
    async def scenario() -> tuple[int, int]:
        engine = create_async_engine(postgresql_url)  # READ COMMITTED, the default
        try:
            return await counts_around_a_commit_on(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == (0, 1)


def test_numeric_on_sqlite_reads_back_rounded_to_its_scale(database):
    """SQLite keeps NUMERIC values as floats and computes with them; a column
    typed Numeric(10, 2) turns what it reads into a Decimal rounded to 2 places."""
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, price NUMERIC(10, 2))")
        conn.execute("INSERT INTO item (price) VALUES (0.10)")
        raw = conn.execute("SELECT price * 3 FROM item").fetchone()[0]
    conn.close()
    item = Table(
        "item", MetaData(), Column("id", primary_key=True), Column("price", Numeric(10, 2))
    )
    with create_engine(f"sqlite:///{database}").connect() as conn:
        read = conn.scalar(select(item.c.price * 3))
    assert raw == 0.30000000000000004
    assert read == Decimal("0.30") and isinstance(read, Decimal)


def test_skip_autocommit_rollback_would_skip_a_begin_that_sqlite3_did_not_send(database):
    """skip_autocommit_rollback trusts the dialect's word for "autocommit"; for
    sqlite3 that word is isolation_level None, which is also how a service
    that sends its own BEGIN sets the driver up (page 10). So the ROLLBACK
    of that BEGIN is skipped too and the transaction stays open, unless the
    dialect is told what matters: whether SQLite has a transaction open."""

    def open_after_rollback(check=None) -> bool:
        engine = create_engine(f"sqlite:///{database}", skip_autocommit_rollback=True)
        if check is not None:
            engine.dialect.detect_autocommit_setting = check

        @event.listens_for(engine, "connect")
        def own_transactions(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def begin(conn) -> None:
            conn.exec_driver_sql("BEGIN")

        with engine.connect() as conn:
            conn.execute(text("INSERT INTO parent VALUES (4)"))
            conn.rollback()
            still_open = conn.connection.driver_connection.in_transaction
        engine.dispose()
        return still_open

    assert open_after_rollback() is True
    assert open_after_rollback(lambda dbapi: not dbapi.driver_connection.in_transaction) is False
