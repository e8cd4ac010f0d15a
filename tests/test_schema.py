"""marketdb.sql and the ORM models describe the same schema, enforced on every engine."""

import asyncio

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from marketsvc.db.engine import close_database, create_engine, open_database
from marketsvc.db.models import Base
from marketsvc.db.schema import init_db


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
