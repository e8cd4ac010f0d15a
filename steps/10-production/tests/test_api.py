"""The HTTP contract, route by route, on SQLite and on PostgreSQL.

Each test runs once per database (see `any_database_url` in conftest.py):
the same service, the same answers, whichever engine is underneath.
"""

import asyncio
import json

import httpx
import pytest

from marketsvc.db.engine import get_engine
# steps: main tests/test_routes.py::ALEX_ORDERS
GOOD_LINE = {"id": 1, "quantity": 1}
# steps: main tests/test_errors.py::HUGE


@pytest.fixture
def client(service):
    """Every test of this file runs on both engines: `service` in conftest.py."""
    return service
# steps: main tests/test_routes.py::test_root_welcomes
# steps: main tests/test_routes.py::test_customers_lists_everyone_with_their_address
# steps: main tests/test_routes.py::test_orders_of_a_customer_with_items_and_totals
# steps: main tests/test_routes.py::test_customer_without_orders_has_an_empty_list
# steps: main tests/test_routes.py::test_order_total
# steps: main tests/test_routes.py::test_orders_total_answers_in_request_order


def test_orders_between_dates(client):
    response = client.get("/api/orders_between_dates/2024-03-15/2024-03-01")
    assert [(o["order_id"], o["customer_id"], o["total"]) for o in response.json()] == [
        (1, 1, 20.5),
        (2, 2, 15),
    ]


def test_items_and_stats(client):
    items = client.get("/api/items").json()
    assert [(item["name"], item["price"]) for item in items] == [
        ("Milk", 5),
        ("Kit Kat", 1),
        ("Bread", 10.5),
        ("Onion", 2),
    ]
    assert client.get("/api/stats").json() == {
        "customers": 3,
        "orders": 3,
        "revenue": 56.5,
        "top_item": {"item_id": 2, "name": "Kit Kat", "quantity": 4},
    }


def test_order_events(client):
    text = client.get("/api/events/orders?customer_id=1").text
    assert [line for line in text.splitlines() if line.startswith("id: ")] == ["id: 1", "id: 3"]
    assert 'event: end\ndata: {"sent":2,"last_id":3}' in text


# --- writes ----------------------------------------------------------------------------


# steps: main tests/test_routes.py::test_add_new_order_stores_the_order_and_all_its_items


def test_a_new_item_then_its_name_again(client, snapshot):
    body = {"name": "Tea", "price": 3.25, "description": "Loose leaf"}
    created = client.post("/api/items", json=body)
    assert created.status_code == 201
    assert created.json() == {"id": 5, **body}
    before = snapshot()
    again = client.post("/api/items", json={"name": "Tea", "price": 1})
    assert again.status_code == 409
    assert snapshot() == before
    assert client.get("/api/items").json()[-1]["name"] == "Tea"  # the session recovered


# --- errors: a 4xx that says what is wrong, and changes nothing ------------------------


# steps: main tests/test_errors.py::test_unknown_things_are_404_with_what_is_missing


def test_unknown_order_ids_are_all_named_and_no_connection_is_left_out(client):
    response = client.post("/api/orders_total", json={"orders": [1, 404, 2, 7, 404]})
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown order ids: [7, 404]"}
    assert get_engine().pool.checkedout() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": 99, "items": [GOOD_LINE]},
        {
            "customer_id": 1,
            "items": [GOOD_LINE, {"id": 12, "quantity": 1}, {"id": 11, "quantity": 1}],
        },
    ],
)
def test_an_order_naming_unknown_things_is_404_and_writes_nothing(client, snapshot, body):
    before = snapshot()
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 404
    assert response.json()["detail"] in ["customer 99 does not exist", "unknown item ids: [12, 11]"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": 1, "items": []},
        {"customer_id": 1, "items": [{"id": 1, "quantity": 0}]},
        {"customer_id": 1, "items": [{"id": 1, "quantity": 10**9}]},
        {"customer_id": 1, "items": [{"id": 1, "quantity": 1.5}]},
        {"customer_id": 1, "items": [GOOD_LINE, GOOD_LINE]},
        {"customer_id": 2**63, "items": [GOOD_LINE]},
        {"customer_id": None, "items": [GOOD_LINE]},
        {"items": [GOOD_LINE]},
        "order",
    ],
)
def test_a_bad_order_is_422_and_writes_nothing(client, snapshot, body):
    before = snapshot()
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]
    assert snapshot() == before
# steps: main tests/test_errors.py::test_add_new_order_rejects_malformed_json_and_writes_nothing
# steps: main tests/test_errors.py::test_bad_ids_in_the_path_are_422


# --- exact money ---------------------------------------------------------------------


def test_three_dimes_are_thirty_cents_on_every_route(client, sql):
    """0.10 has no exact binary float: 3 x 0.1 is 0.30000000000000004 in floats."""
    sql("INSERT INTO item (id, name, price) VALUES (10, 'Dime bar', 0.10)")
    body = {"customer_id": 2, "items": [{"id": 10, "quantity": 3}]}
    order_id = client.post("/api/add_new_order", json=body).json()["order_id"]

    texts = [
        client.get(f"/api/order_total/{order_id}").text,
        client.post("/api/orders_total", json={"orders": [order_id]}).text,
        client.get("/api/orders/2").text,
        client.get("/api/orders_between_dates/2100-01-01/2024-03-02").text,
        client.get(f"/api/events/orders?after={order_id - 1}").text,
    ]
    for text in texts:
        assert "0.30000000000000004" not in text
        assert '"total":0.3' in text, text

    assert client.get(f"/api/order_total/{order_id}").json() == {
        "order_id": order_id,
        "total": 0.3,
    }
    assert client.get("/api/stats").json()["revenue"] == 56.8
    assert client.get("/api/items").json()[-1]["price"] == 0.1


def test_many_cents_add_up_exactly(client, sql):
    sql("INSERT INTO item (id, name, price) VALUES (10, 'Dime bar', 0.10)")
    items = [{"id": 10, "quantity": 7}, {"id": 3, "quantity": 3}]  # 0.70 + 31.50
    order_id = client.post("/api/add_new_order", json={"customer_id": 1, "items": items})
    order_id = order_id.json()["order_id"]
    assert client.get(f"/api/order_total/{order_id}").json()["total"] == 32.2


# --- concurrency -----------------------------------------------------------------------

ORDERS = 200


async def post_orders(url: str, count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def one(n: int) -> httpx.Response:
            items = [
                {"id": 1 + n % 4, "quantity": 1 + n % 3},
                {"id": 1 + (n + 1) % 4, "quantity": 1},
            ]
            return await http.post(
                "/api/add_new_order", json={"customer_id": 1 + n % 3, "items": items}
            )

        return await asyncio.gather(*(one(n) for n in range(count)))


def test_concurrent_orders_are_all_stored(live_server, sql):
    responses = asyncio.run(post_orders(live_server, ORDERS))
    assert [r.status_code for r in responses] == [201] * ORDERS
    order_ids = sorted(r.json()["order_id"] for r in responses)
    assert len(set(order_ids)) == ORDERS
    stored = sql("SELECT order_id, count(*) FROM order_items WHERE order_id > 3 GROUP BY order_id")
    assert sorted(stored) == [(order_id, 2) for order_id in order_ids]
    customers = json.loads(httpx.get(live_server + "/api/customers").text)
    assert len(customers) == 3
