"""Async generators and `async for`, and closing them on time.

python asyncio_intro/05_async_for.py
"""

import asyncio
from contextlib import aclosing


async def ticks(count: int, interval: float):
    """An async generator: `async def` with `yield`. It may await between items."""
    for n in range(count):
        await asyncio.sleep(interval)
        yield n


async def rows(total: int):
    """Like a query result streamed from a database: it holds a connection."""
    print("  connection opened")
    try:
        for n in range(total):
            await asyncio.sleep(0.01)  # fetch the next row
            yield {"id": n}
    finally:
        # Runs when the generator finishes, and also when it is closed early.
        print("  connection closed, in task", asyncio.current_task().get_name())


async def main() -> None:
    asyncio.current_task().set_name("main")
    # `async for` awaits each next item; other tasks run during the waits.
    async for n in ticks(3, 0.05):
        print("tick", n)

    # Async comprehensions work too.
    print("squares:", [n * n async for n in ticks(4, 0.01)])

    # Stopping early. After `break` an async generator is paused, not
    # finished: its `finally` (closing the connection) runs only when it is
    # closed. aclosing() closes it as the block ends, here, in this task.
    async with aclosing(rows(1000)) as stream:
        async for row in stream:
            print("row", row["id"])
            if row["id"] == 2:
                break
    print("after the loop: 3 of 1000 rows read")

    # Without aclosing(), the generator is dropped, not closed. asyncio
    # notices and schedules its aclose() as a task of its own: the cleanup
    # runs later, in another task, where no try/finally or shield of this
    # code can reach it.
    async for row in rows(1000):
        if row["id"] == 2:
            break
    print("after the second loop")
    await asyncio.sleep(0.05)  # give that other task its turn


if __name__ == "__main__":
    asyncio.run(main())
