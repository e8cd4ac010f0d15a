"""Fan-out: orders_total for 100 and 1000 ids on a database of 200k orders.

Three ways to get the same totals, timed side by side:

- fan-out: one query per order, each in its own task and connection
  (db_accessor.get_orders_total, what the route does);
- sequential: the same queries, one after another on the same code path;
- GROUP BY: one query for all the ids at once.

The honest answer is in the table: on one machine, one query that does all
the work beats many small ones, however concurrent. Fan-out pays when each
task waits on something slow and independent (another service, another
database), not when every task queues for the same SQLite file.
"""

import asyncio
import random
import time

from bench.common import engines, median, seeded_url, table
from marketsvc import db_accessor
from marketsvc.db.engine import close_database, open_database
from marketsvc.db.models import Order

ORDERS = 200_000
CUSTOMERS = 50_000
REPEATS = 5


async def fan_out(ids):
    return [row["total"] for row in await db_accessor.get_orders_total(ids)]


async def sequential(ids):
    return [await db_accessor.get_order_total(order_id) for order_id in ids]


async def group_by(ids):
    statement = db_accessor.ORDER_TOTAL.where(Order.id.in_(ids))
    totals = {row.id: row.total for row in await db_accessor.execute_query(statement)}
    return [totals[order_id] for order_id in ids]


STRATEGIES = {"fan-out (TaskGroup)": fan_out, "sequential": sequential, "one GROUP BY": group_by}


async def run(url: str, sizes: list[int]) -> list[list]:
    open_database(url)
    rows = []
    try:
        for size in sizes:
            ids = random.Random(size).sample(range(1, ORDERS + 1), size)
            expected = await group_by(ids)
            timings = {}
            for name, strategy in STRATEGIES.items():
                seconds = []
                for _ in range(REPEATS):
                    start = time.perf_counter()
                    totals = await strategy(ids)
                    seconds.append(time.perf_counter() - start)
                    assert [round(t, 2) for t in totals] == [round(t, 2) for t in expected]
                timings[name] = median(seconds)
            fastest = min(timings.values())
            rows += [[size, name, s * 1000, s / fastest] for name, s in timings.items()]
    finally:
        await close_database()
    return rows


def main() -> str:
    text = ""
    for engine, server in engines():
        url = seeded_url(server, CUSTOMERS, ORDERS)
        rows = asyncio.run(run(url, [100, 1000]))
        text += table(
            f"orders_total on {engine}, {ORDERS:,} orders (median of {REPEATS})",
            ["ids", "how", "milliseconds", "x fastest"],
            rows,
        )
    return text
