"""POST /api/items writes through the writers' queue, like every other write."""

import asyncio

import httpx
import pytest
from sqlalchemy import event

from marketsvc import db_accessor
from marketsvc.db import engine as db_engine
from marketsvc.db.engine import close_database, get_sessionmaker, open_database
from marketsvc.db.schema import init_db


async def _open(url: str):
    engine = open_database(url)
    await init_db(engine)
    return engine


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_item_waits_for_the_writers_turn_on_sqlite(database_url):
    async def scenario():
        await _open(database_url)
        try:
            # Another writer of this process has the turn.
            async with db_engine._write_lock, get_sessionmaker()() as session:
                task = asyncio.create_task(db_accessor.create_item(session, "Tea", 3, None))
                await asyncio.sleep(0.3)
                waited = not task.done()
            item = await task
            return waited, item.name
        finally:
            await close_database()

    assert asyncio.run(scenario()) == (True, "Tea")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_item_takes_the_write_lock_up_front_on_sqlite(database_url):
    async def scenario():
        engine = await _open(database_url)
        statements: list[str] = []
        event.listen(
            engine.sync_engine,
            "before_cursor_execute",
            lambda _c, _cur, statement, *_: statements.append(statement.split()[0:2]),
        )
        try:
            async with get_sessionmaker()() as session:
                await db_accessor.create_item(session, "Tea", 3, None)
                with pytest.raises(db_accessor.Conflict):
                    await db_accessor.create_item(session, "Tea", 4, None)
        finally:
            await close_database()
        return statements

    statements = asyncio.run(scenario())
    # Each attempt: BEGIN IMMEDIATE, then its INSERT.
    assert statements == [["BEGIN", "IMMEDIATE"], ["INSERT", "INTO"]] * 2


def test_a_session_mid_transaction_cannot_start_a_write(database_url):
    async def scenario():
        await _open(database_url)
        try:
            async with get_sessionmaker()() as session:
                await db_accessor.list_items(session)  # a read began a transaction
                with pytest.raises(RuntimeError, match="no transaction in progress"):
                    async with db_engine.write_session(session):
                        pass
        finally:
            await close_database()

    asyncio.run(scenario())


def test_many_concurrent_items_are_all_stored_or_409(live_server, snapshot):
    async def scenario():
        bodies = [{"name": f"Item {n % 25}", "price": n % 7} for n in range(50)]
        async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as http:
            return await asyncio.gather(*(http.post("/api/items", json=b) for b in bodies))

    responses = asyncio.run(scenario())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 25 + [409] * 25
    names = [row[1] for row in snapshot()["item"]]
    assert len(names) == len(set(names)) == 4 + 25
