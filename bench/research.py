"""POST /api/query under attack: memory, time past the limit, connections.

python -m bench research   (BENCH_PG_URL adds PostgreSQL)

Each attack runs against a real server process:

- memory: the server's peak resident memory while it answers a query that
  would build a gigabyte-sized value, and one that streams many large rows;
  and how long GET / takes meanwhile.
- time past the limit: a query sends its first rows, then stalls in its next
  fetch (on PostgreSQL after lifting statement_timeout); the client leaves.
  How many seconds after the time limit is the research backend gone
  (PostgreSQL: pg_stat_activity), and the research slot free again?
- connections: 110 concurrent `pg_sleep` queries; the most research
  connections pg_stat_activity shows, and what GET /api/stats answers.
"""

import asyncio
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import common
from marketsvc.research import APPLICATION_NAME, research_login_name

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT = 2.0
RUNS = 3

BIG_VALUE = {
    "SQLite": "SELECT zeroblob(1000000000) AS b",
    "PostgreSQL": "SELECT repeat('x', 1000000000) AS b",
}
# Below PostgreSQL's own limit of 1 GB per value: what a PostgreSQL research
# query can still cost (SQLite stops it at 1 MB).
LARGE_VALUE = {
    "SQLite": "SELECT zeroblob(300000000) AS b",
    "PostgreSQL": "SELECT repeat('x', 300000000) AS b",
}
MANY_BIG_ROWS = {
    "SQLite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300) "
        "SELECT x, randomblob(900000) AS b FROM c"
    ),
    "PostgreSQL": "SELECT g, repeat('x', 900000) AS b FROM generate_series(1, 300) AS g",
}
STALLS = {
    "SQLite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 2500) "
        "SELECT x, printf('%0100d', x) AS pad FROM c UNION ALL SELECT count(*), '' FROM "
        "(WITH RECURSIVE d(y) AS (SELECT 1 UNION ALL SELECT y + 1 FROM d) SELECT y FROM d)"
    ),
    "PostgreSQL": (
        "SELECT set_config('statement_timeout', '0', false) AS lifted, repeat('x', 100) AS pad, "
        "CASE WHEN g > 2000 THEN pg_sleep(600) END AS stall FROM generate_series(1, 3000) AS g"
    ),
}


async def _sql(url: str, statement: str, params: dict | None = None) -> list:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(statement), params or {})
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()


def research_backends(url: str, state: str | None = None) -> int:
    where = " AND state = :state" if state else ""
    rows = asyncio.run(
        _sql(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app "
            f"AND datname = current_database(){where}",
            {"app": APPLICATION_NAME, "state": state},
        )
    )
    return rows[0][0]


def memory_attack(server: common.Server, sql: str) -> tuple[float, int, float]:
    """(peak MB above the start, status, slowest GET / in s while it ran)."""
    before = server.rss()
    server.reset_peak()
    slowest = 0.0
    done = threading.Event()

    def poke() -> None:
        nonlocal slowest
        while not done.is_set():
            started = time.monotonic()
            httpx.get(server.url + "/", timeout=60)
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.05)

    poker = threading.Thread(target=poke)
    poker.start()
    status = 0
    try:
        with httpx.stream(
            "POST", server.url + "/api/query", json={"query": sql}, headers=AUTH, timeout=120
        ) as response:
            status = response.status_code
            for _ in response.iter_bytes():
                pass
    except httpx.HTTPError:
        status = -1  # aborted mid-stream
    finally:
        done.set()
        poker.join()
    return (server.peak() - before) / common.MB, status, slowest


def read_until_it_stalls(server_url: str, sql: str) -> float:
    """Read a response until no byte comes for 0.5 s, then leave; when did the last come?"""
    last = time.monotonic()
    timeout = httpx.Timeout(30, read=0.5)
    with httpx.stream(
        "POST", server_url + "/api/query", json={"query": sql}, headers=AUTH, timeout=timeout
    ) as response:
        try:
            for _ in response.iter_bytes():
                last = time.monotonic()
        except httpx.ReadTimeout:
            pass  # the query is stuck in its next fetch: the client gives up
    return last


def seconds_past_the_limit(server: common.Server, url: str, engine: str) -> float:
    """Seconds from the stalled fetch's start until research is idle, minus the limit."""
    stalled_since = read_until_it_stalls(server.url, STALLS[engine])
    while True:
        if engine == "PostgreSQL":
            idle = research_backends(url, "active") == 0
        else:  # the slot comes back when the statement has stopped
            one = httpx.post(
                server.url + "/api/query", json={"query": "SELECT 1 AS x"}, headers=AUTH
            )
            idle = one.status_code == 200
        if idle:
            return time.monotonic() - stalled_since - TIMEOUT
        time.sleep(0.05)


def connections_under_flood(server: common.Server, url: str) -> tuple[int, dict, int]:
    """110 concurrent pg_sleep: (most research connections, statuses, /api/stats status)."""
    most = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal most
        while not stop.is_set():
            most = max(most, research_backends(url))
            time.sleep(0.1)

    async def flood():
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
            tasks = [
                asyncio.create_task(
                    client.post("/api/query", json={"query": "SELECT pg_sleep(5)"}, headers=AUTH)
                )
                for _ in range(110)
            ]
            await asyncio.sleep(1)
            stats = await client.get("/api/stats")
            return await asyncio.gather(*tasks), stats.status_code

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        responses, stats = asyncio.run(flood())
    finally:
        stop.set()
        watcher.join()
    statuses: dict[int, int] = {}
    for response in responses:
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return most, statuses, stats


def fresh_pg_database(server_url: str) -> str:
    name = "marketsvc_bench_research"
    asyncio.run(_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_sql(server_url, f'CREATE DATABASE "{name}"'))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(server_url: str, url: str) -> None:
    login = research_login_name(make_url(url).database)
    asyncio.run(_sql(url, f"DROP OWNED BY {login}"))
    asyncio.run(_sql(server_url, f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)'))
    asyncio.run(_sql(server_url, f"DROP ROLE IF EXISTS {login}"))


def measure(engine: str, url: str) -> list[list]:
    env = {
        "MARKETSVC_QUERY_TOKEN": TOKEN,
        "MARKETSVC_QUERY_TIMEOUT": str(TIMEOUT),
        "MARKETSVC_POOL_TIMEOUT": "0.5",
        # One slot: a second query answers only once the stalled one stopped.
        "MARKETSVC_QUERY_POOL_SIZE": "1",
    }
    rows = []
    with common.marketsvc(url, **env) as server:
        attacks = (
            ("a 1 GB value", BIG_VALUE),
            ("a 300 MB value", LARGE_VALUE),
            ("300 rows of 900 KB", MANY_BIG_ROWS),
        )
        for name, sql in attacks:
            peak, status, slowest = memory_attack(server, sql[engine])
            rows.append([engine, f"memory: {name}", f"{peak:.0f} MB peak", status, slowest])
        past = [seconds_past_the_limit(server, url, engine) for _ in range(RUNS)]
        rows.append(
            [engine, "client left a stalled query", f"{common.median(past):.2f} s past", "", ""]
        )
    if engine == "PostgreSQL":
        del env["MARKETSVC_QUERY_POOL_SIZE"]  # the default: 2 per process
        with common.marketsvc(url, **env) as server:
            most, statuses, stats = connections_under_flood(server, url)
        rows.append([engine, "110 x pg_sleep(5)", f"{most} connections", statuses, stats])
    return rows


def main() -> str:
    rows = []
    for engine, server_url in common.engines():
        if server_url is None:
            with tempfile.TemporaryDirectory() as folder:
                rows += measure(engine, common.sqlite_url(Path(folder) / "research.db"))
        else:
            url = fresh_pg_database(server_url)
            try:
                rows += measure(engine, url)
            finally:
                drop_pg_database(server_url, url)
    return common.table(
        f"POST /api/query under attack (MARKETSVC_QUERY_TIMEOUT={TIMEOUT:g}, "
        f"median of {RUNS} for the time past the limit)",
        ["engine", "attack", "cost", "status", "slowest GET / (s)"],
        rows,
    )


if __name__ == "__main__":
    main()
