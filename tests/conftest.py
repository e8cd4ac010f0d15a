"""Fixtures shared by the service's tests.

Every test gets a database of its own: a fresh SQLite file, and, when
MARKETSVC_TEST_DATABASE_URL names a PostgreSQL server, the same test again on
a fresh PostgreSQL database that is dropped afterwards.
"""

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import free_port, stop_process
from marketsvc.config import REPO_ROOT, Settings
from marketsvc.db.schema import ALL_TABLES
from marketsvc.research import research_login_name
from marketsvc.server import create_app

PG_ENV = "MARKETSVC_TEST_DATABASE_URL"


def pytest_report_header() -> str:
    if os.environ.get(PG_ENV):
        where = make_url(os.environ[PG_ENV]).render_as_string(hide_password=True)
        return f"PostgreSQL tests: on, against {where}"
    return f"PostgreSQL tests: off ({PG_ENV} is not set); SQLite only"


def _run(coro):
    return asyncio.run(coro)


async def _admin(url: str, statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """An async URL of an empty database that only this test uses."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"PostgreSQL: set {PG_ENV} to run this test on a PostgreSQL server too")
    name = f"marketsvc_test_{uuid.uuid4().hex[:12]}"
    _run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        # A research login (POST /api/query) belongs to the whole server;
        # with its database gone it holds nothing and can go too.
        _run(_admin(server, f"DROP ROLE IF EXISTS {research_login_name(name)}"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of an app on the test's database (lifespan loads the sample data)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


async def _snapshot(url: str) -> dict[str, list[tuple]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                table: [tuple(row) for row in await conn.execute(text(f"SELECT * FROM {table}"))]
                for table in ALL_TABLES
            }
    finally:
        await engine.dispose()


@pytest.fixture
def snapshot(database_url: str):
    """snapshot() -> every row of every table, to prove a request changed nothing."""

    def take() -> dict[str, list[tuple]]:
        rows = _run(_snapshot(database_url))
        return {table: sorted(values) for table, values in rows.items()}

    return take


class LiveServer:
    """marketsvc served by a real uvicorn process on a free loopback port."""

    def __init__(self, database_url: str, env: dict[str, str] | None = None):
        self.database_url = database_url
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "LiveServer":
        env = {
            **os.environ,
            "MARKETSVC_DATABASE_URL": self.database_url,
            "MARKETSVC_PORT": str(self.port),
            **self.extra_env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "marketsvc", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start within 20 s")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process)
        if self.process and self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def live_server(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(database_url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def engine_pool_checked_in():
    """check() asserts that the service's pool has every connection back."""
    from marketsvc.db.engine import get_engine

    def check() -> None:
        pool = get_engine().pool
        assert pool.checkedout() == 0, f"connections still checked out: {pool.status()}"

    return check


def pytest_terminal_summary(terminalreporter) -> None:
    """Say plainly whether the PostgreSQL half of the suite ran."""
    ran = skipped = 0
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if "[postgresql" in getattr(report, "nodeid", "") or "-postgresql" in getattr(
                report, "nodeid", ""
            ):
                if outcome == "skipped":
                    skipped += 1
                else:
                    ran += 1
    if os.environ.get(PG_ENV):
        terminalreporter.write_line(f"PostgreSQL: {ran} tests ran on PostgreSQL.")
    else:
        terminalreporter.write_line(
            f"PostgreSQL: not tested; {skipped} tests skipped because {PG_ENV} is not set "
            "and no server answered on 127.0.0.1:5432."
        )


class ThreadServer:
    """The app under a real uvicorn server in a thread of this process.

    Unlike LiveServer, the test can look inside: at the engine's pool and
    at the tasks still running on the server's event loop.
    """

    def __init__(self, settings: Settings):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self.server.serve(),), daemon=True
        )

    def start(self) -> "ThreadServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        if self.thread.is_alive():  # a request that would not end: stop anyway
            self.server.force_exit = True
            self.thread.join(timeout=20)
        if not self.loop.is_running():
            self.loop.close()

    def checked_out(self) -> int:
        from marketsvc.db.engine import get_engine

        return get_engine().pool.checkedout()

    def task_names(self) -> list[str]:
        async def names():
            current = asyncio.current_task()
            return sorted(
                task.get_coro().__qualname__ for task in asyncio.all_tasks() if task is not current
            )

        return asyncio.run_coroutine_threadsafe(names(), self.loop).result(timeout=5)

    def settle(self, condition, timeout: float = 10.0) -> bool:
        """Wait until condition() holds, for at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()
