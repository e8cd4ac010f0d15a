"""Strict input: JSON numbers only, plain-digit ids, exact times, bounded bodies.

Every bad input is a 4xx whose body is JSON with a `detail`, and it changes
nothing in the database.
"""

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from marketsvc.server import MAX_BODY_BYTES, create_app
from marketsvc.strict_json import MAX_DEPTH

JSON = {"Content-Type": "application/json"}


def assert_json_error(response, status: int = 422) -> str:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert detail
    return str(detail)


# --- JSON number fields take JSON numbers only -------------------------------


@pytest.mark.parametrize(
    "price",
    [
        b'"3.20"',  # a string that looks like a number
        '"\u0661\u0662"'.encode(),  # Arabic-Indic digits
        b'"\xef\xbc\x91\xef\xbc\x92"',  # fullwidth digits, as text
        b"true",
        b"false",
        b"null",
        b"[3]",
        b'{"amount": 3}',
        b"1e-400",  # underflows to 0.0 as a float
        b"1.10000000000000000001",  # 1.1 as a float: not exactly 1.10
        b"0.001",
        b"1e400",  # overflows to inf as a float
        b"123456789",  # 9 digits before the point: NUMERIC(10,2) holds 8
        b"-0.01",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1" * 5000,  # past Python's limit for int() of text
    ],
)
def test_prices_must_be_exact_json_numbers(client, snapshot, price):
    before = snapshot()
    body = b'{"name": "Tea", "price": ' + price + b"}"
    response = client.post("/api/items", content=body, headers=JSON)
    assert_json_error(response)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("price", "stored"),
    [(b"3.000", 3), (b"1e2", 100), (b"5", 5), (b"0.10", 0.1), (b"12345678.99", 12345678.99)],
)
def test_exact_prices_in_any_json_spelling_are_accepted(client, price, stored):
    body = b'{"name": "Tea", "price": ' + price + b"}"
    response = client.post("/api/items", content=body, headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["price"] == stored
    assert client.get("/api/items").json()[-1]["price"] == stored


def test_a_refused_price_is_echoed_as_sent_not_as_a_float(client):
    body = b'{"name": "Tea", "price": 1.10000000000000000001}'
    detail = assert_json_error(client.post("/api/items", content=body, headers=JSON))
    assert "1.10000000000000000001" in detail


@pytest.mark.parametrize(
    "raw",
    [
        b'{"customer_id": 1.0, "items": [{"id": 1, "quantity": 1}]}',
        b'{"customer_id": 1e0, "items": [{"id": 1, "quantity": 1}]}',
        b'{"customer_id": 1, "items": [{"id": 1, "quantity": 2.0}]}',
        b'{"customer_id": 1, "items": [{"id": "\xd9\xa1", "quantity": 1}]}',
        b'{"customer_id": -0, "items": [{"id": 1, "quantity": 1}]}',
        b'{"customer_id": 1, "items": [{"id": 1, "quantity": NaN}]}',
    ],
)
def test_ids_and_quantities_in_bodies_are_json_integers(client, snapshot, raw):
    before = snapshot()
    assert_json_error(client.post("/api/add_new_order", content=raw, headers=JSON))
    assert snapshot() == before


# --- ids in paths and query strings are plain ASCII digits ----------------------

BAD_DIGITS = [
    "1_0",
    "+1",
    "01",
    "00",
    "%201",  # leading space
    "1%20",  # trailing space
    "%091",  # tab
    "\u0661",  # Arabic-Indic one
    "\uff11",  # fullwidth one
    "\U0001d7cf",  # mathematical bold one
    "%E2%80%8B1",  # zero-width space
    "0x1",
    "1e1",
    "1.0",
]
# Each too large an id, and what its 422 says.
TOO_LARGE = {"2147483648": "2147483647", "99999999999": "2147483647", "9" * 5000: "far too large"}


# One test per route, each trying every spelling: the database is made once.
@pytest.mark.parametrize("route", ["/api/orders/{}", "/api/order_total/{}"])
def test_path_ids_are_plain_ascii_digits(client, route):
    for bad_id in BAD_DIGITS:
        assert "plain digits" in assert_json_error(client.get(route.format(bad_id))), bad_id
    for bad_id, says in TOO_LARGE.items():
        assert says in assert_json_error(client.get(route.format(bad_id))), bad_id[:20]


@pytest.mark.parametrize("name", ["customer_id", "after", "limit"])
def test_event_filters_are_plain_ascii_digits(client, name):
    for bad in [*BAD_DIGITS, *TOO_LARGE]:
        assert_json_error(client.get(f"/api/events/orders?{name}={bad}"))


def test_plain_digits_still_work_everywhere(client):
    assert client.get("/api/orders/1").status_code == 200
    assert client.get("/api/order_total/2").json()["order_id"] == 2
    events = client.get("/api/events/orders?customer_id=1&after=0&limit=1")
    assert events.status_code == 200
    assert "id: 1\n" in events.text


# --- times keep their fractions -------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # order 1 is at exactly 09:30:00
        ("2024-03-01T09:30:00.9", "2024-03-01T09:30:00.5", []),
        ("2024-03-01T09:30:00.9", "2024-03-01T09:30:00", [1]),
        ("2024-03-01T09:30:00", "2024-03-01T09:29:59.999999", [1]),
        ("2024-03-01T09:29:59.999999", "2024-03-01", []),
        ("2024-03-01T09:30:00.000001", "2024-03-01T09:30:00.000001", []),
        ("2024-03-01T10:30:00.5+01:00", "2024-03-01T10:29:59.5+01:00", [1]),
    ],
)
def test_date_bounds_keep_their_fractions(client, before, after, expected):
    response = client.get(f"/api/orders_between_dates/{before}/{after}")
    assert response.status_code == 200
    assert [order["order_id"] for order in response.json()] == expected


def test_a_new_order_keeps_its_time_to_the_microsecond(client):
    body = {"customer_id": 3, "items": [{"id": 1, "quantity": 1}]}
    order_id = client.post("/api/add_new_order", json=body).json()["order_id"]
    (order,) = client.get("/api/orders/3").json()
    stored = datetime.fromisoformat(order["order_time"])

    def between(first: datetime, last: datetime) -> list[int]:
        path = f"/api/orders_between_dates/{last.isoformat()}/{first.isoformat()}"
        return [o["order_id"] for o in client.get(path).json()]

    micro = timedelta(microseconds=1)
    assert between(stored, stored) == [order_id]
    assert between(stored + micro, stored + micro) == []
    assert between(stored - micro, stored - micro) == []
    # The feed shows the same time as the orders route.
    feed = client.get(f"/api/events/orders?after={order_id - 1}&limit=1").text
    assert f'"order_time":"{order["order_time"]}"' in feed


# --- bodies: UTF-8 JSON, bounded nesting, bounded size ------------------------------

JSON_ROUTES = [
    ("POST", "/api/orders_total"),
    ("GET", "/api/orders_total"),
    ("POST", "/api/add_new_order"),
    ("POST", "/api/items"),
]


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1000, 100_000])
@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_deep_nesting_is_422_on_every_json_route(client, snapshot, method, path, levels):
    before = snapshot()
    response = client.request(method, path, content=deep(levels), headers=JSON)
    assert "nests deeper" in assert_json_error(response)
    nested_inside = b'{"customer_id": 1, "items": ' + deep(levels) + b"}"
    response = client.request(method, path, content=nested_inside, headers=JSON)
    assert_json_error(response)
    assert snapshot() == before


@pytest.fixture
def research_client(settings):
    settings = settings.replace(query_token="t0ken")
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = "Bearer t0ken"
        yield client


def test_deep_nesting_is_422_on_the_research_route(research_client):
    for body in [deep(100_000), b'{"query": ' + deep(100_000) + b"}"]:
        response = research_client.post("/api/query", content=body, headers=JSON)
        assert_json_error(response)


@pytest.mark.parametrize(
    "raw",
    [
        '{"orders": [1]}'.encode("utf-16"),
        '{"orders": [1]}'.encode("utf-32"),
        b'\xef\xbb\xbf{"orders": [1]}',  # a UTF-8 byte order mark
        b'{"orders": [1], "x": "\xff"}',
        b'{"orders": [1], "x": "\xed\xa0\x80"}',  # an encoded surrogate
        b'{"orders": [1], "orders": NaN}',
        b'{"orders": [1], "orders": [2]}',  # which one? refused rather than guessed
    ],
)
def test_bodies_that_are_not_strict_utf8_json_are_422(client, raw):
    assert_json_error(client.post("/api/orders_total", content=raw, headers=JSON))


def test_a_body_over_the_limit_is_a_json_413_on_any_route(client, snapshot):
    before = snapshot()
    big = b'{"orders": [' + b"1," * (MAX_BODY_BYTES // 2) + b"1]}"
    for method, path in [*JSON_ROUTES, ("GET", "/"), ("GET", "/api/customers")]:
        response = client.request(method, path, content=big, headers=JSON)
        assert "larger than" in assert_json_error(response, 413)
    assert snapshot() == before


def test_a_chunked_body_over_the_limit_is_a_json_413(client, snapshot):
    before = snapshot()

    def chunks():  # no Content-Length: the limit counts the bytes as they come
        yield b'{"customer_id": 1, "items": ['
        for _ in range(MAX_BODY_BYTES // 10_000 + 1):
            yield b" " * 10_000
        yield b'{"id": 1, "quantity": 1}]}'

    response = client.post("/api/add_new_order", content=chunks(), headers=JSON)
    assert_json_error(response, 413)
    assert snapshot() == before


def test_brackets_inside_strings_are_not_nesting(client):
    name = '[{"' + "[" * 40 + '\\"' + "{" * 40  # 85 characters, no nesting
    response = client.post("/api/items", json={"name": name, "price": 1})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


def test_a_large_invalid_body_is_not_echoed_back(client):
    body = b"[" + b",".join([b"[]"] * 300_000) + b"]"  # valid JSON, 900 kB, not an order
    response = client.post("/api/add_new_order", content=body, headers=JSON)
    assert_json_error(response)
    assert len(response.content) < 1000
    not_json = {"Content-Type": "text/plain"}
    response = client.post("/api/add_new_order", content=b"a" * 900_000, headers=not_json)
    assert_json_error(response)
    assert len(response.content) < 1000
    long_name = {"name": "x" * 100_000, "price": 1}
    response = client.post("/api/items", json=long_name)
    assert_json_error(response)
    assert len(response.content) < 1000


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_a_body_not_sent_as_json_is_422_even_when_not_utf8(client, method, path, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    for body in [b"\xff\xfe\x00", b'{"orders": [1]}']:
        assert_json_error(client.request(method, path, content=body, headers=headers))
