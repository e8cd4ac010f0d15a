"""Every route of the HTTP contract answering as it should, on the sample data."""

import pytest

ALEX_ORDERS = [
    {
        "order_id": 1,
        "order_time": "2024-03-01T09:30:00",
        "items": [
            {"item_id": 1, "name": "Milk", "price": 5, "quantity": 2, "total": 10},
            {"item_id": 3, "name": "Bread", "price": 10.5, "quantity": 1, "total": 10.5},
        ],
        "total": 20.5,
    },
    {
        "order_id": 3,
        "order_time": "2024-03-21T18:45:00",
        "items": [{"item_id": 3, "name": "Bread", "price": 10.5, "quantity": 2, "total": 21}],
        "total": 21,
    },
]


def test_root_welcomes(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == "Welcome to Marketplace!"


def test_customers_lists_everyone_with_their_address(client):
    response = client.get("/api/customers")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [
        {"id": 1, "name": "Alex", "address": {"flat_number": 12, "post_code": 10115}},
        {"id": 2, "name": "Blake", "address": {"flat_number": 7, "post_code": 20095}},
        {"id": 3, "name": "Cam", "address": {"flat_number": 31, "post_code": 80331}},
    ]


def test_orders_of_a_customer_with_items_and_totals(client):
    response = client.get("/api/orders/1")
    assert response.status_code == 200
    assert response.json() == ALEX_ORDERS


def test_customer_without_orders_has_an_empty_list(client):
    response = client.get("/api/orders/3")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(("order_id", "total"), [(1, 20.5), (2, 15), (3, 21)])
def test_order_total(client, order_id, total):
    response = client.get(f"/api/order_total/{order_id}")
    assert response.status_code == 200
    assert response.json() == {"order_id": order_id, "total": total}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_orders_total_answers_in_request_order(client, method):
    response = client.request(method, "/api/orders_total", json={"orders": [3, 1, 2, 1]})
    assert response.status_code == 200
    assert response.json() == [
        {"order_id": 3, "total": 21},
        {"order_id": 1, "total": 20.5},
        {"order_id": 2, "total": 15},
        {"order_id": 1, "total": 20.5},
    ]


def test_orders_between_dates_is_inclusive_and_oldest_first(client):
    response = client.get("/api/orders_between_dates/2024-03-21T18:45:00/2024-03-01T09:30:00")
    assert response.status_code == 200
    orders = response.json()
    assert [order["order_id"] for order in orders] == [1, 2, 3]
    assert orders[1] == {
        "order_id": 2,
        "customer_id": 2,
        "order_time": "2024-03-10T14:05:00",
        "items": [
            {"item_id": 1, "name": "Milk", "price": 5, "quantity": 1, "total": 5},
            {"item_id": 2, "name": "Kit Kat", "price": 1, "quantity": 4, "total": 4},
            {"item_id": 4, "name": "Onion", "price": 2, "quantity": 3, "total": 6},
        ],
        "total": 15,
    }


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("2024-03-10", "2024-03-10", [2]),  # a bare date covers its whole day
        ("2024-03-10T14:04:59", "2024-03-01", [1]),
        ("2024-03-31T23:59:59Z", "2024-03-10T14:05:00Z", [2, 3]),
        ("2024-03-10T16:05:00+02:00", "2024-03-10T14:05:00+00:00", [2]),  # offsets become UTC
        ("2023-12-31", "2023-01-01", []),
    ],
)
def test_orders_between_dates_bounds(client, before, after, expected):
    response = client.get(f"/api/orders_between_dates/{before}/{after}")
    assert response.status_code == 200
    assert [order["order_id"] for order in response.json()] == expected


def test_add_new_order_stores_the_order_and_all_its_items(client):
    response = client.post(
        "/api/add_new_order",
        json={"customer_id": 3, "items": [{"id": 4, "quantity": 5}, {"id": 2, "quantity": 1}]},
    )
    assert response.status_code == 201
    order_id = response.json()["order_id"]
    assert order_id == 4  # the next id after the sample data, on every engine

    orders = client.get("/api/orders/3").json()
    assert [order["order_id"] for order in orders] == [order_id]
    assert orders[0]["items"] == [
        {"item_id": 2, "name": "Kit Kat", "price": 1, "quantity": 1, "total": 1},
        {"item_id": 4, "name": "Onion", "price": 2, "quantity": 5, "total": 10},
    ]
    assert orders[0]["total"] == 11
    assert client.get(f"/api/order_total/{order_id}").json() == {"order_id": order_id, "total": 11}


def test_openapi_documents_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in [
        "/",
        "/api/customers",
        "/api/orders/{customer_id}",
        "/api/order_total/{order_id}",
        "/api/orders_total",
        "/api/orders_between_dates/{before}/{after}",
        "/api/add_new_order",
    ]:
        assert path in paths
    customers = paths["/api/customers"]["get"]["responses"]["200"]["content"]
    assert "CustomerOut" in str(customers)
    assert client.get("/docs").status_code == 200
