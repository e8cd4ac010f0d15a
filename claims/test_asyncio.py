"""asyncio and async generators (pages 5 and 8)."""

import asyncio

import pytest


async def slow(closed: list):
    try:
        await asyncio.sleep(10)
        yield 1
    finally:
        closed.append(True)


def test_a_generator_cancelled_at_its_first_item_has_run_its_finally():
    # Page 8: start_stream has nothing to close when the first batch fails.
    async def scenario() -> list:
        closed: list = []
        task = asyncio.create_task(anext(slow(closed)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return closed  # before anyone called aclose()

    assert asyncio.run(scenario()) == [True]


def test_an_inner_generator_left_open_is_closed_later_in_another_task():
    # Page 8: closing the outer generator does not close the one it iterates;
    # asyncio closes that one once it is dropped, in a task of its own.
    events: list[str] = []

    async def inner():
        try:
            for n in range(10):
                yield n
        finally:
            events.append(f"inner closed in {asyncio.current_task().get_name()}")

    async def outer():
        async for n in inner():  # no aclosing()
            yield n

    async def scenario() -> None:
        asyncio.current_task().set_name("request")
        stream = outer()
        await anext(stream)
        await stream.aclose()
        events.append("outer closed")
        await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert events[0] == "outer closed"
    assert events[1].startswith("inner closed in ")
    assert events[1] != "inner closed in request"
