"""This step's lesson: validation, exact money, atomic writes, PostgreSQL.

These tests run on SQLite; test_api.py runs the whole HTTP contract on
PostgreSQL as well.
"""

import asyncio
import contextlib
import threading
import time
from collections import Counter
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from marketsvc import db_accessor
from marketsvc.config import Settings
from marketsvc.db import schema
from marketsvc.db.engine import get_engine, write_transaction
from marketsvc.schemas import OrderTotalOut
from tests.conftest import free_port

GOOD_LINE = {"id": 1, "quantity": 1}


def counts(query) -> tuple:
    return (
        query("SELECT count(*) FROM orders")[0][0],
        query("SELECT count(*) FROM order_items")[0][0],
        query("SELECT count(*) FROM item")[0][0],
    )


# --- validation: a 422 that changes nothing ----------------------------------------


@pytest.mark.exercise("validation")
@pytest.mark.parametrize(
    "body",
    [
        {"orders": ["1"]},  # a string is not an id
        {"orders": [1.0]},
        {"orders": [True]},
        {"orders": list(range(1, 1002))},  # more than 1000 ids
        {"orders": [1], "and": "more"},  # unknown fields are an error
    ],
)
def test_orders_total_takes_exactly_what_it_documents(client, body):
    response = client.post("/api/orders_total", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.exercise("validation")
@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": "1", "items": [GOOD_LINE]},
        {"customer_id": 1.0, "items": [GOOD_LINE]},
        {"customer_id": True, "items": [GOOD_LINE]},
        {"customer_id": 1, "items": [{"id": "2", "quantity": 1}]},
        {"customer_id": 1, "items": [{"id": 1, "quantity": "2"}]},
        {"customer_id": 1, "items": [{"id": 1, "quantity": 2.0}]},
        {"customer_id": 1, "items": [{"id": 1, "quantity": 1, "price": 0}]},
        {"customer_id": 1, "items": [GOOD_LINE], "paid": True},
    ],
)
def test_a_loose_order_is_422_and_writes_nothing(client, query, body):
    before = counts(query)
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert counts(query) == before


@pytest.mark.exercise("validation")
@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "price": 1},
        {"name": "   ", "price": 1},
        {"name": "x" * 101, "price": 1},
        {"name": "Tea", "price": -1},  # not a 409: nothing conflicts, it is invalid
        {"name": "Tea", "price": 1, "description": "d" * 501},
        {"name": "Tea", "price": 1, "colour": "green"},
    ],
)
def test_a_bad_item_is_422_and_writes_nothing(client, query, body):
    before = counts(query)
    response = client.post("/api/items", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert counts(query) == before


# --- exact money ---------------------------------------------------------------------


@pytest.mark.exercise("exact-money")
def test_money_is_a_decimal_inside_and_a_number_outside():
    total = OrderTotalOut(order_id=7, total=Decimal("0.10") * 3)
    assert total.total == Decimal("0.30")
    assert isinstance(total.total, Decimal)
    assert total.model_dump_json() == '{"order_id":7,"total":0.3}'


@pytest.mark.exercise("exact-money")
@pytest.mark.parametrize(
    "price",
    [
        0.105,  # a third decimal place would be rounded away by NUMERIC(10,2)
        0.1 + 0.2,  # 0.30000000000000004, sent by a client that added floats
        123_456_789.5,  # more than the 8 digits NUMERIC(10,2) has before the point
        "NaN",
    ],
)
def test_a_price_that_is_not_exact_to_the_cent_is_refused(client, query, price):
    before = counts(query)
    response = client.post("/api/items", json={"name": "Tea", "price": price})
    assert response.status_code == 422
    assert counts(query) == before


# --- atomic writes ---------------------------------------------------------------------


@pytest.mark.exercise("atomic-writes")
@pytest.mark.parametrize(
    "lines",
    [
        [(1, 1), (2, 0)],  # quantity 0 breaks the CHECK on order_items
        [(1, 1), (1, 2)],  # the same item twice breaks order_items' primary key
    ],
)
def test_a_failure_half_way_leaves_nothing_behind(in_db, query, lines):
    # Straight to db_accessor, past the validation that would stop these at
    # the door: the database itself refuses the lines, after the order row.
    before = counts(query)

    async def add():
        await db_accessor.add_new_order(1, lines)

    with pytest.raises(IntegrityError):
        in_db(add)
    assert counts(query) == before


@pytest.mark.exercise("atomic-writes")
def test_an_order_is_one_transaction(in_db, query):
    commits = []

    async def add():
        event.listen(get_engine().sync_engine, "commit", lambda conn: commits.append(conn))
        return await db_accessor.add_new_order(2, [(1, 1), (4, 2)])

    order_id = in_db(add)
    assert len(commits) == 1, "the order and its lines should be committed together"
    assert query("SELECT item_id, quantity FROM order_items WHERE order_id = ?", order_id) == [
        (1, 1),
        (4, 2),
    ]


@pytest.mark.exercise("sqlite-writers")
def test_sqlite_is_set_up_for_concurrent_writers(in_db):
    async def pragmas():
        async with get_engine().connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
            keys = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
            return mode, timeout, keys

    assert in_db(pragmas) == ("wal", 30_000, 1)


@pytest.mark.exercise("sqlite-writers")
def test_writers_take_the_write_lock_up_front(in_db):
    sent = []

    async def scenario():
        event.listen(
            get_engine().sync_engine,
            "before_cursor_execute",
            lambda _conn, _cursor, statement, *_: sent.append(statement),
        )
        async with get_engine().begin() as conn:  # a reader
            await conn.execute(select(1))
        async with write_transaction() as conn:  # a writer
            await conn.execute(select(1))

    in_db(scenario)
    begins = [statement for statement in sent if statement.startswith("BEGIN")]
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"]


def test_concurrent_writers_in_one_process_wait_their_turn(in_db, query):
    async def many():
        return await asyncio.gather(
            *(db_accessor.add_new_order(1 + n % 3, [(1 + n % 4, 1)]) for n in range(50))
        )

    assert len(set(in_db(many))) == 50
    assert query("SELECT count(*) FROM orders") == [(53,)]


# --- PostgreSQL ------------------------------------------------------------------------


@pytest.mark.exercise("postgresql-ids")
def test_postgresql_id_columns_get_an_identity(recording_connection):
    asyncio.run(schema._load_schema_file(recording_connection))
    sent = recording_connection.sent
    for table in ["item", "address", "customer", "orders"]:
        alter = f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
        assert alter in sent, f"{table}.id needs an identity on PostgreSQL"
        # ...added after the table and its sample rows exist.
        assert sent.index(alter) > max(i for i, s in enumerate(sent) if f"INTO {table} " in s)


@pytest.mark.exercise("postgresql-ids")
def test_postgresql_sequences_move_past_the_sample_data(recording_connection):
    asyncio.run(schema.sync_id_sequences(recording_connection))
    sent = " ".join(recording_connection.sent)
    for table in ["item", "address", "customer", "orders"]:
        assert f"pg_get_serial_sequence('{table}', 'id')" in sent
    assert "setval" in sent and "MAX(id)" in sent


# --- shutdown in the middle of a query throws no connection away ------------------
# The finished service's own test: a real uvicorn server in this process, stopped as
# SIGTERM stops it, on SQLite and (with MARKETSVC_TEST_DATABASE_URL) on PostgreSQL.

TOKEN = "shutdown-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(any_database_url: str) -> Settings:
    return Settings(database_url=any_database_url)


# steps: main tests/test_cancellation.py::POOL_EVENTS
# steps: main tests/test_cancellation.py::pool_events
# steps: main tests/test_cancellation.py::test_shutdown_during_a_query_cuts_off_no_connection
# steps: main tests/test_cancellation.py::ask
