"""Every bad input gets a 4xx with a detail that says what is wrong, and changes nothing."""

import pytest

HUGE = 2**63  # larger than any id column on any engine


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/orders/99", 404, "customer 99 does not exist"),
        ("/api/orders/2147483647", 404, "customer 2147483647 does not exist"),
        ("/api/order_total/99", 404, "order 99 does not exist"),
    ],
)
def test_unknown_things_are_404_with_what_is_missing(client, path, status, detail):
    response = client.get(path)
    assert response.status_code == status
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    "bad_id",
    ["abc", "1.5", "0", "-1", str(HUGE), "2147483648", "1%20OR%201=1", "1;DROP", "1_0", "+1", "01"],
)
@pytest.mark.parametrize("route", ["/api/orders/{}", "/api/order_total/{}"])
def test_bad_ids_in_the_path_are_422(client, route, bad_id):
    response = client.get(route.format(bad_id))
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("yesterday", "2024-03-01"),
        ("2024-03-31", "not-a-date"),
        ("2024-02-30", "2024-02-01"),  # no such day
        ("2024-03-31T25:00:00", "2024-03-01"),
        ("2024-03-01", "2024-03-31"),  # after is later than before
        ("2024-03-31'%20OR%20'1'='1", "2024-03-01"),
        ("99999-01-01", "2024-03-01"),
        ("9999-12-31T23:59:59-23:59", "2024-03-01"),  # past year 9999 in UTC
        ("2024-03-01", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        ("2024-03-21%00", "2024-03-01"),
    ],
)
def test_bad_dates_are_422(client, before, after):
    response = client.get(f"/api/orders_between_dates/{before}/{after}")
    assert response.status_code == 422
    assert response.json()["detail"]


def test_reversed_dates_say_which_way_round_the_path_goes(client):
    response = client.get("/api/orders_between_dates/2024-03-01/2024-03-31")
    assert "later than before" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"orders": []},
        {"orders": list(range(1, 1002))},  # over 1000 ids
        {"orders": ["1"]},
        {"orders": [1.0]},
        {"orders": [True]},
        {"orders": [0]},
        {"orders": [-3]},
        {"orders": [HUGE]},
        {"orders": [None]},
        {"orders": "1,2"},
        {"orders": [1], "extra": 1},
        {},
        [1, 2],
    ],
)
def test_orders_total_rejects_bad_bodies(client, body):
    response = client.post("/api/orders_total", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"orders": [1,]}', b"\xff\xfe"])
def test_orders_total_rejects_malformed_json(client, raw):
    response = client.post(
        "/api/orders_total", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_orders_total_accepts_exactly_1000_ids(client):
    response = client.post("/api/orders_total", json={"orders": [1, 2, 3] * 333 + [1]})
    assert response.status_code == 200
    assert len(response.json()) == 1000


def test_orders_total_names_every_unknown_id(client, engine_pool_checked_in):
    response = client.post("/api/orders_total", json={"orders": [1, 404, 2, 7, 404, 3]})
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown order ids: [7, 404]"}
    engine_pool_checked_in()


def test_orders_total_with_many_unknown_ids_leaks_no_connection(client, engine_pool_checked_in):
    ids = list(range(1, 1001))  # 3 exist, 997 do not: siblings get cancelled
    response = client.post("/api/orders_total", json={"orders": ids})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("unknown order ids: [4, 5, 6,")
    engine_pool_checked_in()
    assert client.post("/api/orders_total", json={"orders": [1]}).status_code == 200


GOOD_LINE = {"id": 1, "quantity": 1}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"customer_id": 99, "items": [GOOD_LINE]}, 404),
        ({"customer_id": 1, "items": [GOOD_LINE, {"id": 99, "quantity": 1}]}, 404),
        ({"customer_id": 1, "items": []}, 422),
        ({"customer_id": 1, "items": [{"id": 1, "quantity": 0}]}, 422),
        ({"customer_id": 1, "items": [{"id": 1, "quantity": -2}]}, 422),
        ({"customer_id": 1, "items": [{"id": 1, "quantity": 10**9}]}, 422),
        ({"customer_id": 1, "items": [{"id": 1, "quantity": 1.5}]}, 422),
        ({"customer_id": 1, "items": [{"id": 1, "quantity": "2"}]}, 422),
        ({"customer_id": 1, "items": [GOOD_LINE, GOOD_LINE]}, 422),  # duplicate item ids
        ({"customer_id": 1, "items": [{"id": 1}]}, 422),
        ({"customer_id": 1, "items": [{"id": HUGE, "quantity": 1}]}, 422),
        ({"customer_id": "1", "items": [GOOD_LINE]}, 422),
        ({"customer_id": "1 OR 1=1", "items": [GOOD_LINE]}, 422),
        ({"customer_id": True, "items": [GOOD_LINE]}, 422),
        ({"customer_id": None, "items": [GOOD_LINE]}, 422),
        ({"customer_id": -1, "items": [GOOD_LINE]}, 422),
        ({"customer_id": HUGE, "items": [GOOD_LINE]}, 422),
        ({"items": [GOOD_LINE]}, 422),
        ({"customer_id": 1}, 422),
        ({"customer_id": 1, "items": GOOD_LINE}, 422),
        ({"customer_id": 1, "items": [GOOD_LINE], "paid": True}, 422),
        ({"customer_id": 1, "items": [{"id": 1, "quantity": 1, "price": 0}]}, 422),
        ([], 422),
        ("order", 422),
    ],
)
def test_add_new_order_rejects_bad_orders_and_writes_nothing(client, snapshot, body, status):
    before = snapshot()
    response = client.post("/api/add_new_order", json=body)
    assert response.status_code == status
    assert response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"customer_id": 1, "items": [', b"customer_id=1", b"\x00\x01"]
)
def test_add_new_order_rejects_malformed_json_and_writes_nothing(client, snapshot, raw):
    before = snapshot()
    response = client.post(
        "/api/add_new_order", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert snapshot() == before


def test_unknown_items_are_all_named(client):
    body = {"customer_id": 1, "items": [{"id": 12, "quantity": 1}, {"id": 11, "quantity": 1}]}
    response = client.post("/api/add_new_order", json=body)
    assert response.json() == {"detail": "unknown item ids: [12, 11]"}


def test_sql_looking_strings_are_just_bad_input(client, snapshot):
    before = snapshot()
    for path in [
        "/api/orders/1'--",
        "/api/orders/1%3B%20DELETE%20FROM%20orders",
        "/api/orders_between_dates/2024-03-31%27%3B%20DROP%20TABLE%20orders%3B--/2024-03-01",
    ]:
        assert client.get(path).status_code == 422
    assert snapshot() == before
    assert client.get("/api/orders/1").status_code == 200


def test_unknown_routes_and_methods(client):
    assert client.get("/api/nothing").status_code == 404
    assert client.delete("/api/orders/1").status_code == 405
    assert client.put("/api/add_new_order", json={}).status_code == 405


@pytest.mark.parametrize("day", ["2024-03-21", "20240321", "2024-W12-4", "2024W124"])
def test_every_iso_form_of_a_date_covers_the_whole_day(client, day):
    response = client.get(f"/api/orders_between_dates/{day}/{day}")
    assert [order["order_id"] for order in response.json()] == [3]


def test_a_body_over_a_megabyte_is_refused_before_parsing(client):
    body = b'{"orders": [' + b"1," * 600_000 + b"1]}"
    response = client.post(
        "/api/orders_total", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is larger than 1000000 bytes"}
