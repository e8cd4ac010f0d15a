"""asyncio, anyio and async generators (pages 5, 6 and 8)."""

import asyncio
import contextlib
import gc
import weakref

import anyio
import pytest

# --- page 5: gather, and who keeps a task alive ---------------------------------


def test_gather_does_not_cancel_the_others_when_one_fails():
    """gather raises the first error at once; the other awaitables run on, and
    finish, with nobody waiting for them."""

    async def scenario() -> tuple[bool, bool, str]:
        answer = asyncio.Event()

        async def fail() -> None:
            raise LookupError("no price for Caviar")

        async def lookup() -> str:
            await answer.wait()  # a slow price service, until the test lets it answer
            return "5.0"

        milk = asyncio.create_task(lookup())
        with pytest.raises(LookupError):
            await asyncio.gather(fail(), milk)
        still_running = not milk.done() and not milk.cancelling()
        answer.set()
        return still_running, milk.cancelled(), await milk

    assert asyncio.run(scenario()) == (True, False, "5.0")


def test_a_task_nobody_refers_to_can_be_destroyed_while_pending():
    """The event loop holds its tasks only weakly: a task waiting on a future
    that only it knows of, with no reference kept, is garbage, and goes
    halfway through (its `finally` runs as its coroutine is closed)."""
    events: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: events.append(context["message"]))

        async def wait_for_ever() -> None:
            try:
                await loop.create_future()  # nothing will ever set it
            finally:
                events.append("finally ran")

        task = asyncio.create_task(wait_for_ever())
        await asyncio.sleep(0)  # let it start and suspend
        alive = weakref.ref(task)
        del task
        gc.collect()
        events.append("collected" if alive() is None else "still alive")

    asyncio.run(scenario())
    assert events[-1] == "collected"
    assert sorted(events[:-1]) == ["Task was destroyed but it is pending!", "finally ran"]


def test_a_coroutine_never_awaited_warns_when_it_is_collected():
    async def brew() -> str:
        return "tea is ready"

    with pytest.warns(RuntimeWarning, match="coroutine .*brew' was never awaited"):
        brew()  # a coroutine object; none of its body runs
        gc.collect()


# --- page 6: two kinds of cancellation ------------------------------------------------


def test_task_cancel_is_raised_once_a_cancelled_scope_at_every_await():
    """Task.cancel() raises one CancelledError; code that catches it can await
    again. A cancelled anyio scope raises it again at every await inside it."""

    async def after_catching() -> str:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            return "cancelled again"
        return "went on"

    async def scenario() -> tuple[str, str]:
        task = asyncio.create_task(after_catching())
        await asyncio.sleep(0)
        task.cancel()
        by_task_cancel = await task
        async with anyio.create_task_group() as group:
            results = []

            async def in_scope() -> None:
                results.append(await after_catching())

            group.start_soon(in_scope)
            await asyncio.sleep(0)  # it starts, and waits
            group.cancel_scope.cancel()
        return by_task_cancel, results[0]

    assert asyncio.run(scenario()) == ("went on", "cancelled again")


def test_an_anyio_shield_stops_a_scope_cancellation_but_not_task_cancel():
    """Inside `anyio.CancelScope(shield=True)` an outer scope's cancellation
    waits until the shield is left; Task.cancel() is raised inside it."""

    async def shielded(log: list[str]) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await asyncio.sleep(0.1)
                log.append("shielded sleep finished")
            except asyncio.CancelledError:
                log.append("cancelled inside the shield")
                raise

    async def scenario() -> tuple[list[str], list[str]]:
        by_scope: list[str] = []
        async with anyio.create_task_group() as group:
            group.start_soon(shielded, by_scope)
            await asyncio.sleep(0)  # it enters the shield
            group.cancel_scope.cancel()
        by_task: list[str] = []
        task = asyncio.create_task(shielded(by_task))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return by_scope, by_task

    assert asyncio.run(scenario()) == (["shielded sleep finished"], ["cancelled inside the shield"])


def test_a_cancelled_wait_on_asyncio_shield_leaves_the_task_running():
    """Cancelling the task that awaits asyncio.shield(task) ends only that
    wait: the shielded task runs on to its result."""

    async def scenario() -> tuple[bool, int]:
        async def call() -> int:
            await asyncio.sleep(0.05)
            return 42

        async def wait_for_it() -> int:
            return await asyncio.shield(task)

        task = asyncio.create_task(call())
        waiter = asyncio.create_task(wait_for_it())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return task.done(), await task

    assert asyncio.run(scenario()) == (False, 42)


# --- page 8: async generators -------------------------------------------------------


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
