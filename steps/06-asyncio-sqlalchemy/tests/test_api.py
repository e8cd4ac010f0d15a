# steps: patch
# steps: after __doc__

import inspect
# steps: after import pytest
from fastapi.routing import APIRoute
from marketsvc.server import create_app, router
# steps: after ORDER_3


def test_every_route_is_a_coroutine():
    routes = [route for route in router.routes if isinstance(route, APIRoute)]
    assert routes
    for route in routes:
        endpoint = route.endpoint
        # An event stream's route is an async generator (async def with yield).
        is_async = inspect.iscoroutinefunction(endpoint) or inspect.isasyncgenfunction(endpoint)
        assert is_async, f"{route.path} is not `async def`"
# steps: edit test_start_up_loads_marketdb_sql_into_an_empty_database
#+@pytest.mark.exercise("stream-query")
#-    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'empty'}"))
#+    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty'}"))


def test_a_restart_keeps_what_is_there(database_url, query):
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.post("/api/add_new_order", json=NEW_ORDER).status_code == 201
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert client.get("/api/order_total/4").status_code == 200
    assert query("SELECT count(*) FROM orders") == [(4,)]
# steps: edit test_customers
#+@pytest.mark.exercise("stream-query")
# steps: edit test_orders_of_an_unknown_customer_is_404
#-    assert "customer 99" in response.json()["detail"]
#+    assert response.json() == {"detail": "customer 99 does not exist"}
# steps: edit test_order_total_of_an_unknown_order_is_404
#-    assert "order 42" in response.json()["detail"]
#+    assert response.json() == {"detail": "order 42 does not exist"}


def test_orders_total_names_every_unknown_order(client):
    response = client.post("/api/orders_total", json={"orders": [1, 99, 2, 98, 99]})
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown order ids: [98, 99]"}
# steps: edit test_orders_between_dates
#+@pytest.mark.exercise("stream-query")


# steps: main tests/test_routes.py::test_orders_between_dates_bounds
#+@pytest.mark.exercise("stream-query")
# steps: edit test_orders_between_bad_dates_is_422
#=    assert response.status_code == 422
#+    assert response.json()["detail"]


# --- POST /api/add_new_order ---------------------------------------------------------

NEW_ORDER = {"customer_id": 3, "items": [{"id": 2, "quantity": 3}, {"id": 3, "quantity": 1}]}


# steps: edit test_add_new_order
#-    body = {"customer_id": 3, "items": [{"id": 2, "quantity": 3}, {"id": 3, "quantity": 1}]}
#-    response = client.post("/api/add_new_order", json=body)
#+    response = client.post("/api/add_new_order", json=NEW_ORDER)
# steps: edit test_a_new_order_for_an_unknown_customer_is_404_and_writes_nothing
#-    assert "customer 99" in response.json()["detail"]
#+    assert response.json() == {"detail": "customer 99 does not exist"}


def test_a_new_order_with_unknown_items_is_404_and_writes_nothing(client, query):
    body = {"customer_id": 1, "items": [{"id": 78, "quantity": 1}, {"id": 1, "quantity": 1}]}
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown item ids: [78]"}
    assert query("SELECT count(*) FROM orders") == [(3,)]
    assert query("SELECT count(*) FROM order_items") == [(6,)]
# steps: delete test_order_total_with_a_bad_id_is_422, test_a_bare_date_covers_its_whole_day
# steps: delete test_both_bounds_are_included, test_no_orders_between_dates_is_an_empty_list
# steps: delete test_a_new_order_with_an_unknown_item_is_404_and_writes_nothing
