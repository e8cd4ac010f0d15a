"""Coroutines: what `async def` makes, and what `await` does.

python asyncio_intro/01_coroutines.py
"""

import asyncio
import time


async def brew(drink: str, seconds: float) -> str:
    print(f"  start {drink}")
    # asyncio.sleep stands for any wait on the outside world (a query, an
    # HTTP call). While this coroutine waits, the event loop is free to run
    # other code; here there is none yet.
    await asyncio.sleep(seconds)
    print(f"  done  {drink}")
    return f"{drink} is ready"


async def main() -> None:
    # Calling a coroutine function runs none of its body: it only makes a
    # coroutine object, a paused computation waiting to be driven.
    coroutine = brew("tea", 0.1)
    print("brew('tea', 0.1) returned a", type(coroutine).__name__)

    # `await` drives it to the end and gives back what it returns.
    print("await gave:", await coroutine)

    # Awaiting one coroutine after another is still sequential: each await
    # waits for its coroutine to finish, so the waits add up.
    start = time.perf_counter()
    await brew("coffee", 0.2)
    await brew("cocoa", 0.2)
    print(f"two awaits in a row took {time.perf_counter() - start:.1f}s (0.2s + 0.2s)")


if __name__ == "__main__":
    # asyncio.run starts an event loop, runs main() until it returns, and
    # closes the loop. A program normally calls it once, at the top.
    asyncio.run(main())
