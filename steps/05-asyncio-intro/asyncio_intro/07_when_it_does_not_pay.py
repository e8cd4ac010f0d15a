"""Where asyncio does not help: CPU-bound work and blocking calls.

    python asyncio_intro/07_when_it_does_not_pay.py

asyncio runs everything on one thread. It pays when a program spends its
time waiting (for a database, the network, a disk) on many things at once:
while one task waits, another runs. It cannot make computing faster, and a
task that blocks the thread without awaiting stops every other task too.
"""

import asyncio
import time

HEARTBEAT_SECONDS = 0.05


def count_primes(limit: int) -> int:
    """Pure computation: no waiting anywhere, so nothing to overlap."""
    return sum(1 for n in range(2, limit) if all(n % d for d in range(2, int(n**0.5) + 1)))


async def count_primes_async(limit: int, name: str, ran: list[str]) -> int:
    # Marking it `async` changes nothing: there is no await inside, so the
    # event loop cannot switch to anything else until it returns.
    ran.append(f"{name} starts")
    count = count_primes(limit)
    ran.append(f"{name} ends")
    return count


async def heartbeat(beats: list[float]) -> None:
    """Records a beat every HEARTBEAT_SECONDS, as long as the loop is free."""
    while True:
        beats.append(time.perf_counter())
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def beats_during(work) -> int:
    """How many heartbeats happen while `work` (a coroutine) runs."""
    beats: list[float] = []
    beating = asyncio.create_task(heartbeat(beats))
    await asyncio.sleep(0)  # let the heartbeat start
    before = len(beats)
    await work
    during = len(beats) - before
    beating.cancel()
    return during


async def blocking_wait() -> None:
    # time.sleep blocks the whole thread, and with it the event loop (so do
    # sqlite3, requests, and any other driver that is not async).
    time.sleep(0.3)  # noqa: ASYNC251 - blocking on purpose, to show the harm


async def waiting_in_a_thread() -> None:
    # to_thread runs the blocking call on a worker thread; the loop stays free.
    await asyncio.to_thread(time.sleep, 0.3)


async def main() -> None:
    limit = 30_000

    start = time.perf_counter()
    for _ in range(3):
        count_primes(limit)
    one_by_one = time.perf_counter() - start

    ran: list[str] = []
    start = time.perf_counter()
    await asyncio.gather(*(count_primes_async(limit, name, ran) for name in "ABC"))
    gathered = time.perf_counter() - start

    print(f"CPU-bound, one after another: {one_by_one:.2f}s")
    print(f"CPU-bound, gathered:          {gathered:.2f}s")
    print(
        f"speed-up from asyncio: {one_by_one / gathered:.1f}x (none: there was nothing to wait on)"
    )
    # Each ran from start to end before the next began: nothing overlapped.
    print("gathered, in the order it happened:", ", ".join(ran))
    # For real speed-ups on computation, use processes
    # (concurrent.futures.ProcessPoolExecutor), or a library that computes
    # outside Python.

    blocked = await beats_during(blocking_wait())
    free = await beats_during(waiting_in_a_thread())
    print(f"heartbeats during a blocking 0.3s sleep: {blocked}")
    print(f"heartbeats during 0.3s in a thread:      {free}")
    # And asyncio has costs of its own: every await is a little slower than a
    # plain call, and code must be async all the way down. A script that does
    # one query and exits gains nothing from it.


if __name__ == "__main__":
    asyncio.run(main())
