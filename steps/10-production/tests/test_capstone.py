"""The capstone: POST /api/cancel_order/{order_id}, checked by what the API answers.

Every test runs on SQLite and on PostgreSQL (see `any_database_url`).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from marketsvc.db import schema

ORDER = {"customer_id": 3, "items": [{"id": 4, "quantity": 5}, {"id": 2, "quantity": 1}]}


@pytest.fixture(autouse=True)
def postgresql_must_be_ready(request, recording_connection):
    """The PostgreSQL half fails, rather than skips, while the service cannot
    set a database up there yet (exercise postgresql-ids), with or without a
    server to test on: the capstone asks for both engines."""
    callspec = getattr(request.node, "callspec", None)
    engine = callspec.params.get("any_database_url") if callspec else None
    if engine != "postgresql":
        return
    try:
        asyncio.run(schema._load_schema_file(recording_connection))
    except NotImplementedError as exc:
        pytest.fail(f"PostgreSQL: not ready yet ({exc})")


def place(client, key: str | None = None) -> int:
    headers = {} if key is None else {"Idempotency-Key": key}
    response = client.post("/api/add_new_order", json=ORDER, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["order_id"]


def order_ids_of(client, customer_id: int) -> list[int]:
    return [order["order_id"] for order in client.get(f"/api/orders/{customer_id}").json()]


@pytest.mark.exercise("capstone-cancel")
def test_a_new_order_can_be_cancelled_and_is_gone_with_its_lines(service):
    kept = place(service)
    doomed = place(service)
    stats = service.get("/api/stats").json()

    response = service.post(f"/api/cancel_order/{doomed}")

    assert response.status_code == 200
    assert response.json() == {"order_id": doomed}
    assert order_ids_of(service, 3) == [kept]
    assert service.get(f"/api/order_total/{doomed}").status_code == 404
    assert service.get(f"/api/order_total/{kept}").json() == {"order_id": kept, "total": 11}
    after = service.get("/api/stats").json()
    assert after["orders"] == stats["orders"] - 1
    assert after["revenue"] == stats["revenue"] - 11  # its lines are gone too


@pytest.mark.exercise("capstone-cancel")
def test_an_unknown_order_is_404_and_changes_nothing(service, snapshot):
    before = snapshot()
    response = service.post("/api/cancel_order/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "order 999 does not exist"}
    assert snapshot() == before


@pytest.mark.exercise("capstone-cancel")
def test_cancelling_twice_is_404_the_second_time(service):
    order_id = place(service)
    assert service.post(f"/api/cancel_order/{order_id}").status_code == 200
    again = service.post(f"/api/cancel_order/{order_id}")
    assert again.status_code == 404
    assert again.json() == {"detail": f"order {order_id} does not exist"}


@pytest.mark.exercise("capstone-cancel")
@pytest.mark.parametrize("bad_id", ["0", "-1", "01", "1.5", "abc", str(2**31)])
def test_an_id_that_cannot_exist_is_422(service, bad_id):
    response = service.post(f"/api/cancel_order/{bad_id}")
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)  # the path check, like the other routes


@pytest.mark.exercise("capstone-cancel")
def test_an_old_order_is_409_says_why_and_changes_nothing(service, snapshot):
    before = snapshot()
    response = service.post("/api/cancel_order/1")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "2024-03-01 09:30:00" in detail  # when it was placed
    assert "30 minutes" in detail  # and the window
    assert snapshot() == before


@pytest.mark.exercise("capstone-cancel")
def test_the_idempotency_key_of_a_cancelled_order_stores_a_new_order(service):
    order_id = place(service, key="capstone-key")
    assert place(service, key="capstone-key") == order_id  # a retry, as before
    assert service.post(f"/api/cancel_order/{order_id}").status_code == 200
    again = place(service, key="capstone-key")
    assert again != order_id
    assert place(service, key="capstone-key") == again
    assert order_ids_of(service, 3) == [again]


@pytest.mark.exercise("capstone-cancel")
def test_a_cancelled_id_is_never_given_to_another_order(service):
    newest = place(service)
    assert service.post(f"/api/cancel_order/{newest}").status_code == 200
    assert place(service) > newest


@pytest.mark.exercise("capstone-cancel")
def test_the_feed_skips_a_cancelled_order_and_ends_as_usual(service):
    first = place(service)
    second = place(service)
    assert service.post(f"/api/cancel_order/{first}").status_code == 200
    text = service.get("/api/events/orders?after=3").text
    assert [line for line in text.splitlines() if line.startswith("id: ")] == [f"id: {second}"]
    assert f'event: end\ndata: {{"sent":1,"last_id":{second}}}' in text


@pytest.mark.exercise("capstone-cancel")
def test_two_cancels_at_once_one_200_and_one_404(service):
    # Two threads: the two requests are served at the same time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(5):
            order_id = place(service)
            url = f"/api/cancel_order/{order_id}"
            pair = list(pool.map(service.post, [url, url]))
            assert sorted(answer.status_code for answer in pair) == [200, 404]
