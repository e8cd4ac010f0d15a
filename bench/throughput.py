"""Throughput: GET /api/order_total/{id} with 32 connections, against two baselines.

Both are in bench/baseline_app.py, minimal FastAPI routes with the same query:
- the AsyncEngine floor, /engine/order_total/{id}: a bare AsyncEngine on the
  service's driver (aiosqlite, asyncpg). The service is built on this
  layer, so this is the number to hold it to: at least 0.9x.
- the raw driver, /order_total/{id}: plain sqlite3 in FastAPI's thread pool,
  or a plain asyncpg pool: no SQLAlchemy at all, the ceiling.
All servers answer the same random ids, in alternating rounds, so that a
noisy machine disturbs them alike.

On PostgreSQL (BENCH_PG_URL) a second table scales the service out: one
server each with 1, 2 and 4 worker processes, all running at once and
measured in turns, round after round, so that the machine's noise falls on
all three alike. The spread (slowest to fastest round) and the load average
say how noisy the machine was.
"""

import asyncio
import os
import random
import resource
import time
from contextlib import ExitStack

from bench import loadgen, wrk
from bench.common import (
    PG_ENV,
    baseline,
    cpu_seconds,
    engines,
    marketsvc,
    median,
    process_tree,
    processes_named,
    seeded_url,
    table,
)

CONNECTIONS = 32
REQUESTS = 4000  # a round of loadgen.py
WRK_SECONDS = 5  # a round of wrk
ROUNDS = 7
ORDERS = 200_000
WORKER_COUNTS = [1, 2, 4]
# Other work on the machine hits one round of one server at a time, and the
# median of seven shrugs off three such rounds.
SCALING_ROUNDS = 7
# Per worker; enough for its share of the 32 connections, and small enough
# that three servers of 1 + 2 + 4 workers fit the server's max_connections.
# No overflow: it would close and reopen connections all through the run.
WORKER_POOL = {"MARKETSVC_POOL_SIZE": "8", "MARKETSVC_POOL_OVERFLOW": "0"}


# Cores the load generator kept busy in each round.
load_generator_cores: list[float] = []


def load(server, prefix: str, round_: int = 0) -> float:
    """Requests per second answered for prefix + a random order id, all of them 200s.

    With wrk when the machine has it, else bench/loadgen.py (see bench/wrk.py).
    The ids are random, the same for every server in one round.
    """
    children, cpu, wall = _children_cpu(), time.process_time(), time.perf_counter()
    if wrk.available():
        rate = wrk.run(server.port, prefix, ORDERS, CONNECTIONS, WRK_SECONDS, seed=round_)
    else:
        ids = random.Random(round_).choices(range(1, ORDERS + 1), k=REQUESTS)
        requests = [("GET", f"{prefix}{order_id}", None) for order_id in ids]
        result = asyncio.run(loadgen.run("127.0.0.1", server.port, requests, CONNECTIONS))
        assert set(result.statuses) == {200}, set(result.statuses)
        rate = result.per_second
    busy = _children_cpu() - children + time.process_time() - cpu
    load_generator_cores.append(busy / (time.perf_counter() - wall))
    return rate


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_generator() -> str:
    if wrk.available():
        return f"wrk, {WRK_SECONDS} s a round"
    return f"loadgen.py, {REQUESTS} requests a round"


ORDER_TOTAL = "/api/order_total/"


def busy_cores(server, prefix: str, round_: int) -> tuple[float, dict[str, float]]:
    """One round of load(), and the cores each side kept busy meanwhile."""
    sides = {
        "service": process_tree(server.process.pid),
        "PostgreSQL": processes_named("postgres"),
    }
    before = {side: cpu_seconds(pids) for side, pids in sides.items()}
    wall = time.perf_counter()
    rate = load(server, prefix, round_)
    wall = time.perf_counter() - wall
    cores = {side: (cpu_seconds(pids) - before[side]) / wall for side, pids in sides.items()}
    cores["load generator"] = load_generator_cores[-1]
    return rate, cores


def scaling(url: str) -> str:
    """Requests per second with 1, 2 and 4 workers on one PostgreSQL database.

    Beside each rate, the cores the service, PostgreSQL and the load
    generator kept busy. The machine's cores divided by all the cores one
    worker's run kept busy is the most that more workers could give here:
    once every core is busy, another worker only takes turns with the rest.
    """
    rates: dict[int, list[float]] = {n: [] for n in WORKER_COUNTS}
    cores: dict[int, list[dict[str, float]]] = {n: [] for n in WORKER_COUNTS}
    load_generator_cores.clear()
    load_before = os.getloadavg()[0]
    with ExitStack() as stack:
        servers = {
            n: stack.enter_context(marketsvc(url, MARKETSVC_WORKERS=str(n), **WORKER_POOL))
            for n in WORKER_COUNTS
        }
        for server in servers.values():
            load(server, ORDER_TOTAL)  # warm up every worker's pool
        for round_ in range(SCALING_ROUNDS):
            for n, server in servers.items():
                rate, busy = busy_cores(server, ORDER_TOTAL, round_)
                rates[n].append(rate)
                cores[n].append(busy)
    load_after = os.getloadavg()[0]
    one = median(rates[1])
    sides = ["service", "PostgreSQL", "load generator"]
    rows = []
    for n in WORKER_COUNTS:
        busy = {side: median([round_[side] for round_ in cores[n]]) for side in sides}
        rows.append(
            [
                n,
                median(rates[n]),
                f"{min(rates[n]):,.0f}-{max(rates[n]):,.0f}",
                median(rates[n]) / one,
            ]
            + [f"{busy[side]:.2f}" for side in sides]
            + [f"{sum(busy.values()):.2f}"]
        )
    one_worker_total = float(rows[0][-1])
    return table(
        f"PostgreSQL, GET order_total by worker processes, {CONNECTIONS} connections, "
        f"{load_generator()} "
        f"(median of {SCALING_ROUNDS}; {os.cpu_count()} cores, load average "
        f"{load_before:.1f} before, {load_after:.1f} after). One worker's run kept "
        f"{one_worker_total:.2f} cores busy, so {os.cpu_count()} cores allow at most "
        f"{os.cpu_count() / one_worker_total:.2f}x one worker",
        ["workers", "requests/s", "slowest-fastest round", "x one worker"]
        + [f"cores: {side}" for side in sides]
        + ["cores: all"],
        rows,
    )


SERVERS = [
    # (name, which server, path of an order's total without the id)
    ("marketsvc", "service", ORDER_TOTAL),
    ("bare AsyncEngine (baseline_app)", "baseline", "/engine/order_total/"),
    ("raw driver (baseline_app)", "baseline", "/order_total/"),
]


def compare(url: str) -> dict[str, list[float]]:
    """Requests per second of each of SERVERS, ROUNDS rounds in turn."""
    rates: dict[str, list[float]] = {name: [] for name, _, _ in SERVERS}
    with marketsvc(url) as service, baseline(url) as plain:
        server_of = {"service": service, "baseline": plain}
        for _, which, prefix in SERVERS:
            load(server_of[which], prefix)  # warm up: pools filled, statements cached
        for round_ in range(ROUNDS):
            for name, which, prefix in SERVERS:
                rates[name].append(load(server_of[which], prefix, round_))
    return rates


def main() -> str:
    wrk.install()
    rows = []
    load_before = os.getloadavg()[0]
    for engine, server_url in engines():
        rates = compare(seeded_url(server_url, 50_000, ORDERS))
        floor = median(rates[SERVERS[1][0]])
        for name, _, _ in SERVERS:
            spread = f"{min(rates[name]):,.0f}-{max(rates[name]):,.0f}"
            rows.append([engine, name, median(rates[name]), spread, median(rates[name]) / floor])
    load_after = os.getloadavg()[0]
    text = table(
        f"GET order_total, {CONNECTIONS} connections, {load_generator()} (median of {ROUNDS}; "
        f"{os.cpu_count()} cores, load average {load_before:.1f} before, {load_after:.1f} after)",
        ["engine", "server", "requests/s", "slowest-fastest round", "x AsyncEngine floor"],
        rows,
    )
    if os.environ.get(PG_ENV):
        text += "\n" + scaling(seeded_url(os.environ[PG_ENV], 50_000, ORDERS))
    return text
