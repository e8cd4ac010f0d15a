"""The pool under steady load: every connection it opens stays open."""

import asyncio

from sqlalchemy import event, text
from sqlalchemy.pool import NullPool

from marketsvc.config import Settings
from marketsvc.db.engine import create_engine, single_statement

CONCURRENT = 32  # more requests at once than the pool has connections


def test_load_above_the_pool_size_queues_instead_of_opening_connections(database_url):
    settings = Settings(database_url=database_url)
    assert settings.pool_size < CONCURRENT
    opened, closed = [], []

    async def run() -> None:
        engine = create_engine(
            database_url, pool_size=settings.pool_size, pool_overflow=settings.pool_overflow
        )
        event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
        event.listen(engine.sync_engine, "close", lambda *_: closed.append(1))
        reader = single_statement(engine)

        async def requests() -> None:
            for _ in range(20):
                async with reader.connect() as conn:
                    assert await conn.scalar(text("SELECT 1")) == 1

        try:
            await asyncio.gather(*(requests() for _ in range(CONCURRENT)))
        finally:
            await engine.dispose()

    asyncio.run(run())
    # 640 checkouts, never more connections than the pool keeps, none
    # closed before dispose() closes them all.
    assert 1 <= len(opened) <= settings.pool_size
    assert len(closed) == len(opened)


def test_a_dead_pooled_connection_is_replaced_before_the_request_sees_it(database_url):
    if database_url.startswith("sqlite"):
        return  # nothing outside the process can close a SQLite connection

    async def run() -> tuple[int, int]:
        engine = create_engine(database_url, pool_size=1)
        killer = create_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                before = await conn.scalar(text("SELECT pg_backend_pid()"))
            # The pooled connection dies while it waits in the pool.
            async with killer.connect() as conn:
                # The timeout: it returns once the backend has exited.
                await conn.execute(
                    text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": before}
                )
            await asyncio.sleep(0.2)
            async with engine.connect() as conn:  # no error: the ping replaced it
                after = await conn.scalar(text("SELECT pg_backend_pid()"))
            return before, after
        finally:
            await engine.dispose()
            await killer.dispose()

    before, after = asyncio.run(run())
    assert after != before


class AiosqliteCalls:
    """The calls each aiosqlite connection hands to its thread, by name."""

    def __init__(self, monkeypatch):
        import aiosqlite.core

        self.names: list[str] = []
        handing_over = aiosqlite.core.Connection._execute

        async def recorded(connection, function, *args, **kwargs):
            self.names.append(getattr(function, "__name__", repr(function)))
            return await handing_over(connection, function, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.core.Connection, "_execute", recorded)


def test_a_sqlite_read_goes_back_to_the_pool_without_a_rollback_hop(tmp_path, monkeypatch):
    """No BEGIN was sent, so there is nothing to roll back: no hop for it."""
    calls = AiosqliteCalls(monkeypatch)

    async def run() -> list[str]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}", pool_size=1)
        try:
            async with single_statement(engine).connect() as conn:
                await conn.scalar(text("SELECT 1"))  # opens the connection
            calls.names.clear()
            async with single_statement(engine).connect() as conn:
                assert (await conn.execute(text("SELECT 2"))).all() == [(2,)]
            return list(calls.names)
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == ["cursor", "execute", "fetchall", "close"]


def test_a_failed_sqlite_write_is_still_rolled_back_before_its_connection_is_reused(tmp_path):
    """The skipped ROLLBACK is only ever the one with no transaction open."""
    from marketsvc.db.engine import write_transaction

    async def run() -> tuple[int, bool]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writes.db'}", pool_size=1)
        try:
            async with write_transaction(engine) as conn:
                await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            try:
                async with write_transaction(engine) as conn:
                    await conn.execute(text("INSERT INTO t VALUES (1)"))
                    raise LookupError("the request fails half-way")
            except LookupError:
                pass
            # The pool's only connection again: left inside the failed
            # transaction, its BEGIN IMMEDIATE would fail, and the row stay.
            async with write_transaction(engine) as conn:
                await conn.execute(text("INSERT INTO t VALUES (2)"))
            async with engine.connect() as conn:  # a read in a transaction: BEGIN, then ROLLBACK
                await conn.scalar(text("SELECT count(*) FROM t"))
            async with single_statement(engine).connect() as conn:
                rows = await conn.scalar(text("SELECT count(*) FROM t WHERE x = 1"))
                open_after_read = conn.sync_connection.connection.driver_connection.in_transaction
            return rows, open_after_read
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == (0, False)
