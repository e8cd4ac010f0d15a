"""The capstone: POST /api/cancel_order/{order_id}, checked by what the API answers.

Every test runs on SQLite and on PostgreSQL (see `any_database_url`).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from marketsvc.config import Settings
from marketsvc.db import schema
from marketsvc.db.models import Order, OrderItem
from marketsvc.server import create_app
# steps: main tests/test_cancel_order.py::ORDER
# steps: main tests/test_cancel_order.py::place
# steps: main tests/test_cancel_order.py::cancel
# steps: main tests/test_cancel_order.py::run_sql
# steps: main tests/test_cancel_order.py::order_placed_ago


@pytest.fixture
def database_url(any_database_url: str) -> str:
    """Here the test database is `any_database_url`, so `client`, `snapshot`
    and `settings` run every test on SQLite and on PostgreSQL."""
    return any_database_url
# steps: main tests/conftest.py::settings


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
# steps: main tests/test_cancel_order.py::test_cancelling_removes_the_order_and_its_lines_and_nothing_else
#+@pytest.mark.exercise("capstone-cancel")
# steps: main tests/test_cancel_order.py::test_an_unknown_order_is_404_and_changes_nothing
#+@pytest.mark.exercise("capstone-cancel")
# steps: main tests/test_cancel_order.py::test_the_second_cancel_of_an_order_is_404
#+@pytest.mark.exercise("capstone-cancel")
# steps: main tests/test_cancel_order.py::test_an_id_that_cannot_exist_is_422
#+@pytest.mark.exercise("capstone-cancel")


@pytest.mark.exercise("capstone-cancel")
def test_an_old_order_is_409_says_why_and_changes_nothing(client, snapshot):
    before = snapshot()
    response = cancel(client, 1)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "2024-03-01 09:30:00" in detail  # when it was placed
    assert "30 minutes" in detail  # and the window
    assert snapshot() == before
# steps: main tests/test_cancel_order.py::test_the_window_is_thirty_minutes_after_the_order_was_placed
#+@pytest.mark.exercise("capstone-cancel")
# steps: main tests/test_cancel_order.py::refuse_deleting_orders
# steps: main tests/test_cancel_order.py::test_a_failure_half_way_rolls_the_whole_cancel_back
#+@pytest.mark.exercise("capstone-cancel")
# steps: main tests/test_cancel_order.py::test_an_idempotency_key_is_forgotten_with_its_order
#+@pytest.mark.exercise("capstone-cancel")
# steps: main tests/test_cancel_order.py::test_the_id_of_a_cancelled_order_is_never_used_again
#+@pytest.mark.exercise("capstone-cancel")


@pytest.mark.exercise("capstone-cancel")
def test_the_feed_skips_a_cancelled_order_and_ends_as_usual(client):
    first = place(client)
    second = place(client)
    assert cancel(client, first).status_code == 200
    stream = client.get("/api/events/orders?after=3").text
    assert [line for line in stream.splitlines() if line.startswith("id: ")] == [f"id: {second}"]
    assert f'event: end\ndata: {{"sent":1,"last_id":{second}}}' in stream


@pytest.mark.exercise("capstone-cancel")
def test_two_cancels_at_once_one_200_and_one_404(client):
    # Two threads: the two requests are served at the same time.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(5):
            order_id = place(client)
            url = f"/api/cancel_order/{order_id}"
            pair = list(pool.map(client.post, [url, url]))
            assert sorted(answer.status_code for answer in pair) == [200, 404]
