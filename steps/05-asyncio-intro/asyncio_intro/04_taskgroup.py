"""TaskGroup: structured concurrency, and what happens when one task fails.

python asyncio_intro/04_taskgroup.py
"""

import asyncio
import time

PRICES = {"Milk": 5.0, "Kit Kat": 1.0, "Bread": 10.5, "Onion": 2.0}


async def price_of(item: str, seconds: float) -> float:
    """Pretend to ask a slow price service."""
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        print(f"  {item} lookup cancelled")
        raise
    if item not in PRICES:
        raise LookupError(f"no price for {item}")
    return PRICES[item]


async def main() -> None:
    # Tasks created in a TaskGroup belong to it; leaving the `async with`
    # block waits for all of them. No task outlives the block.
    async with asyncio.TaskGroup() as group:
        milk = group.create_task(price_of("Milk", 0.2))
        bread = group.create_task(price_of("Bread", 0.1))
    print("both done:", milk.result(), bread.result())

    # When a task fails, the group cancels its siblings, waits for them to
    # finish cancelling, and raises an ExceptionGroup holding every error.
    # `except*` picks the errors of one type out of the group.
    start = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            slow = group.create_task(price_of("Onion", 5))
            # These two fail at once (and so in the same turn of the loop,
            # before the group has had a chance to cancel either of them).
            group.create_task(price_of("Caviar", 0))
            group.create_task(price_of("Truffle", 0))
    except* LookupError as errors:
        print(f"{type(errors).__name__} with {len(errors.exceptions)} errors:")
        for error in errors.exceptions:
            print("  ", error)
    print("the Onion lookup was cancelled:", slow.cancelled())
    print(f"the group gave up after {time.perf_counter() - start:.1f}s, not 5s")


if __name__ == "__main__":
    asyncio.run(main())
