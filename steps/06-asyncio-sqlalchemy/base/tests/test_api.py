"""The HTTP API, route by route, on the sample data of marketdb.sql."""

import inspect

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from marketsvc.config import Settings
from marketsvc.server import create_app, router

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


def test_every_route_is_a_coroutine():
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    assert routes
    for route in routes:
        assert inspect.iscoroutinefunction(route.endpoint), f"{route.path} is not `async def`"


@pytest.mark.exercise("stream-query")
def test_start_up_loads_marketdb_sql_into_an_empty_database(tmp_path):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty'}"))
    with TestClient(app) as client:
        assert [c["id"] for c in client.get("/api/customers").json()] == [1, 2, 3]


def test_a_restart_keeps_what_is_there(database_url, query):
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.post("/api/add_new_order", json=NEW_ORDER).status_code == 201
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/order_total/4").status_code == 200
    assert query("SELECT count(*) FROM orders") == [(4,)]


def test_root(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == "Welcome to Marketplace!"


@pytest.mark.exercise("stream-query")
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
    assert response.json() == {"detail": "customer 99 does not exist"}


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", str(2**40)])
def test_orders_with_a_bad_customer_id_is_422(client, bad_id):
    assert client.get(f"/api/orders/{bad_id}").status_code == 422


# --- order totals -----------------------------------------------------------------


@pytest.mark.parametrize(("order_id", "total"), [(1, 20.5), (2, 15.0), (3, 21.0)])
def test_order_total(client, order_id, total):
    response = client.get(f"/api/order_total/{order_id}")
    assert response.status_code == 200
    assert response.json() == {"order_id": order_id, "total": total}


def test_order_total_of_an_unknown_order_is_404(client):
    response = client.get("/api/order_total/42")
    assert response.status_code == 404
    assert response.json() == {"detail": "order 42 does not exist"}


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_orders_total_keeps_the_request_order(client, method):
    response = client.request(method, "/api/orders_total", json={"orders": [3, 1, 2, 1]})
    assert response.status_code == 200
    assert response.json() == [
        {"order_id": 3, "total": 21.0},
        {"order_id": 1, "total": 20.5},
        {"order_id": 2, "total": 15.0},
        {"order_id": 1, "total": 20.5},
    ]


def test_orders_total_names_every_unknown_order(client):
    response = client.post("/api/orders_total", json={"orders": [1, 99, 2, 98, 99]})
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown order ids: [98, 99]"}


@pytest.mark.parametrize(
    "body", [{"orders": []}, {"orders": ["one"]}, {"orders": [0]}, {"order": [1]}, {}]
)
def test_orders_total_with_a_bad_body_is_422(client, body):
    assert client.post("/api/orders_total", json=body).status_code == 422


# --- GET /api/orders_between_dates/{before}/{after} --------------------------------


@pytest.mark.exercise("stream-query")
def test_orders_between_dates(client):
    response = client.get("/api/orders_between_dates/2024-03-15/2024-03-01")
    assert response.status_code == 200
    orders = response.json()
    assert [(o["order_id"], o["customer_id"]) for o in orders] == [(1, 1), (2, 2)]
    assert orders[0] == {**ORDER_1, "customer_id": 1}


@pytest.mark.exercise("stream-query")
@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("2024-03-21", "2024-03-21", [3]),  # a bare date covers its whole day
        ("2024-03-01T09:30:00", "2024-03-01T09:30:00", [1]),  # both bounds included
        ("2024-03-10T16:05:00+02:00", "2024-03-10T14:05:00Z", [2]),  # offsets become UTC
        ("2023-12-31", "2023-01-01", []),
    ],
)
def test_orders_between_dates_bounds(client, before, after, expected):
    response = client.get(f"/api/orders_between_dates/{before}/{after}")
    assert response.status_code == 200
    assert [o["order_id"] for o in response.json()] == expected


@pytest.mark.parametrize(
    ("before", "after"),
    [("yesterday", "2024-03-01"), ("2024-03-31", "2024-13-01"), ("2024-03-01", "2024-03-31")],
)
def test_orders_between_bad_dates_is_422(client, before, after):
    response = client.get(f"/api/orders_between_dates/{before}/{after}")
    assert response.status_code == 422
    assert response.json()["detail"]


# --- POST /api/add_new_order ---------------------------------------------------------

NEW_ORDER = {"customer_id": 3, "items": [{"id": 2, "quantity": 3}, {"id": 3, "quantity": 1}]}


def test_add_new_order(client, query):
    response = client.post("/api/add_new_order", json=NEW_ORDER)
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
    assert response.json() == {"detail": "customer 99 does not exist"}
    assert query("SELECT count(*) FROM orders") == [(3,)]


def test_a_new_order_with_unknown_items_is_404_and_writes_nothing(client, query):
    body = {"customer_id": 1, "items": [{"id": 78, "quantity": 1}, {"id": 1, "quantity": 1}]}
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown item ids: [78]"}
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
