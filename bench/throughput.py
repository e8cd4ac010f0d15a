"""Throughput: GET /api/order_total/{id} with 32 connections, against a plain ceiling.

The ceiling is bench/baseline_app.py's /order_total/{id}: the same query in
a minimal FastAPI route, with plain sqlite3 (or a plain asyncpg pool on
PostgreSQL) and nothing else: no SQLAlchemy, no pool, no validation. Both
servers answer the same random ids, in alternating rounds, so that a noisy
machine disturbs both alike.
"""

import asyncio
import random

from bench import loadgen
from bench.common import baseline, engines, marketsvc, median, seeded_url, table

CONNECTIONS = 32
REQUESTS = 4000
ROUNDS = 3
ORDERS = 200_000


def load(server, path_of) -> float:
    ids = random.Random(7).choices(range(1, ORDERS + 1), k=REQUESTS)
    requests = [("GET", path_of(order_id), None) for order_id in ids]
    result = asyncio.run(loadgen.run("127.0.0.1", server.port, requests, CONNECTIONS))
    assert set(result.statuses) == {200}, set(result.statuses)
    return result.per_second


def main() -> str:
    rows = []
    for engine, server_url in engines():
        url = seeded_url(server_url, 50_000, ORDERS)
        ours, plain = [], []
        with marketsvc(url) as service, baseline(url) as ceiling:
            load(service, lambda i: f"/api/order_total/{i}")  # warm up both
            load(ceiling, lambda i: f"/order_total/{i}")
            for _ in range(ROUNDS):
                ours.append(load(service, lambda i: f"/api/order_total/{i}"))
                plain.append(load(ceiling, lambda i: f"/order_total/{i}"))
        ceiling_rps = median(plain)
        rows.append([engine, "plain ceiling (baseline_app)", ceiling_rps, 1.0])
        rows.append([engine, "marketsvc", median(ours), median(ours) / ceiling_rps])
    return table(
        f"GET order_total, {CONNECTIONS} connections, {REQUESTS} requests (median of {ROUNDS})",
        ["engine", "server", "requests/s", "x ceiling"],
        rows,
    )
