"""The connection budget: warned about once at start-up when it does not fit."""

import asyncio
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from marketsvc.config import Settings
from marketsvc.db.engine import create_engine
from marketsvc.db.startup import (
    FEED_LISTENERS,
    connection_budget_warning,
    connections_needed,
)
from marketsvc.server import create_app
from tests.deployed import start_all, stop_all


def test_the_sum_counts_pool_overflow_listener_and_research_per_worker():
    settings = Settings(pool_size=10, pool_overflow=10, workers=4)
    assert connections_needed(settings)[0] == 4 * (10 + 10 + FEED_LISTENERS)
    with_research = settings.replace(query_token="t")
    assert connections_needed(with_research)[0] == 4 * (21 + settings.query_pool_size)
    # Research queries on a replica do not use the primary's connections.
    on_replica = with_research.replace(
        database_url="postgresql+asyncpg://u@primary/db",
        query_database_url="postgresql+asyncpg://u@replica/db",
    )
    assert connections_needed(on_replica)[0] == 4 * 21


async def _server_limit(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            limit = int(await conn.scalar(text("SHOW max_connections")))
            reserved = int(await conn.scalar(text("SHOW superuser_reserved_connections")))
            return limit - reserved
    finally:
        await engine.dispose()


async def _warning(settings: Settings) -> str | None:
    engine = create_engine(settings.database_url)
    try:
        return await connection_budget_warning(engine, settings)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_budget_that_fits_gives_no_warning_and_one_that_does_not_says_so(database_url):
    allowed = asyncio.run(_server_limit(database_url))
    defaults = Settings()
    per_worker = defaults.pool_size + defaults.pool_overflow + FEED_LISTENERS
    fits = Settings(database_url=database_url, workers=allowed // per_worker)
    assert asyncio.run(_warning(fits)) is None

    too_many = fits.replace(workers=allowed // per_worker + 1)
    warning = asyncio.run(_warning(too_many))
    assert warning is not None
    assert f"= {too_many.workers * per_worker} connections" in warning
    assert f"allows {allowed}" in warning
    assert "MARKETSVC_WORKERS" in warning


def test_sqlite_has_no_budget(tmp_path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", workers=64)
    assert asyncio.run(_warning(settings)) is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_serve_prints_the_warning_once_for_all_its_workers(database_url, tmp_path):
    allowed = asyncio.run(_server_limit(database_url))
    # Two workers whose pools alone are more than the server allows; they
    # start (the warning is no error), and the warning is printed once.
    pool = str(allowed // 2 + 1)
    env = {"MARKETSVC_POOL_SIZE": pool, "MARKETSVC_POOL_OVERFLOW": "0"}
    servers = start_all(1, database_url, tmp_path, workers=2, **env)
    stop_all(servers)
    warnings = [line for line in servers[0].text().splitlines() if "warning:" in line]
    assert len(warnings) == 1, servers[0].text()
    assert warnings[0].startswith("marketsvc: warning: 2 worker(s) ×")


async def _as_superuser(url: str, *statements: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_refused_connection_is_a_503_not_a_500(client, database_url):
    """Beyond a connection limit PostgreSQL refuses new connections: retry later, says the 503."""
    role = f"marketsvc_limited_{uuid.uuid4().hex[:8]}"
    database = make_url(database_url).database
    asyncio.run(
        _as_superuser(
            database_url,
            f'CREATE ROLE "{role}" LOGIN',
            f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"',
        )
    )
    limited_url = make_url(database_url).set(username=role).render_as_string(False)
    try:
        app = create_app(Settings(database_url=limited_url))
        # A request on a connection the server closed is not what this test
        # is about (the first one below may fail so); the ones after it are.
        with TestClient(app, raise_server_exceptions=False) as limited:
            assert limited.get("/api/order_total/1").status_code == 200
            # Now the role may not open any connection, and the ones it has
            # are closed by the server: the service must open a new one.
            asyncio.run(
                _as_superuser(
                    database_url,
                    f'ALTER ROLE "{role}" CONNECTION LIMIT 0',
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE usename = '{role}' AND datname = '{database}'",
                )
            )
            statuses = [limited.get("/api/order_total/1") for _ in range(3)]
        assert 500 not in [r.status_code for r in statuses[1:]]
        response = statuses[-1]
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert "accepts no more connections" in response.json()["detail"]
    finally:
        asyncio.run(_as_superuser(database_url, f'DROP OWNED BY "{role}"', f'DROP ROLE "{role}"'))
