"""The service behind a real PgBouncer in transaction-pooling mode.

In transaction mode PgBouncer lends a server connection for one transaction
at a time, to whichever client asks next. asyncpg's prepared statements
would not survive that without configuration: the database URL says
?prepared_statement_cache_size=0 and the engine then names every statement
uniquely (marketsvc.db.engine.behind_transaction_pooler).

The route tests of test_routes.py run here again, every request going
through PgBouncer, and so does a concurrent burst of orders against a
served process of two workers.

PgBouncer refuses to run as root; when the tests run as root (as CI does)
it is started as the `postgres` user, in a temporary directory that user
owns, with a configuration of its own on a free loopback port.
"""

import asyncio
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import loadgen
from bench.common import free_port, stop_process
from tests.conftest import PG_ENV, _admin, _run
from tests.deployed import start_all, stop_all
from tests.test_routes import *  # noqa: F403  (the route tests, run again through PgBouncer)

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# Fewer server connections than the service's pool asks for: clients must
# share them, one transaction at a time, which is the point of the exercise.
SERVER_POOL_SIZE = 8

CONFIG = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
logfile = {directory}/pgbouncer.log
"""


def _as_unprivileged_user(directory: Path) -> dict:
    """Popen options that run PgBouncer as `postgres` when we are root."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam("postgres")
    for path in [directory, *directory.iterdir()]:
        os.chown(path, account.pw_uid, account.pw_gid)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {log.read_text() if log.exists() else ''}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("pgbouncer did not listen within 20 s")


@dataclass
class PgBouncer:
    url: str  # the test server's URL, with PgBouncer's port
    log: Path

    def clients_of(self, database: str) -> int:
        """Client logins to `database` that PgBouncer has logged."""
        return self.log.read_text().count(f"login attempt: db={database} ")


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[PgBouncer]:
    """A running PgBouncer in front of the test server."""
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"PgBouncer: set {PG_ENV} to name the PostgreSQL server behind it")
    if not os.path.exists(PGBOUNCER):
        pytest.skip("PgBouncer is not installed (apt-get install pgbouncer)")
    backend = make_url(server)
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = free_port()
    (directory / "users.txt").write_text(f'"{backend.username}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        CONFIG.format(
            host=backend.host,
            port=backend.port or 5432,
            listen_port=port,
            directory=directory,
            pool_size=SERVER_POOL_SIZE,
        )
    )
    process = subprocess.Popen(
        [PGBOUNCER, str(directory / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **_as_unprivileged_user(directory),
    )
    try:
        _wait_for_port(port, process, directory / "pgbouncer.log")
        url = backend.set(port=port).render_as_string(hide_password=False)
        yield PgBouncer(url, directory / "pgbouncer.log")
    finally:
        stop_process(process)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def direct_url() -> Iterator[str]:
    """A fresh database, reached directly (to create, check and drop it)."""
    server = os.environ[PG_ENV]
    name = f"marketsvc_test_{uuid.uuid4().hex[:12]}"
    _run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(pgbouncer: PgBouncer, direct_url: str) -> str:
    """The same database through PgBouncer: what the service is given."""
    url = make_url(pgbouncer.url).set(database=make_url(direct_url).database)
    url = url.update_query_dict({"prepared_statement_cache_size": "0"})
    return url.render_as_string(hide_password=False)


def test_requests_really_go_through_pgbouncer(pgbouncer, client, direct_url):
    """Guard for the route tests above: the service logs in at PgBouncer."""
    database = make_url(direct_url).database
    assert client.get("/api/order_total/1").status_code == 200
    assert pgbouncer.clients_of(database) >= 1


async def _count_orders(url: str) -> tuple[int, int]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            orders = await conn.scalar(text("SELECT count(*) FROM orders"))
            lines = await conn.scalar(text("SELECT count(*) FROM order_items"))
            return orders, lines
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_a_burst_of_orders_through_pgbouncer(database_url, direct_url, tmp_path):
    (server,) = start_all(1, database_url, tmp_path, workers=2)
    try:
        bodies = [
            {"customer_id": 1 + n % 3, "items": [{"id": 1 + n % 4, "quantity": 1 + n % 5}]}
            for n in range(500)
        ]
        requests = [("POST", "/api/add_new_order", json.dumps(b).encode()) for b in bodies]
        result = asyncio.run(loadgen.run("127.0.0.1", server.port, requests, 100))
        totals = httpx.post(server.url + "/api/orders_total", json={"orders": [1, 2, 3]})
    finally:
        stop_all([server])
    assert result.statuses == [201] * 500
    assert totals.json() == [
        {"order_id": 1, "total": 20.5},
        {"order_id": 2, "total": 15},
        {"order_id": 3, "total": 21},
    ]
    assert _run(_count_orders(direct_url)) == (3 + 500, 6 + 500)
    assert server.failures() == [], server.text()


def _follow(url: str, count: int, log: list) -> None:
    """Read `count` order events from the feed at `url` into `log`."""
    with httpx.stream("GET", url + "/api/events/orders?follow=true", timeout=30) as feed:
        for line in feed.iter_lines():
            if line.startswith("id: "):
                log.append(int(line[4:]))
                if len(log) == count:
                    return


@pytest.mark.parametrize("listen", ["polling", "direct LISTEN"])
def test_the_feed_delivers_through_pgbouncer(database_url, direct_url, tmp_path, listen):
    """LISTEN cannot go through transaction pooling: the feed polls, or listens directly."""
    env = {"MARKETSVC_LISTEN_DATABASE_URL": direct_url} if listen == "direct LISTEN" else {}
    (server,) = start_all(1, database_url, tmp_path, workers=1, **env)
    seen: list[int] = []
    try:
        follower = threading.Thread(target=_follow, args=(server.url, 3 + 20, seen))
        follower.start()
        for n in range(20):
            body = {"customer_id": 1, "items": [{"id": 1 + n % 4, "quantity": 1}]}
            assert httpx.post(server.url + "/api/add_new_order", json=body).status_code == 201
        follower.join(timeout=30)
    finally:
        stop_all([server])
    assert seen == list(range(1, 24))
    assert "listening failed" not in server.text()
    assert server.failures() == [], server.text()
