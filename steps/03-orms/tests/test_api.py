# steps: patch
# steps: edit test_orders_of_a_customer
#-@pytest.mark.exercise("bound-parameters")
#+@pytest.mark.exercise("select-orders")
# steps: edit test_a_customer_without_orders_has_an_empty_list
#-@pytest.mark.exercise("bound-parameters")
#+@pytest.mark.exercise("select-orders")
# steps: edit test_orders_of_an_unknown_customer_is_404
#-@pytest.mark.exercise("bound-parameters")
#+@pytest.mark.exercise("select-orders")


# --- GET /api/orders_between_dates/{before}/{after} --------------------------------


@pytest.mark.exercise("relationships")
def test_orders_between_dates(client):
    response = client.get("/api/orders_between_dates/2024-03-15/2024-03-01")
    assert response.status_code == 200
    orders = response.json()
    assert [(o["order_id"], o["customer_id"]) for o in orders] == [(1, 1), (2, 2)]
    assert orders[0] == {**ORDER_1, "customer_id": 1}


@pytest.mark.exercise("relationships")
def test_a_bare_date_covers_its_whole_day(client):
    response = client.get("/api/orders_between_dates/2024-03-21/2024-03-21")
    assert [o["order_id"] for o in response.json()] == [3]


@pytest.mark.exercise("relationships")
def test_both_bounds_are_included(client):
    moment = "2024-03-01T09:30:00"
    response = client.get(f"/api/orders_between_dates/{moment}/{moment}")
    assert [o["order_id"] for o in response.json()] == [1]
# steps: edit test_a_new_order_with_an_unknown_item_is_404_and_writes_nothing
#-@pytest.mark.exercise("begin-once")
