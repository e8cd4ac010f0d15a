"""GET /api/events/orders: Server-Sent Events from a session opened in the generator."""

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from marketsvc.server import create_app
from tests.conftest import ThreadServer


def parse(stream_text: str) -> list[dict]:
    """The events of a text/event-stream body: [{'id':..., 'event':..., 'data':...}, ...]."""
    events = []
    for block in stream_text.strip().split("\n\n"):
        fields = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields:
            fields["data"] = json.loads(fields["data"])
            events.append(fields)
        else:
            events.append({"comment": block})
    return events


def test_one_order_event_per_order_then_end(client):
    response = client.get("/api/events/orders")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    events = parse(response.text)
    assert [(e["event"], e.get("id")) for e in events] == [
        ("order", "1"),
        ("order", "2"),
        ("order", "3"),
        ("end", None),
    ]
    assert events[0]["data"]["total"] == 20.5
    assert events[0]["data"]["items"][1] == {
        "item_id": 3,
        "name": "Bread",
        "price": 10.5,
        "quantity": 1,
        "total": 10.5,
    }
    assert events[-1]["data"] == {"sent": 3, "last_id": 3}


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ("?customer_id=1", {}, ["1", "3"]),
        ("?after=1", {}, ["2", "3"]),
        ("?limit=2", {}, ["1", "2"]),
        ("?customer_id=1&after=1", {}, ["3"]),
        ("?customer_id=3", {}, []),
        ("", {"Last-Event-ID": "2"}, ["3"]),
        ("?after=0", {"Last-Event-ID": "1"}, ["2", "3"]),
    ],
)
def test_filters_and_resuming(client, query, headers, expected):
    events = parse(client.get(f"/api/events/orders{query}", headers=headers).text)
    assert [e["id"] for e in events if e["event"] == "order"] == expected
    assert events[-1]["event"] == "end"


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?customer_id=0", {}, 422),
        ("?customer_id=abc", {}, 422),
        ("?customer_id=99", {}, 404),
        ("?after=-1", {}, 422),
        ("?limit=0", {}, 422),
        ("?limit=many", {}, 422),
        ("?follow=maybe", {}, 422),
        ("", {"Last-Event-ID": "banana"}, 422),
        ("", {"Last-Event-ID": "-5"}, 422),
        ("", {"Last-Event-ID": str(2**40)}, 422),
        ("", {"Last-Event-ID": b"\xb3"}, 422),  # "³": a digit to str.isdigit, not to int()
        ("", {"Last-Event-ID": "9" * 5000}, 422),
    ],
)
def test_bad_filters(client, query, headers, status):
    response = client.get(f"/api/events/orders{query}", headers=headers)
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.fixture
def events_server(settings):
    server = ThreadServer(settings.replace(sse_keepalive=0.2)).start()
    yield server
    server.stop()


def test_follow_sends_keepalives_then_new_orders(events_server):
    url = events_server.url
    with httpx.stream("GET", f"{url}/api/events/orders?follow=true&limit=4", timeout=10) as r:
        lines = r.iter_lines()
        seen = []
        for line in lines:
            seen.append(line)
            if line == ": keep-alive":
                break
        body = {"customer_id": 2, "items": [{"id": 4, "quantity": 1}]}
        order_id = httpx.post(f"{url}/api/add_new_order", json=body).json()["order_id"]
        rest = "\n".join(lines)
    events = parse("\n".join(seen) + "\n" + rest)
    orders = [e for e in events if e.get("event") == "order"]
    assert [e["id"] for e in orders] == ["1", "2", "3", str(order_id)]
    assert any(e.get("comment") == ": keep-alive" for e in events)
    assert events[-1]["event"] == "end"


def test_a_client_leaving_stops_the_stream_and_frees_its_connection(events_server):
    baseline = events_server.task_names()
    with httpx.stream("GET", f"{events_server.url}/api/events/orders?follow=true", timeout=10) as r:
        for line in r.iter_lines():
            if line == ": keep-alive":
                break  # caught up and idle: now leave
    assert events_server.settle(lambda: events_server.task_names() == baseline)
    assert events_server.checked_out() == 0
    assert httpx.get(f"{events_server.url}/api/order_total/1").status_code == 200


def test_sse_test_client_sees_the_whole_stream(settings):
    with TestClient(create_app(settings)) as client:
        assert parse(client.get("/api/events/orders?limit=1").text)[-1]["data"]["sent"] == 1


def test_the_feed_is_described_as_an_event_stream_in_openapi(client):
    operation = client.get("/openapi.json").json()["paths"]["/api/events/orders"]["get"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    events = content["text/event-stream"]["itemSchema"]["properties"]
    assert {"data", "event", "id", "retry"} <= set(events)
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert names == {"customer_id", "after", "limit", "follow", "last-event-id"}
    assert {"404", "422"} <= set(operation["responses"])
