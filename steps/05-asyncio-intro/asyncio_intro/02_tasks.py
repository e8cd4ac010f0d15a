"""Tasks: running coroutines at the same time, and cancelling one.

python asyncio_intro/02_tasks.py
"""

import asyncio
import time


async def brew(drink: str, seconds: float) -> str:
    print(f"  start {drink}")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        # Cancelling a task raises CancelledError at the await where it is
        # paused. Clean up if needed, then let it propagate.
        print(f"  {drink} was cancelled")
        raise
    print(f"  done  {drink}")
    return f"{drink} is ready"


async def main() -> None:
    start = time.perf_counter()
    # create_task hands the coroutine to the event loop, which starts it as
    # soon as this function next waits. Keep the task objects: they are how
    # you get results back (and the loop alone keeps only weak references).
    coffee = asyncio.create_task(brew("coffee", 0.2))
    cocoa = asyncio.create_task(brew("cocoa", 0.2))
    print("two tasks created; neither has started yet")

    # The first await lets both tasks run. Their waits overlap.
    print(await coffee)
    print(await cocoa)
    print(f"two tasks took {time.perf_counter() - start:.1f}s, not 0.4s")

    # A task can be stopped from outside.
    stew = asyncio.create_task(brew("stew", 10))
    await asyncio.sleep(0.05)  # let it start
    stew.cancel()
    try:
        await stew
    except asyncio.CancelledError:
        print("stew cancelled:", stew.cancelled())


if __name__ == "__main__":
    asyncio.run(main())
