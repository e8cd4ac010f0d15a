"""This step's lesson: bound parameters, and commit-as-you-go vs begin-once."""

import pytest
from sqlalchemy import event

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
