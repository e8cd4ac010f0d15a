"""Research queries on a read replica: a real PostgreSQL primary and hot standby.

The test builds its own small cluster pair in a temporary directory (initdb,
then pg_basebackup of a streaming standby), on free loopback ports, so that
it changes nothing on the shared server. The service writes to the primary
and sends POST /api/query to the standby (MARKETSVC_QUERY_DATABASE_URL).

PostgreSQL refuses to run as root; when the tests run as root they start it
as the `postgres` user.
"""

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import free_port
from marketsvc.config import Settings
from marketsvc.db.schema import TABLES
from marketsvc.server import create_app

pytestmark = pytest.mark.slow

TOKEN = "replica-test-token"
# The operator's reader login: made on the primary, it reaches the standby
# with the rest of the data. The service refuses a superuser for research.
READER = "replica_reader"


def _postgres_program(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _run_as_postgres(directory: Path) -> dict:
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam("postgres")
    os.chown(directory, account.pw_uid, account.pw_gid)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


class ClusterPair:
    """A primary and its streaming standby, each on a loopback port of its own."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.as_postgres = _run_as_postgres(directory)
        self.primary_port, self.replica_port = free_port(), free_port()
        self.bin = {name: _postgres_program(name) for name in ("initdb", "pg_ctl", "pg_basebackup")}

    def run(self, *argv: str) -> None:
        subprocess.run(
            argv,
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.directory,
            **self.as_postgres,
        )

    def start(self, name: str, port: int) -> None:
        options = f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        data, log = self.directory / name, self.directory / f"{name}.log"
        self.run(self.bin["pg_ctl"], "-D", str(data), "-l", str(log), "-o", options, "-w", "start")

    def create(self) -> "ClusterPair":
        primary = self.directory / "primary"
        self.run(self.bin["initdb"], "-D", str(primary), "-A", "trust", "-U", "postgres", "-N")
        self.start("primary", self.primary_port)
        replica = str(self.directory / "replica")
        host = ("-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres")
        self.run(self.bin["pg_basebackup"], *host, "-D", replica, "-R", "-X", "stream")
        self.start("replica", self.replica_port)
        return self

    def stop(self) -> None:
        for name in ("replica", "primary"):
            if (self.directory / name / "postmaster.pid").exists():
                self.run(self.bin["pg_ctl"], "-D", str(self.directory / name), "-m", "fast", "stop")

    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/{database}"


@pytest.fixture(scope="module")
def clusters() -> Iterator[ClusterPair]:
    if not all(_postgres_program(name) for name in ("initdb", "pg_ctl", "pg_basebackup")):
        pytest.skip(
            "PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are not installed"
        )
    directory = Path(tempfile.mkdtemp(prefix="marketsvc-replica-"))
    pair = ClusterPair(directory)
    try:
        yield pair.create()
    finally:
        pair.stop()
        shutil.rmtree(directory, ignore_errors=True)


def ask(client: TestClient, sql: str):
    return client.post(
        "/api/query", json={"query": sql}, headers={"Authorization": f"Bearer {TOKEN}"}
    )


def eventually(check, timeout: float = 15):
    """Retry check() until it returns something true: the standby replays a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            result = None
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


async def create_reader(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE ROLE {READER} LOGIN"))
            await conn.execute(text(f"GRANT SELECT ON {', '.join(TABLES)} TO {READER}"))
    finally:
        await engine.dispose()


async def wait_for_replay(primary_url: str, replica_url: str) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    primary, replica = create_async_engine(primary_url), create_async_engine(replica_url)
    try:
        async with primary.connect() as conn:
            written = await conn.scalar(text("SELECT pg_current_wal_lsn()"))
        async with asyncio.timeout(60), replica.connect() as conn:
            replayed = "SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"
            while True:
                if await conn.scalar(text(replayed), {"lsn": written}):
                    break
                await asyncio.sleep(0.1)  # the standby replays on its own time
    finally:
        await primary.dispose()
        await replica.dispose()


def test_research_queries_run_on_the_replica(clusters):
    primary = clusters.url(clusters.primary_port)
    # A first start creates the schema, so that the reader can be granted it.
    with TestClient(create_app(Settings(database_url=primary))):
        pass
    asyncio.run(create_reader(primary))
    # As an operator would, the service starts once the standby has the
    # reader: it checks that login at start-up, and without it research is off.
    asyncio.run(wait_for_replay(primary, clusters.url(clusters.replica_port)))
    replica = clusters.url(clusters.replica_port).replace("postgres@", f"{READER}@")
    settings = Settings(database_url=primary, query_database_url=replica, query_token=TOKEN)
    with TestClient(create_app(settings)) as client:

        def orders_on_replica() -> int | None:
            response = ask(client, "SELECT count(*) AS n FROM orders")
            return response.json()[0]["n"] if response.status_code == 200 else None

        # The schema and sample data were created on the primary at start-up.
        assert eventually(lambda: orders_on_replica() == 3)
        where = ask(client, "SELECT pg_is_in_recovery() AS standby, current_user AS who").json()
        assert where == [{"standby": True, "who": READER}]

        body = {"customer_id": 3, "items": [{"id": 4, "quantity": 2}]}
        assert client.post("/api/add_new_order", json=body).status_code == 201
        assert eventually(lambda: orders_on_replica() == 4)

        refused = ask(client, "INSERT INTO item (name, price) VALUES ('x', 1) RETURNING id")
        assert refused.status_code == 400
        assert "read-only" in refused.json()["detail"]
