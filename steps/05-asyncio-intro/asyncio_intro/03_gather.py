"""gather: wait for many awaitables at once, and what it does on failure.

python asyncio_intro/03_gather.py
"""

import asyncio
import time

PRICES = {"Milk": 5.0, "Kit Kat": 1.0, "Bread": 10.5, "Onion": 2.0}


async def price_of(item: str, seconds: float) -> float:
    """Pretend to ask a slow price service."""
    await asyncio.sleep(seconds)
    if item not in PRICES:
        raise LookupError(f"no price for {item}")
    return PRICES[item]


async def main() -> None:
    # gather runs its arguments concurrently and returns their results in
    # the order of the arguments, not the order in which they finish.
    start = time.perf_counter()
    prices = await asyncio.gather(
        price_of("Milk", 0.3), price_of("Bread", 0.1), price_of("Onion", 0.2)
    )
    print("prices in argument order:", prices)
    print(f"three lookups took {time.perf_counter() - start:.1f}s, as long as the slowest")

    # When one fails, gather raises that first error at once. The others are
    # NOT cancelled: they go on running in the background, and nobody will
    # see their results.
    lookups = [
        asyncio.create_task(price_of("Caviar", 0.05)),
        asyncio.create_task(price_of("Milk", 0.3)),
    ]
    try:
        await asyncio.gather(*lookups)
    except LookupError as error:
        print("gather raised:", error)
        print("the Milk lookup is still running:", not lookups[1].done())
    await lookups[1]  # here we wait for it ourselves, rather than leave it behind

    # return_exceptions=True turns errors into results, so every lookup is
    # waited for and each one can be checked.
    results = await asyncio.gather(
        price_of("Kit Kat", 0.05), price_of("Caviar", 0.05), return_exceptions=True
    )
    for result in results:
        print("  result:", repr(result))


if __name__ == "__main__":
    asyncio.run(main())
