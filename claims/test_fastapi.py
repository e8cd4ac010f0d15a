"""When a `yield` dependency finishes, against a streamed body (pages 8 and 9).

FastAPI's default scope for a dependency with `yield` is the request: its
code after `yield` runs once the response, streamed body included, has been
sent. With `Depends(..., scope="function")` it runs as soon as the route
function returns, before the first byte of the body.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient


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
