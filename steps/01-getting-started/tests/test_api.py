"""The HTTP API, route by route, on the sample data of marketdb.sql."""

import pytest
from fastapi.testclient import TestClient

from marketsvc.config import Settings
from marketsvc.server import create_app

ORDER_1 = {
    "order_id": 1,
    "order_time": "2024-03-01T09:30:00",
    "items": [
        {"item_id": 1, "name": "Milk", "price": 5.0, "quantity": 2, "total": 10.0},
        {"item_id": 3, "name": "Bread", "price": 10.5, "quantity": 1, "total": 10.5},
    ],
    "total": 20.5,
}
ORDER_3 = {
    "order_id": 3,
    "order_time": "2024-03-21T18:45:00",
    "items": [{"item_id": 3, "name": "Bread", "price": 10.5, "quantity": 2, "total": 21.0}],
    "total": 21.0,
}


def test_start_up_loads_marketdb_sql_into_an_empty_database(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty'}"))
    with TestClient(app) as client:
        assert [c["id"] for c in client.get("/api/customers").json()] == [1, 2, 3]
# steps: main tests/test_routes.py::test_root_welcomes


def test_customers(client):
    response = client.get("/api/customers")
    assert response.status_code == 200
    customers = response.json()
    assert [c["name"] for c in customers] == ["Alex", "Blake", "Cam"]
    assert customers[0] == {
        "id": 1,
        "name": "Alex",
        "address": {"flat_number": 12, "post_code": 10115},
    }


# --- GET /api/orders/{customer_id} ---------------------------------------------


def test_orders_of_a_customer(client):
    response = client.get("/api/orders/1")
    assert response.status_code == 200
    assert response.json() == [ORDER_1, ORDER_3]


def test_a_customer_without_orders_has_an_empty_list(client):
    response = client.get("/api/orders/3")
    assert response.status_code == 200
    assert response.json() == []


def test_orders_of_an_unknown_customer_is_404(client):
    response = client.get("/api/orders/99")
    assert response.status_code == 404
    assert "customer 99" in response.json()["detail"]


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", str(2**40)])
def test_orders_with_a_bad_customer_id_is_422(client, bad_id):
    assert client.get(f"/api/orders/{bad_id}").status_code == 422


# --- order totals -----------------------------------------------------------------


# steps: main tests/test_routes.py::test_order_total


def test_order_total_of_an_unknown_order_is_404(client):
    response = client.get("/api/order_total/42")
    assert response.status_code == 404
    assert "order 42" in response.json()["detail"]


def test_order_total_with_a_bad_id_is_422(client):
    assert client.get("/api/order_total/first").status_code == 422
# steps: main tests/test_routes.py::test_orders_total_answers_in_request_order


def test_orders_total_names_every_unknown_order(client):
    response = client.post("/api/orders_total", json={"orders": [1, 98, 2, 99]})
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "98" in detail and "99" in detail


@pytest.mark.parametrize(
    "body", [{"orders": []}, {"orders": ["one"]}, {"orders": [0]}, {"order": [1]}, {}]
)
def test_orders_total_with_a_bad_body_is_422(client, body):
    assert client.post("/api/orders_total", json=body).status_code == 422


# --- GET /api/orders_between_dates/{before}/{after} --------------------------------


def test_orders_between_dates(client):
    response = client.get("/api/orders_between_dates/2024-03-15/2024-03-01")
    assert response.status_code == 200
    orders = response.json()
    assert [(o["order_id"], o["customer_id"]) for o in orders] == [(1, 1), (2, 2)]
    assert orders[0] == {**ORDER_1, "customer_id": 1}


def test_a_bare_date_covers_its_whole_day(client):
    response = client.get("/api/orders_between_dates/2024-03-21/2024-03-21")
    assert [o["order_id"] for o in response.json()] == [3]


def test_both_bounds_are_included(client):
    moment = "2024-03-01T09:30:00"
    response = client.get(f"/api/orders_between_dates/{moment}/{moment}")
    assert [o["order_id"] for o in response.json()] == [1]


def test_no_orders_between_dates_is_an_empty_list(client):
    response = client.get("/api/orders_between_dates/2023-12-31/2023-01-01")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    ("before", "after"),
    [("yesterday", "2024-03-01"), ("2024-03-31", "2024-13-01"), ("2024-03-01", "2024-03-31")],
)
def test_orders_between_bad_dates_is_422(client, before, after):
    response = client.get(f"/api/orders_between_dates/{before}/{after}")
    assert response.status_code == 422


# --- POST /api/add_new_order ---------------------------------------------------------


def test_add_new_order(client, query):
    body = {"customer_id": 3, "items": [{"id": 2, "quantity": 3}, {"id": 3, "quantity": 1}]}
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 201
    order_id = response.json()["order_id"]
    assert order_id == 4
    assert query("SELECT customer_id FROM orders WHERE id = ?", order_id) == [(3,)]
    lines = query("SELECT item_id, quantity FROM order_items WHERE order_id = ?", order_id)
    assert sorted(lines) == [(2, 3), (3, 1)]
    assert client.get(f"/api/order_total/{order_id}").json()["total"] == 13.5


def test_a_new_order_for_an_unknown_customer_is_404_and_writes_nothing(client, query):
    body = {"customer_id": 99, "items": [{"id": 1, "quantity": 1}]}
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 404
    assert "customer 99" in response.json()["detail"]
    assert query("SELECT count(*) FROM orders") == [(3,)]


def test_a_new_order_with_an_unknown_item_is_404_and_writes_nothing(client, query):
    body = {"customer_id": 1, "items": [{"id": 1, "quantity": 1}, {"id": 77, "quantity": 1}]}
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 404
    assert "item 77" in response.json()["detail"]
    assert query("SELECT count(*) FROM orders") == [(3,)]
    assert query("SELECT count(*) FROM order_items") == [(6,)]


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": 1, "items": []},
        {"customer_id": 1, "items": [{"id": 1, "quantity": 0}]},
        {"customer_id": 1, "items": [{"id": 1, "quantity": 1}, {"id": 1, "quantity": 2}]},
        {"customer_id": "someone", "items": [{"id": 1, "quantity": 1}]},
        {"items": [{"id": 1, "quantity": 1}]},
        {"customer_id": 1, "items": [{"id": 1}]},
    ],
)
def test_a_bad_new_order_is_422_and_writes_nothing(client, query, body):
    assert client.post("/api/add_new_order", json=body).status_code == 422
    assert query("SELECT count(*) FROM orders") == [(3,)]
