"""Throughput: GET /api/order_total/{id} with 32 connections, against a plain ceiling.

The ceiling is bench/baseline_app.py's /order_total/{id}: the same query in
a minimal FastAPI route, with plain sqlite3 (or a plain asyncpg pool on
PostgreSQL) and nothing else: no SQLAlchemy, no pool, no validation. Both
servers answer the same random ids, in alternating rounds, so that a noisy
machine disturbs both alike.

On PostgreSQL (BENCH_PG_URL) a second table scales the service out: one
server each with 1, 2 and 4 worker processes, all running at once and
measured in turns, round after round, so that the machine's noise falls on
all three alike. The spread (slowest to fastest round) and the load average
say how noisy the machine was.
"""

import asyncio
import os
import random
from contextlib import ExitStack

from bench import loadgen
from bench.common import PG_ENV, baseline, engines, marketsvc, median, seeded_url, table

CONNECTIONS = 32
REQUESTS = 4000
ROUNDS = 3
ORDERS = 200_000
WORKER_COUNTS = [1, 2, 4]
# More rounds than above: other work on the machine hits one round of one
# server at a time, and the median of five shrugs off two such rounds.
SCALING_ROUNDS = 5
# Per worker; enough for its share of the 32 connections, and small enough
# that three servers of 1 + 2 + 4 workers fit the server's max_connections.
WORKER_POOL = {"MARKETSVC_POOL_SIZE": "4", "MARKETSVC_POOL_OVERFLOW": "4"}


def load(server, path_of) -> float:
    ids = random.Random(7).choices(range(1, ORDERS + 1), k=REQUESTS)
    requests = [("GET", path_of(order_id), None) for order_id in ids]
    result = asyncio.run(loadgen.run("127.0.0.1", server.port, requests, CONNECTIONS))
    assert set(result.statuses) == {200}, set(result.statuses)
    return result.per_second


def order_total_path(order_id: int) -> str:
    return f"/api/order_total/{order_id}"


def scaling(url: str) -> str:
    """Requests per second with 1, 2 and 4 workers on one PostgreSQL database."""
    rates: dict[int, list[float]] = {n: [] for n in WORKER_COUNTS}
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        servers = {
            n: stack.enter_context(marketsvc(url, MARKETSVC_WORKERS=str(n), **WORKER_POOL))
            for n in WORKER_COUNTS
        }
        for server in servers.values():
            load(server, order_total_path)  # warm up every worker's pool
        for _ in range(SCALING_ROUNDS):
            for n, server in servers.items():
                rates[n].append(load(server, order_total_path))
    load_after = os.getloadavg()[0]
    one = median(rates[1])
    rows = [
        [n, median(rates[n]), f"{min(rates[n]):,.0f}-{max(rates[n]):,.0f}", median(rates[n]) / one]
        for n in WORKER_COUNTS
    ]
    return table(
        f"PostgreSQL, GET order_total by worker processes, {CONNECTIONS} connections "
        f"(median of {SCALING_ROUNDS}; {os.cpu_count()} cores, load average "
        f"{load_before:.1f} before, {load_after:.1f} after)",
        ["workers", "requests/s", "slowest-fastest round", "x one worker"],
        rows,
    )


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
    text = table(
        f"GET order_total, {CONNECTIONS} connections, {REQUESTS} requests (median of {ROUNDS})",
        ["engine", "server", "requests/s", "x ceiling"],
        rows,
    )
    if os.environ.get(PG_ENV):
        text += "\n" + scaling(seeded_url(os.environ[PG_ENV], 50_000, ORDERS))
    return text
