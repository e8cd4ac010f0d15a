"""POST /api/query: a researcher's read-only SQL, streamed.

Read-only is enforced by the database connection, so these tests try to
write through it and check that nothing changed.
"""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from marketsvc.config import Settings
from marketsvc.server import create_app

TOKEN = "s3cret-research-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def research(database_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, query_token=TOKEN))
    with TestClient(app) as client:
        yield client


def test_research_queries_are_off_without_a_token(client):
    response = client.post("/api/query", json={"query": "SELECT 1"}, headers=AUTH)
    assert response.status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_a_missing_or_wrong_token_is_401(research, header):
    headers = {"Authorization": header} if header else {}
    response = research.post("/api/query", json={"query": "SELECT 1"}, headers=headers)
    assert response.status_code == 401


@pytest.mark.exercise("status-first")
def test_a_query_streams_rows_keyed_by_column(research):
    sql = "SELECT id, name, price FROM item WHERE price > 2 ORDER BY id"
    response = research.post("/api/query", json={"query": sql}, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == [
        {"id": 1, "name": "Milk", "price": 5},
        {"id": 3, "name": "Bread", "price": 10.5},
    ]


@pytest.mark.exercise("status-first")
def test_a_query_can_come_from_a_form(research):
    form = {"query": "SELECT count(*) AS n FROM orders"}
    response = research.post("/api/query", data=form, headers=AUTH)
    assert response.json() == [{"n": 3}]


@pytest.mark.exercise("status-first")
def test_no_rows_is_an_empty_array(research):
    response = research.post(
        "/api/query", json={"query": "SELECT * FROM item WHERE id < 0"}, headers=AUTH
    )
    assert response.status_code == 200
    assert response.text == "[]"


@pytest.mark.exercise("status-first")
def test_a_failing_query_is_400_with_the_database_message(research):
    response = research.post("/api/query", json={"query": "SELECT * FROM nowhere"}, headers=AUTH)
    assert response.status_code == 400
    assert "no such table: nowhere" in response.json()["detail"]


@pytest.mark.exercise("status-first")
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM orders",
        "UPDATE item SET price = 0",
        "DROP TABLE order_items",
        "CREATE TABLE loot (x)",
        "ATTACH DATABASE 'elsewhere.db' AS other",
        "PRAGMA foreign_keys = OFF",
    ],
)
def test_writes_are_refused_by_the_database(research, query, sql):
    response = research.post("/api/query", json={"query": sql}, headers=AUTH)
    assert response.status_code == 400
    assert query("SELECT count(*) FROM orders") == [(3,)]
    assert query("SELECT min(price) FROM item") == [(1,)]


def test_an_empty_query_is_422(research):
    response = research.post("/api/query", json={"query": "  "}, headers=AUTH)
    assert response.status_code == 422
