"""Waiting for a read in a task of its own: what each way costs the event loop.

uncancelled (marketsvc/db_accessor.py) runs every read in a task of its own
and waits for it. This measures the event loop's own CPU time (its thread
only: aiosqlite's threads are left out) per read, with 16 reads at once on
one AsyncEngine over the throughput benchmark's SQLite file, for:

- the read awaited directly, no task (the floor);
- a task, awaited directly (no protection: cancelling the caller cancels it);
- a task behind asyncio.shield(), as uncancelled waits until a cancel comes;
- a task waited for with asyncio.wait([task]), as uncancelled used to;
- uncancelled itself.

Rounds alternate between the ways so that a noisy machine disturbs all alike.
"""

import asyncio
import time

from sqlalchemy import bindparam, text

from bench.common import median, seeded_url, table
from marketsvc.db import engine as db
from marketsvc.db_accessor import uncancelled

ORDERS = 200_000
AT_ONCE = 16
READS = 1600  # a round
ROUNDS = 7
READ = text("SELECT id, customer_id FROM orders WHERE id = :id").bindparams(bindparam("id"))


def main() -> str:
    return asyncio.run(measure(seeded_url(None, 50_000, ORDERS)))


async def measure(url: str) -> str:
    engine = db.create_engine(url, pool_size=AT_ONCE)
    reader = db.single_statement(engine)

    async def read(order_id: int):
        async with reader.connect() as conn:
            return (await conn.execute(READ, {"id": order_id})).all()

    async def in_task_awaited(order_id: int):
        return await asyncio.create_task(read(order_id))

    async def in_task_shielded(order_id: int):
        return await asyncio.shield(asyncio.create_task(read(order_id)))

    async def in_task_waited(order_id: int):
        task = asyncio.create_task(read(order_id))
        await asyncio.wait([task])
        return task.result()

    async def through_uncancelled(order_id: int):
        return await uncancelled(read(order_id))

    ways = {
        "awaited directly, no task": read,
        "a task, awaited": in_task_awaited,
        "a task, asyncio.shield()": in_task_shielded,
        "a task, asyncio.wait()": in_task_waited,
        "uncancelled()": through_uncancelled,
    }

    async def round_of(way) -> float:
        async def reader_task(first: int) -> None:
            for n in range(READS // AT_ONCE):
                await way(1 + (first + n * AT_ONCE) * 7919 % ORDERS)

        started = time.thread_time()
        await asyncio.gather(*(reader_task(first) for first in range(AT_ONCE)))
        return (time.thread_time() - started) / READS * 1e6

    try:
        for way in ways.values():
            await round_of(way)  # warm up: connections opened, statement cached
        costs: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(ROUNDS):
            for name, way in ways.items():
                costs[name].append(await round_of(way))
    finally:
        await engine.dispose()
    floor = median(costs["awaited directly, no task"])
    rows = [[name, median(values), median(values) - floor] for name, values in costs.items()]
    return table(
        f"Event-loop CPU per read, {AT_ONCE} reads at once on SQLite (median of {ROUNDS} "
        f"rounds of {READS})",
        ["how the read is waited for", "us of CPU per read", "us more than no task"],
        rows,
    )
