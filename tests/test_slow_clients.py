"""Clients that stop reading cannot starve the service of database connections.

Each stalled client is a real socket with a small receive buffer that reads
the first 64 KB of a stream and then nothing, against a real server process.
"""

import json
import time

import httpx
import pytest

from tests.serve import ServeProcess, StalledClient, get, post_json, seed_database

CUSTOMERS = 80_000  # about 6 MB of JSON: far more than the sockets' buffers hold
TOKEN = "slow-client-token"


@pytest.fixture
def big_database(database_url):
    seed_database(database_url, CUSTOMERS)
    return database_url


@pytest.fixture
def server(big_database, tmp_path):
    server = ServeProcess(big_database, tmp_path / "server.log", MARKETSVC_QUERY_TOKEN=TOKEN)
    yield server
    server.stop()


def test_25_stalled_streams_leave_the_service_answering(server):
    stalled = [StalledClient(server.url, get("/api/customers")) for _ in range(25)]
    try:
        assert all(client.status == 200 and not client.complete for client in stalled)
        start = time.monotonic()
        response = httpx.get(server.url + "/api/order_total/1", timeout=10)
        elapsed = time.monotonic() - start
        assert response.status_code == 200, response.text
        assert elapsed < 3, f"order_total took {elapsed:.1f} s with 25 stalled clients"
        assert httpx.get(server.url + "/api/stats", timeout=10).status_code == 200
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        # A stalled client that reads on gets the whole array, in order:
        # paging picked up where it stopped.
        resumed = stalled[0].read_to_end()
        assert resumed.complete
        customers = json.loads(resumed.body)
        assert len(customers) == CUSTOMERS + 3
        assert [c["id"] for c in customers] == sorted({c["id"] for c in customers})
    finally:
        for client in stalled:
            client.close()


@pytest.fixture
def impatient_server(big_database, tmp_path):
    server = ServeProcess(
        big_database,
        tmp_path / "server.log",
        MARKETSVC_QUERY_TOKEN=TOKEN,
        MARKETSVC_SEND_TIMEOUT="1",
    )
    yield server
    server.stop()


@pytest.mark.parametrize("route", ["customers", "query"])
def test_a_client_that_stops_reading_is_cut_off_after_the_send_timeout(impatient_server, route):
    if route == "customers":
        client = StalledClient(impatient_server.url, get("/api/customers"))
    else:
        body = json.dumps({"query": "SELECT * FROM customer"}).encode()
        request = post_json("/api/query", body, TOKEN)
        client = StalledClient(impatient_server.url, request, body)
    assert client.status == 200
    time.sleep(3)  # three times the send timeout, reading nothing
    client.read_to_end()
    assert not client.complete, "the response was aborted, not ended"
    assert client.body.startswith(b"[")
    with pytest.raises(json.JSONDecodeError):
        json.loads(client.body)  # never a well-formed but shorter array
    assert "the client read nothing for 1 s" in impatient_server.log()
    assert httpx.get(impatient_server.url + "/api/order_total/1").status_code == 200


def test_a_client_that_keeps_reading_slowly_gets_everything(impatient_server):
    # Slow but steady: each chunk is taken well within the send timeout.
    client = StalledClient(impatient_server.url, get("/api/customers"), read_bytes=0)
    while client.read_some():
        time.sleep(0.001)
    assert client.complete
    assert len(json.loads(client.body)) == CUSTOMERS + 3
