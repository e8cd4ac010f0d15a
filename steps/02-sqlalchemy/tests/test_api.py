# steps: patch


# --- GET /api/orders/{customer_id} ---------------------------------------------


@pytest.mark.exercise("bound-parameters")
def test_orders_of_a_customer(client):
    response = client.get("/api/orders/1")
    assert response.status_code == 200
    assert response.json() == [ORDER_1, ORDER_3]


@pytest.mark.exercise("bound-parameters")
def test_a_customer_without_orders_has_an_empty_list(client):
    response = client.get("/api/orders/3")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.exercise("bound-parameters")
def test_orders_of_an_unknown_customer_is_404(client):
    response = client.get("/api/orders/99")
    assert response.status_code == 404
    assert "customer 99" in response.json()["detail"]


@pytest.mark.exercise("begin-once")
def test_a_new_order_with_an_unknown_item_is_404_and_writes_nothing(client, query):
    body = {"customer_id": 1, "items": [{"id": 1, "quantity": 1}, {"id": 77, "quantity": 1}]}
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == 404
    assert "item 77" in response.json()["detail"]
    assert query("SELECT count(*) FROM orders") == [(3,)]
    assert query("SELECT count(*) FROM order_items") == [(6,)]
