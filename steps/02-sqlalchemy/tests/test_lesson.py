"""This step's lesson: bound parameters, and commit-as-you-go vs begin-once."""

import logging

import pytest
from sqlalchemy import event, text

from marketsvc import db_accessor

NEW_ORDER = {"customer_id": 2, "items": [{"id": 1, "quantity": 1}, {"id": 4, "quantity": 2}]}


@pytest.mark.exercise("bound-parameters")
def test_the_customer_id_travels_as_a_bound_parameter(client, statements):
    assert client.get("/api/orders/2").status_code == 200
    reads = [(sql, params) for sql, params in statements if "order_items" in sql]
    assert reads, "no statement read the order lines"
    sql, params = reads[0]
    # sqlite3 spells a bound parameter '?'; the value is sent beside the SQL.
    assert "?" in sql
    assert tuple(params) == (2,)


@pytest.mark.exercise("begin-once")
def test_a_new_order_is_committed_once(client):
    commits = []

    def on_commit(conn) -> None:
        commits.append(conn)

    engine = db_accessor.get_engine()
    event.listen(engine, "commit", on_commit)
    try:
        assert client.post("/api/add_new_order", json=NEW_ORDER).status_code == 201
    finally:
        event.remove(engine, "commit", on_commit)
    assert len(commits) == 1, "the order and its items should be one transaction"


def test_the_compiled_cache_is_keyed_on_the_statement_not_the_object(client, caplog):
    # Two separate text() objects with the same SQL: the second reuses what
    # the first compiled, as `cached since` in the SQL log shows.
    assert client.get("/").status_code == 200  # the app is started, its engine open
    sql = "SELECT name FROM customer WHERE id = :id"
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
        db_accessor.execute_query(text(sql), {"id": 1})
        db_accessor.execute_query(text(sql), {"id": 2})
    stats = [r.getMessage() for r in caplog.records if r.getMessage().startswith("[")]
    assert stats[0].startswith("[generated in")
    assert stats[1].startswith("[cached since")


def test_a_read_sends_no_begin_and_no_rollback_to_sqlite(client):
    # The log says BEGIN (implicit) and ROLLBACK around every read; what
    # SQLite itself executes (its trace callback) is the SELECT alone.
    executed: list[str] = []

    def trace(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.set_trace_callback(executed.append)

    def untrace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(None)

    engine = db_accessor.get_engine()
    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)
    try:
        assert client.get("/api/order_total/2").status_code == 200
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
    assert len(executed) == 1
    assert executed[0].lstrip().startswith("SELECT")
