"""A queue between a producer and a few consumers (workers).

python asyncio_intro/06_queues.py
"""

import asyncio
import time

WORKERS = 3
ORDERS = 9
SECONDS_PER_ORDER = 0.05


async def producer(queue: asyncio.Queue[int]) -> None:
    for order_id in range(1, ORDERS + 1):
        # put() waits while the queue is full (maxsize): a fast producer is
        # held back to the pace of the workers instead of piling up memory.
        await queue.put(order_id)
    print(f"producer: placed {ORDERS} orders")


async def worker(name: str, queue: asyncio.Queue[int], handled: list[tuple[str, int]]) -> None:
    while True:
        order_id = await queue.get()
        try:
            await asyncio.sleep(SECONDS_PER_ORDER)  # pack the order
            handled.append((name, order_id))
        finally:
            queue.task_done()  # tell queue.join() this one is finished


async def main() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=2)
    handled: list[tuple[str, int]] = []
    start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        workers = [group.create_task(worker(f"worker-{n}", queue, handled)) for n in range(WORKERS)]
        await producer(queue)
        await queue.join()  # returns once every order put in has been task_done()
        # The workers loop forever waiting for more; stop them. A cancelled
        # task is not an error for the TaskGroup.
        for task in workers:
            task.cancel()
    elapsed = time.perf_counter() - start

    names = sorted({name for name, _ in handled})
    print(f"{len(handled)} orders handled by {len(names)} workers: {', '.join(names)}")
    print("every order exactly once:", sorted(order for _, order in handled) == list(range(1, 10)))
    print(f"took {elapsed:.1f}s; one worker alone would take {ORDERS * SECONDS_PER_ORDER:.2f}s")


if __name__ == "__main__":
    asyncio.run(main())
