"""POST /api/add_new_order with an Idempotency-Key: a retried order is stored once."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, select

from marketsvc.db.engine import create_engine
from marketsvc.db.models import IdempotencyKey
from marketsvc.idempotency import KEY_LIFETIME, fingerprint
from tests.conftest import LiveServer

ORDER = {"customer_id": 2, "items": [{"id": 1, "quantity": 2}, {"id": 3, "quantity": 1}]}
OTHER_ORDER = {"customer_id": 2, "items": [{"id": 1, "quantity": 3}, {"id": 3, "quantity": 1}]}


def post(client, body, key: str | bytes | None):
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/api/add_new_order", json=body, headers=headers)


def new_rows(before: dict, after: dict) -> dict[str, list]:
    return {table: [row for row in after[table] if row not in before[table]] for table in after}


def test_a_retry_with_the_same_key_gets_the_same_order(client, snapshot):
    before = snapshot()
    first = post(client, ORDER, "order-7f3a")
    middle = snapshot()
    again = post(client, ORDER, "order-7f3a")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert snapshot() == middle  # the retry wrote nothing
    added = new_rows(before, middle)
    assert [row[0] for row in added["orders"]] == [first.json()["order_id"]]
    assert len(added["order_items"]) == 2
    assert [row[0] for row in added["idempotency_key"]] == ["order-7f3a"]


def test_the_order_of_the_lines_does_not_make_another_order(client):
    reordered = {**ORDER, "items": list(reversed(ORDER["items"]))}
    assert post(client, ORDER, "k").json() == post(client, reordered, "k").json()


@pytest.mark.parametrize(
    "changed",
    [
        OTHER_ORDER,
        {**ORDER, "customer_id": 1},
        {**ORDER, "items": ORDER["items"][:1]},
        {**ORDER, "items": [*ORDER["items"], {"id": 4, "quantity": 1}]},
    ],
)
def test_the_same_key_with_another_order_is_422_and_writes_nothing(client, snapshot, changed):
    order_id = post(client, ORDER, "key-1").json()["order_id"]
    before = snapshot()
    response = post(client, changed, "key-1")
    assert response.status_code == 422
    assert "already used for a different order" in response.json()["detail"]
    assert snapshot() == before
    assert post(client, ORDER, "key-1").json() == {"order_id": order_id}


def test_other_keys_and_no_key_store_new_orders(client):
    ids = [
        post(client, ORDER, "a").json()["order_id"],
        post(client, ORDER, "b").json()["order_id"],
        post(client, ORDER, "A").json()["order_id"],  # keys are case-sensitive
        post(client, ORDER, None).json()["order_id"],
        post(client, ORDER, None).json()["order_id"],
    ]
    assert len(set(ids)) == 5


def test_a_refused_order_does_not_use_up_its_key(client, snapshot):
    before = snapshot()
    unknown_item = {"customer_id": 2, "items": [{"id": 99, "quantity": 1}]}
    assert post(client, unknown_item, "retry-me").status_code == 404
    assert post(client, {"customer_id": 2, "items": []}, "retry-me").status_code == 422
    assert snapshot() == before
    assert post(client, ORDER, "retry-me").status_code == 201


@pytest.mark.parametrize(
    "key",
    [
        "",
        "x" * 256,
        "tab\there",
        "del\x7f",
        "kl\xfc\xdfel".encode("latin-1"),  # not ASCII
        "\u043a\u043b\u044e\u0447".encode(),  # UTF-8 bytes, not ASCII
    ],
)
def test_malformed_keys_are_422_and_write_nothing(client, snapshot, key):
    before = snapshot()
    response = post(client, ORDER, key)
    assert response.status_code == 422
    assert "Idempotency-Key" in str(response.json()["detail"])
    assert snapshot() == before


def test_two_keys_in_one_request_are_422(client, snapshot):
    before = snapshot()
    headers = [("Idempotency-Key", "one"), ("Idempotency-Key", "two")]
    response = client.post("/api/add_new_order", json=ORDER, headers=headers)
    assert response.status_code == 422
    assert response.json() == {"detail": "send one Idempotency-Key header, not several"}
    assert snapshot() == before


@pytest.mark.parametrize(
    "key", ["k", "x" * 255, "a b ~!@#$%^&*()_+{}|:<>?", "719fc905-978c-4dc3-a5b2-8496e5fc9710"]
)
def test_any_printable_ascii_key_up_to_255_characters_works(client, key):
    first = post(client, ORDER, key)
    assert first.status_code == 201
    assert post(client, ORDER, key).json() == first.json()


async def _store_key(url: str, key: str, order_id: int, age: timedelta) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(IdempotencyKey).values(
                    client_key=key,
                    request_hash=fingerprint(2, [(1, 2), (3, 1)]),  # ORDER's
                    order_id=order_id,
                    created_at=datetime.now(UTC).replace(tzinfo=None) - age,
                )
            )
    finally:
        await engine.dispose()


async def _stored_keys(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(IdempotencyKey.client_key, IdempotencyKey.order_id))
            return dict(rows.all())
    finally:
        await engine.dispose()


def test_keys_are_kept_24_hours_then_pruned_by_later_orders(client, database_url):
    # Two keys for order 2 of the sample data, one a day old and one not yet.
    asyncio.run(_store_key(database_url, "young", 2, KEY_LIFETIME - timedelta(minutes=5)))
    asyncio.run(_store_key(database_url, "old", 2, KEY_LIFETIME + timedelta(minutes=5)))

    assert post(client, ORDER, "young").json() == {"order_id": 2}
    assert asyncio.run(_stored_keys(database_url)) == {"young": 2}  # "old" is gone

    fresh = post(client, ORDER, "old").json()["order_id"]
    assert fresh > 3  # the expired key stored a new order
    assert asyncio.run(_stored_keys(database_url)) == {"young": 2, "old": fresh}


def test_orders_without_a_key_leave_the_keys_alone(client, database_url):
    asyncio.run(_store_key(database_url, "old", 2, KEY_LIFETIME * 2))
    post(client, ORDER, None)
    assert asyncio.run(_stored_keys(database_url)) == {"old": 2}


def test_openapi_documents_the_header(client):
    operation = client.get("/openapi.json").json()["paths"]["/api/add_new_order"]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert not header["required"]
    assert "24 hours" in header["description"]


# --- races: many requests with one key at the same time, on two processes -------


async def _send_all(urls: list[str], bodies: list[dict], key: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(
                    urls[n % len(urls)] + "/api/add_new_order",
                    json=body,
                    headers={"Idempotency-Key": key},
                )
                for n, body in enumerate(bodies)
            )
        )


@pytest.fixture
def two_servers(database_url):
    first = LiveServer(database_url).start()  # creates the schema
    second = LiveServer(database_url).start()
    yield [first.url, second.url]
    first.stop()
    second.stop()


def test_concurrent_requests_with_one_key_store_one_order(two_servers, snapshot):
    before = snapshot()
    responses = asyncio.run(_send_all(two_servers, [ORDER] * 60, "burst"))

    assert [r.status_code for r in responses] == [201] * 60
    order_ids = {r.json()["order_id"] for r in responses}
    assert len(order_ids) == 1
    added = new_rows(before, snapshot())
    assert [row[0] for row in added["orders"]] == list(order_ids)
    assert len(added["order_items"]) == 2
    assert [(row[0], row[2]) for row in added["idempotency_key"]] == [("burst", *order_ids)]


def test_concurrent_requests_with_one_key_and_two_orders_store_one(two_servers, snapshot):
    before = snapshot()
    bodies = [ORDER, OTHER_ORDER] * 20
    responses = asyncio.run(_send_all(two_servers, bodies, "contested"))

    added = new_rows(before, snapshot())
    (stored,) = added["orders"]
    lines = {(row[1], row[2]) for row in added["order_items"]}  # (item_id, quantity)
    winner = ORDER if (1, 2) in lines else OTHER_ORDER
    for body, response in zip(bodies, responses, strict=True):
        if body is winner:
            assert (response.status_code, response.json()) == (201, {"order_id": stored[0]})
        else:
            assert response.status_code == 422, response.text
            assert "different order" in response.json()["detail"]


async def _burst_then_kill(server: LiveServer, count: int) -> dict[str, int]:
    """Send `count` keyed orders at once; SIGKILL the server once a quarter are answered."""
    answered: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=50)) as client:

        async def order(n: int) -> None:
            body = {"customer_id": 1 + n % 3, "items": [{"id": 1 + n % 4, "quantity": 1}]}
            response = await client.post(
                server.url + "/api/add_new_order", json=body, headers={"Idempotency-Key": f"k{n}"}
            )
            answered[f"k{n}"] = response.json()["order_id"]
            if len(answered) == count // 4:
                server.process.kill()

        await asyncio.gather(*(order(n) for n in range(count)), return_exceptions=True)
    return answered


def test_after_a_crash_mid_burst_every_order_can_be_retried_safely(database_url, snapshot):
    count = 200
    server = LiveServer(database_url).start()
    try:
        answered = asyncio.run(_burst_then_kill(server, count))
    finally:
        server.stop()
    assert count // 4 <= len(answered) < count  # some answers were lost

    server = LiveServer(database_url).start()
    try:
        retried = asyncio.run(_send_each_once_more(server.url, count))
    finally:
        server.stop()

    assert all(retried[key] == order_id for key, order_id in answered.items())
    rows = snapshot()
    new_orders = sorted(row[0] for row in rows["orders"] if row[0] > 3)
    assert new_orders == sorted(retried.values())  # one order per key, no more
    assert len(new_orders) == count
    assert {row[0]: row[2] for row in rows["idempotency_key"]} == retried


async def _send_each_once_more(url: str, count: int) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=30) as client:

        async def order(n: int) -> tuple[str, int]:
            body = {"customer_id": 1 + n % 3, "items": [{"id": 1 + n % 4, "quantity": 1}]}
            response = await client.post(
                url + "/api/add_new_order", json=body, headers={"Idempotency-Key": f"k{n}"}
            )
            assert response.status_code == 201, response.text
            return f"k{n}", response.json()["order_id"]

        return dict(await asyncio.gather(*(order(n) for n in range(count))))
