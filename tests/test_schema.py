"""marketdb.sql and the ORM models describe the same schema, enforced on every engine."""

import asyncio

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from marketsvc.db.engine import close_database, create_engine, open_database
from marketsvc.db.models import Base
from marketsvc.db.schema import TABLES, init_db


async def _reflect(url: str) -> dict:
    engine = open_database(url)
    await init_db(engine)

    def describe(sync_conn):
        inspector = inspect(sync_conn)
        return {
            table: {
                "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(table)},
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted(
                    (tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in inspector.get_foreign_keys(table)
                ),
                "indexed": sorted(tuple(ix["column_names"]) for ix in inspector.get_indexes(table)),
            }
            for table in inspector.get_table_names()
        }

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(describe)
    finally:
        await close_database()


def test_models_match_the_tables_that_marketdb_sql_creates(database_url):
    reflected = asyncio.run(_reflect(database_url))
    assert set(reflected) == set(Base.metadata.tables)
    for name, table in Base.metadata.tables.items():
        actual = reflected[name]
        assert set(actual["columns"]) == {c.name for c in table.columns}, name
        # SQLite reports an INTEGER PRIMARY KEY as nullable, though it never is.
        for column in table.columns:
            if not column.primary_key:
                assert actual["columns"][column.name] == column.nullable, f"{name}.{column.name}"
        assert actual["pk"] == [c.name for c in table.primary_key.columns], name
        expected_fks = sorted(
            ((fk.parent.name,), fk.column.table.name) for fk in table.foreign_keys
        )
        assert actual["fks"] == expected_fks, name
        for column in table.columns:
            if column.index:
                assert (column.name,) in actual["indexed"], f"{name}.{column.name} has no index"


async def _try(url: str, statement: str) -> None:
    await init_db(open_database(url))
    await close_database()
    engine = create_engine(url)  # the service's engine: foreign keys on for SQLite
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO orders (customer_id, order_time) VALUES (999, '2024-01-01 00:00:00')",
        "INSERT INTO order_items (order_id, item_id, quantity) VALUES (1, 999, 1)",
        "INSERT INTO order_items (order_id, item_id, quantity) VALUES (2, 3, 0)",
        "INSERT INTO item (name, price) VALUES ('Milk', 1)",
        "INSERT INTO customer (name, address_id) VALUES ('Nobody', 42)",
    ],
)
def test_constraints_are_enforced(database_url, statement):
    with pytest.raises(IntegrityError):
        asyncio.run(_try(database_url, statement))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database_url):
    async def pragmas():
        engine = open_database(database_url)
        try:
            async with engine.connect() as conn:
                return (
                    await conn.scalar(text("PRAGMA journal_mode")),
                    await conn.scalar(text("PRAGMA busy_timeout")),
                    await conn.scalar(text("PRAGMA foreign_keys")),
                )
        finally:
            await close_database()

    assert asyncio.run(pragmas()) == ("wal", 30000, 1)


async def _drop_key_table_then_start(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        await init_db(engine)
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE idempotency_key"))
        assert await init_db(engine) is False  # the data stays
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            orders = await conn.scalar(text("SELECT count(*) FROM orders"))
            assert orders == 3
            return names
    finally:
        await engine.dispose()


def test_a_database_made_before_idempotency_keys_gets_their_table(database_url):
    assert asyncio.run(_drop_key_table_then_start(database_url)) == set(Base.metadata.tables)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_earlier_steps_raw_sqlite3_reset_still_works(database_url):
    """Steps 1 to 4 load marketdb.sql with sqlite3 and reset by dropping their five tables."""
    import sqlite3

    from marketsvc.db.schema import SCHEMA_FILE

    path = database_url.split(":///", 1)[1]
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(SCHEMA_FILE.read_text())
        conn.execute("INSERT INTO idempotency_key VALUES ('k', 'hash', 1, '2024-03-01 09:30:00')")
        conn.commit()
        for table in ["order_items", "orders", "customer", "address", "item"]:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.executescript(SCHEMA_FILE.read_text())
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        keys = conn.execute("SELECT count(*) FROM idempotency_key").fetchone()[0]
    finally:
        conn.close()
    assert names == set(TABLES) | {"idempotency_key"}
    assert keys == 0  # keys of orders that the reset dropped are gone


async def _reset_as_earlier_steps_do(url: str) -> tuple[set[str], int]:
    engine = create_engine(url)
    try:
        await init_db(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO idempotency_key VALUES ('k', 'h', 1, '2024-03-01 09:30:00')")
            )
            # Steps 6 to 10-base know five models: their reset drops those.
            five = [Base.metadata.tables[name] for name in TABLES]
            await conn.run_sync(lambda c: Base.metadata.drop_all(c, tables=five))
        assert await init_db(engine) is True  # loads marketdb.sql again
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            keys = await conn.scalar(text("SELECT count(*) FROM idempotency_key"))
            return names, keys
    finally:
        await engine.dispose()


def test_a_reset_that_drops_only_the_five_tables_still_loads(database_url):
    names, keys = asyncio.run(_reset_as_earlier_steps_do(database_url))
    assert names == set(Base.metadata.tables)
    assert keys == 0  # keys of orders that the reset dropped are gone
