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
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            await asyncio.sleep(0.2)
            async with engine.connect() as conn:  # no error: the ping replaced it
                after = await conn.scalar(text("SELECT pg_backend_pid()"))
            return before, after
        finally:
            await engine.dispose()
            await killer.dispose()

    before, after = asyncio.run(run())
    assert after != before
