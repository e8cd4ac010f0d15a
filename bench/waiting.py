"""Waiting for a call in a task of its own: what each way costs the event loop.

uncancelled (marketsvc/db_accessor.py) runs every read in a task of its own
and waits for it, so that no cancellation of the caller cuts the read in
half. Is that safety a price worth noticing? This measures the event loop's
CPU time per call, 16 callers at once under uvloop (uvicorn's loop), for a
call that does nothing but give the loop one turn (asyncio.sleep(0)), so
that only the waiting is measured:

- the call awaited directly, no task (the floor);
- a task, awaited directly (no protection: cancelling the caller cancels it);
- a task behind asyncio.shield(), as uncancelled waits until a cancel comes;
- a task waited for with asyncio.wait([task]);
- uncancelled itself (its task, shield, bookkeeping and anyio checkpoint).

For scale: a whole GET order_total costs the event loop 500 to 700 us
(python -m bench app_cpu). Rounds alternate between the ways.
"""

import asyncio
import time

import uvloop

from bench.common import median, table
from marketsvc.db_accessor import uncancelled

AT_ONCE = 16
CALLS = 32_000  # a round
ROUNDS = 7


async def call() -> int:
    await asyncio.sleep(0)
    return 1


async def in_task_awaited() -> int:
    return await asyncio.create_task(call())


async def in_task_shielded() -> int:
    return await asyncio.shield(asyncio.create_task(call()))


async def in_task_waited() -> int:
    task = asyncio.create_task(call())
    await asyncio.wait([task])
    return task.result()


async def through_uncancelled() -> int:
    return await uncancelled(call())


WAYS = {
    "awaited directly, no task": call,
    "a task, awaited": in_task_awaited,
    "a task, asyncio.shield()": in_task_shielded,
    "a task, asyncio.wait()": in_task_waited,
    "uncancelled()": through_uncancelled,
}


async def round_of(way) -> float:
    async def caller() -> None:
        for _ in range(CALLS // AT_ONCE):
            await way()

    started = time.thread_time()
    await asyncio.gather(*(caller() for _ in range(AT_ONCE)))
    return (time.thread_time() - started) / CALLS * 1e6


async def measure() -> dict[str, float]:
    costs: dict[str, list[float]] = {name: [] for name in WAYS}
    for _ in range(ROUNDS):
        for name, way in WAYS.items():
            costs[name].append(await round_of(way))
    return {name: median(values) for name, values in costs.items()}


def main() -> str:
    costs = uvloop.run(measure())
    floor = costs["awaited directly, no task"]
    rows = [[name, cost, cost - floor] for name, cost in costs.items()]
    return table(
        f"Event-loop CPU per call, {AT_ONCE} callers at once (median of {ROUNDS} rounds "
        f"of {CALLS:,})",
        ["how the call is waited for", "us of CPU per call", "us more than no task"],
        rows,
    )
