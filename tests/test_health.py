"""GET /healthz (the process) and GET /readyz (the process and its database)."""

import asyncio
import os
import time

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from marketsvc import lifecycle
from tests.conftest import PG_ENV, ThreadServer
from tests.test_faults import all_connections_taken


@pytest.fixture
def server(settings):
    settings = settings.replace(pool_size=1, pool_timeout=5, ready_timeout=0.5)
    server = ThreadServer(settings).start()
    yield server
    server.stop()


def test_both_answer_ok_when_all_is_well(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_both_are_in_the_openapi_document_with_their_models(client):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["Healthy"]["properties"]["status"]["const"] == "ok"
    assert schemas["Healthy"]["required"] == ["status"]
    assert schemas["NotReady"]["required"] == ["detail"]
    health = document["paths"]["/healthz"]["get"]["responses"]
    ready = document["paths"]["/readyz"]["get"]["responses"]
    assert health["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Healthy")
    assert ready["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/NotReady")


def test_without_a_free_connection_readyz_is_503_and_healthz_still_ok(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        with all_connections_taken(server):
            start = time.monotonic()
            ready = http.get("/readyz")
            waited = time.monotonic() - start
            assert ready.status_code == 503
            assert ready.json() == {"detail": "the database did not answer within 0.5 s"}
            assert ready.headers["retry-after"] == "1"
            # The ready timeout, not the pool's 5 s, is what it waited.
            assert waited < 4
            assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 200


def test_readyz_is_503_once_shutdown_has_begun(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        server.loop.call_soon_threadsafe(lifecycle.begin_shutdown)
        assert server.settle(lambda: http.get("/readyz").status_code == 503)
        assert http.get("/readyz").json() == {"detail": "the server is shutting down"}
        assert http.get("/healthz").status_code == 200


async def _admin(statements: list[str]) -> None:
    engine = create_async_engine(os.environ[PG_ENV], poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
            await conn.commit()
    finally:
        await engine.dispose()


def refuse_connections(database_url: str, refuse: bool) -> None:
    """PostgreSQL: let the database accept no connections (and drop the open ones)."""
    name = make_url(database_url).database
    statements = [f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}']
    if refuse:
        statements.append(
            # The timeout: return once they have exited, not just been told to.
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    asyncio.run(_admin(statements))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_readyz_is_503_while_the_database_refuses_connections(server, database_url):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        refuse_connections(database_url, True)
        try:
            ready = http.get("/readyz")
            assert ready.status_code == 503, ready.text
            assert ready.json()["detail"] == "cannot connect to the database"
            assert http.get("/healthz").status_code == 200
            # And the API says so the same way: 503, not 500.
            response = http.get("/api/order_total/1")
            assert response.status_code == 503
            assert response.json()["detail"].startswith("cannot connect to the database")
        finally:
            refuse_connections(database_url, False)
        # Back by itself: no restart of the service.
        assert http.get("/readyz").status_code == 200
        assert http.get("/api/order_total/1").status_code == 200
