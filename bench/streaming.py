"""Streaming: GET /api/customers against a plain sqlite3 loop, and against collecting.

For 200k and 1M customers it measures, on a real server: the time to the
last byte, the time to the first byte, and how much the server's memory
grew while answering. Baselines, in the same run:

- a plain sqlite3 loop in this process that builds the same JSON (no HTTP,
  no async, no SQLAlchemy): the floor for the time;
- a server that collects every row into a list before answering
  (bench/baseline_app.py): what streaming saves in memory.

Also POST /api/query with SELECT * FROM customer, which streams the same way,
and, with BENCH_PG_URL set, the same stream from PostgreSQL against a plain
asyncpg loop.
Writes a chart of memory growth against rows to docs/img/.
"""

import asyncio
import json
import socket
import sqlite3
import time

import orjson

from bench.common import (
    MB,
    RESULTS,
    baseline,
    engines,
    marketsvc,
    median,
    seeded_sqlite,
    seeded_url,
    sqlite_url,
    table,
)
from bench.svg import line_chart
from marketsvc.config import REPO_ROOT

CUSTOMERS_SQL = (
    "SELECT customer.id, customer.name, address.flat_number, address.post_code "
    "FROM customer JOIN address ON address.id = customer.address_id ORDER BY customer.id"
)
SIZES = [200_000, 1_000_000]
CHART_SIZES = [50_000, 200_000, 1_000_000]
REPEATS = 3
TOKEN = "bench-token"


def plain_loop(path) -> float:
    """The same JSON, built by a plain loop over sqlite3 rows, encoded in one go."""
    start = time.perf_counter()
    conn = sqlite3.connect(path)
    customers = []
    for cid, name, flat, post in conn.execute(CUSTOMERS_SQL):
        customers.append(
            {"id": cid, "name": name, "address": {"flat_number": flat, "post_code": post}}
        )
    body = orjson.dumps(customers)
    conn.close()
    assert body.endswith(b"}]")
    return time.perf_counter() - start


async def plain_asyncpg_loop(url: str) -> float:
    """The PostgreSQL twin of plain_loop: asyncpg rows, the same JSON."""
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    start = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    rows = await conn.fetch(CUSTOMERS_SQL)
    body = orjson.dumps(
        [
            {"id": r[0], "name": r[1], "address": {"flat_number": r[2], "post_code": r[3]}}
            for r in rows
        ]
    )
    await conn.close()
    assert body.endswith(b"}]")
    return time.perf_counter() - start


def fetch(server, method: str, path: str, body: bytes = b"", headers: str = "") -> dict:
    """One request over a raw socket: seconds to first byte and to last, memory growth."""
    server.reset_peak()
    before = server.rss()
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        start = time.perf_counter()
        sock.sendall(request)
        first = sock.recv(65536)
        ttfb = time.perf_counter() - start
        size = len(first)
        while chunk := sock.recv(1 << 20):
            size += len(chunk)
        total = time.perf_counter() - start
    assert first.startswith(b"HTTP/1.1 200"), first[:200]
    return {"ttfb": ttfb, "total": total, "bytes": size, "growth": server.peak() - before}


def measure(server, method, path, body=b"", headers="") -> dict:
    # One request first: a fresh process opens its pool's connections and
    # prepares its statements once (40-60 ms on PostgreSQL), not per request.
    fetch(server, method, path, body, headers)
    runs = [fetch(server, method, path, body, headers) for _ in range(REPEATS)]
    return {key: median(run[key] for run in runs) for key in runs[0]}


def main() -> str:
    rows, chart = [], {"streamed (/api/customers)": [], "collected (baseline)": []}
    query_rows = []
    for customers in sorted(set(SIZES + CHART_SIZES)):
        path = seeded_sqlite(customers, 0)
        url = sqlite_url(path)
        loop = median(plain_loop(path) for _ in range(REPEATS))
        with marketsvc(url, MARKETSVC_QUERY_TOKEN=TOKEN) as server:
            streamed = measure(server, "GET", "/api/customers")
            query = json.dumps({"query": "SELECT * FROM customer"}).encode()
            auth = f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
            research = measure(server, "POST", "/api/query", query, auth)
        with baseline(url) as server:
            collected = measure(server, "GET", "/customers/collected")
        chart["streamed (/api/customers)"].append((customers, streamed["growth"] / MB))
        chart["collected (baseline)"].append((customers, collected["growth"] / MB))
        if customers not in SIZES:
            continue
        total = customers + 3
        rows.append(
            [f"{total:,}", "SQLite", "plain sqlite3 loop (in process)", loop, "-", "-", 1.0]
        )
        rows.append(
            [
                f"{total:,}",
                "SQLite",
                "marketsvc GET /api/customers (streamed)",
                streamed["total"],
                streamed["ttfb"] * 1000,
                streamed["growth"] / MB,
                streamed["total"] / loop,
            ]
        )
        rows.append(
            [
                f"{total:,}",
                "SQLite",
                "baseline: collect, then send",
                collected["total"],
                collected["ttfb"] * 1000,
                collected["growth"] / MB,
                collected["total"] / loop,
            ]
        )
        query_rows.append(
            [f"{total:,}", research["total"], research["ttfb"] * 1000, research["growth"] / MB]
        )
    rows += postgres_rows()
    text = table(
        f"Streaming customers (median of {REPEATS})",
        [
            "customers",
            "engine",
            "how",
            "seconds",
            "first byte (ms)",
            "memory growth (MB)",
            "x plain loop",
        ],
        rows,
    )
    text += table(
        f"POST /api/query: SELECT * FROM customer (SQLite, median of {REPEATS})",
        ["rows", "seconds", "first byte (ms)", "memory growth (MB)"],
        query_rows,
    )
    chart_path = line_chart(
        REPO_ROOT / "docs" / "img" / "streaming-memory.svg",
        "Server memory growth while answering GET customers",
        "customers",
        "MB",
        chart,
    )
    print(f"chart: {chart_path.relative_to(REPO_ROOT)}")
    (RESULTS / "streaming.json").write_text(json.dumps(chart))
    return text


def postgres_rows() -> list[list]:
    """The same streaming measurement on PostgreSQL, when BENCH_PG_URL is set."""
    rows = []
    for engine, server_url in engines():
        if server_url is None:
            continue
        for customers in SIZES:
            url = seeded_url(server_url, customers, 0)
            loop = median(asyncio.run(plain_asyncpg_loop(url)) for _ in range(REPEATS))
            with marketsvc(url) as server:
                streamed = measure(server, "GET", "/api/customers")
            total = f"{customers + 3:,}"
            rows.append([total, engine, "plain asyncpg loop (in process)", loop, "-", "-", 1.0])
            rows.append(
                [
                    total,
                    engine,
                    "marketsvc GET /api/customers (streamed)",
                    streamed["total"],
                    streamed["ttfb"] * 1000,
                    streamed["growth"] / MB,
                    streamed["total"] / loop,
                ]
            )
    return rows
