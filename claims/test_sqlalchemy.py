"""SQLAlchemy on the pinned version (pages 2, 7 and 10)."""

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, create_engine, event, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload


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
