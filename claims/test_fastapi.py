"""FastAPI on the pinned version (pages 1, 8, 9 and 10).

Each test builds a small app of its own and calls it the way the service is
called: through TestClient, or httpx straight into the app.
"""

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

# --- page 1: where routes run, and what the response model does ------------------


def test_a_def_route_runs_on_a_worker_thread_and_an_async_def_route_on_the_loop():
    """FastAPI calls a plain `def` route on a thread of anyio's worker pool,
    where no event loop runs; an `async def` route runs on the loop itself."""
    app = FastAPI()
    where: dict[str, tuple[str, bool]] = {}

    def running_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    @app.get("/plain")
    def plain() -> None:
        where["def"] = (threading.current_thread().name, running_loop())

    @app.get("/async")
    async def asynchronous() -> None:
        where["async def"] = (threading.current_thread().name, running_loop())

    with TestClient(app) as client:
        client.get("/plain")
        client.get("/async")
    assert where["def"] == ("AnyIO worker thread", False)  # a pool thread, no loop
    assert where["async def"][1] is True  # on the event loop's own thread


def test_a_def_route_that_blocks_holds_up_its_thread_not_the_server():
    """While one plain `def` route waits, another request is served: here the
    second one is what the first is waiting for. On the loop, it would wait
    its whole 10 s in vain."""
    app = FastAPI()
    released = threading.Event()

    @app.get("/wait")
    def wait() -> bool:
        return released.wait(timeout=10)  # blocks this thread only

    @app.get("/release")
    async def release() -> None:
        released.set()

    async def both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await asyncio.gather(client.get("/wait"), client.get("/release"))

    waited, _ = asyncio.run(both())
    assert waited.json() is True


def test_the_return_annotation_validates_and_drops_unknown_keys():
    """The response model is built from what the route returns: keys it does
    not declare are left out of the answer."""

    class OrderOut(BaseModel):
        order_id: int

    app = FastAPI()

    @app.get("/orders")
    def orders() -> list[OrderOut]:
        return [{"order_id": 1, "customer_id": 7}]  # a dict, with one key too many

    with TestClient(app) as client:
        assert client.get("/orders").json() == [{"order_id": 1}]


# --- page 9: exception handlers and one session per request --------------------------


def test_an_exception_handler_does_not_match_an_exception_group():
    """A handler for TimeoutError answers a TimeoutError, not an ExceptionGroup
    holding one (what a TaskGroup raises): that one is a 500."""
    app = FastAPI()

    @app.exception_handler(TimeoutError)
    async def busy(_request, _exc) -> JSONResponse:
        return JSONResponse({"detail": "busy"}, status_code=503)

    @app.get("/alone")
    async def alone() -> None:
        raise TimeoutError

    @app.get("/grouped")
    async def grouped() -> None:
        raise ExceptionGroup("tasks", [TimeoutError()])

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/alone").status_code == 503
        assert client.get("/grouped").status_code == 500


def test_the_dependencies_of_one_request_share_one_yield_dependency():
    """Every dependency of a request that asks for the same `yield` dependency
    gets the same value; the next request gets a new one."""
    app = FastAPI()
    opened: list[object] = []

    async def get_session() -> AsyncIterator[object]:
        session = object()
        opened.append(session)
        yield session

    SessionDep = Annotated[object, Depends(get_session)]

    async def helper(session: SessionDep) -> object:
        return session

    @app.get("/same")
    async def same(session: SessionDep, helpers: Annotated[object, Depends(helper)]) -> bool:
        return helpers is session

    with TestClient(app) as client:
        assert client.get("/same").json() is True
        assert client.get("/same").json() is True
    assert len(opened) == 2  # one per request, not one per dependency


# --- pages 8 and 9: when a `yield` dependency finishes, against a streamed body ----
#
# FastAPI's default scope for a dependency with `yield` is the request: its
# code after `yield` runs once the response, streamed body included, has been
# sent. With `Depends(..., scope="function")` it runs as soon as the route
# function returns, before the first byte of the body.


def app_and_log() -> tuple[FastAPI, list[str]]:
    log: list[str] = []

    async def resource() -> AsyncIterator[str]:
        log.append("dependency opened")
        yield "resource"
        log.append("dependency closed")

    async def body() -> AsyncIterator[bytes]:
        for n in range(2):
            log.append(f"chunk {n}")
            yield b"x"

    app = FastAPI()

    @app.get("/request-scope")
    async def request_scope(_: Annotated[str, Depends(resource)]) -> StreamingResponse:
        return StreamingResponse(body())

    @app.get("/function-scope")
    async def function_scope(
        _: Annotated[str, Depends(resource, scope="function")],
    ) -> StreamingResponse:
        return StreamingResponse(body())

    return app, log


def test_a_request_scoped_dependency_outlives_the_streamed_body():
    app, log = app_and_log()
    with TestClient(app) as client:
        assert client.get("/request-scope").content == b"xx"
    assert log == ["dependency opened", "chunk 0", "chunk 1", "dependency closed"]


def test_a_function_scoped_dependency_ends_before_the_body():
    app, log = app_and_log()
    with TestClient(app) as client:
        assert client.get("/function-scope").content == b"xx"
    assert log == ["dependency opened", "dependency closed", "chunk 0", "chunk 1"]


# --- page 10: pydantic's lax mode ------------------------------------------------------


def test_a_request_model_is_lax_by_default_and_drops_unknown_fields():
    """Without strict types, "1", 2.0 and true are all taken as ints, and a
    field the model does not declare is dropped without a word."""

    class OrdersTotalIn(BaseModel):
        orders: list[int]

    app = FastAPI()

    @app.post("/orders_total")
    def orders_total(body: OrdersTotalIn) -> OrdersTotalIn:
        return body

    with TestClient(app) as client:
        response = client.post("/orders_total", json={"orders": ["1", 2.0, True], "x": 0})
    assert response.json() == {"orders": [1, 2, 1]}
