"""Writes: 1000 add_new_order calls at once; every one stored, none lost.

The 1000 requests go out on 1000 connections at the same moment. The
baseline, in the same run, is the same 1000 orders sent one after another
on one connection: it shows what the concurrent burst costs or saves, and
both must leave exactly 1000 new orders with all their items.
"""

import asyncio
import json
import shutil
import sqlite3

from bench import loadgen
from bench.common import RESULTS, marketsvc, median, seeded_sqlite, sqlite_url, table

ORDERS = 1000
ROUNDS = 3


def requests() -> list[tuple[str, str, bytes]]:
    bodies = [
        {"customer_id": 1 + n % 3, "items": [{"id": 1 + n % 4, "quantity": 1 + n % 5}]}
        for n in range(ORDERS)
    ]
    return [("POST", "/api/add_new_order", json.dumps(b).encode()) for b in bodies]


def counts(path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        lines = conn.execute("SELECT count(*) FROM order_items").fetchone()[0]
    return orders, lines


def one_round(connections: int) -> float:
    path = RESULTS / "writes.db"
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copy(seeded_sqlite(0, 0), path)
    before = counts(path)
    with marketsvc(sqlite_url(path)) as server:
        result = asyncio.run(loadgen.run("127.0.0.1", server.port, requests(), connections))
    assert result.statuses == [201] * ORDERS, sorted(set(result.statuses))
    assert counts(path) == (before[0] + ORDERS, before[1] + ORDERS), "an order was lost"
    return result.seconds


def main() -> str:
    burst = [one_round(ORDERS) for _ in range(ROUNDS)]
    serial = [one_round(1) for _ in range(ROUNDS)]
    rows = [
        ["one after another, 1 connection", median(serial), ORDERS / median(serial), "yes"],
        [f"all at once, {ORDERS} connections", median(burst), ORDERS / median(burst), "yes"],
    ]
    return table(
        f"{ORDERS} add_new_order calls on SQLite (median of {ROUNDS})",
        ["how", "seconds", "orders/s", f"all {ORDERS} stored with their items"],
        rows,
    )
