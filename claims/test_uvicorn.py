"""uvicorn and Starlette around a request: disconnects and shutdown (pages 8 and 10).

A real uvicorn server on 127.0.0.1, run the way `python -m marketsvc serve`
runs it: inside asyncio.run, here on a thread of the test.
"""

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app: FastAPI, **config) -> Iterator[tuple[uvicorn.Server, str]]:
    """Run `app` in uvicorn until the block ends (or until the test stops it)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", **config)
    )
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive()


def wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_client_that_leaves_cancels_the_streamed_body_through_a_cancel_scope():
    """Under uvicorn (ASGI 2.3), Starlette runs a streaming body in an anyio
    task group and cancels the group's scope when the client disconnects:
    the CancelledError comes back at every await, not once as Task.cancel()'s."""
    log: list[str] = []
    app = FastAPI()

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            try:
                await asyncio.sleep(0)
                log.append("cancelled once")
            except asyncio.CancelledError:
                log.append("cancelled again at the next await")
            raise

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(body())

    with serving(app) as (_server, url):
        with httpx.stream("GET", url + "/stream", timeout=10) as response:
            next(response.iter_raw())  # one chunk, then the client hangs up
        wait_for(lambda: log)
    assert log == ["cancelled again at the next await"]


def test_at_the_graceful_timeout_uvicorn_cancels_requests_then_shuts_the_lifespan_down():
    """Past timeout_graceful_shutdown uvicorn cancels the running requests with
    Task.cancel() and runs the lifespan's shutdown without waiting for them to
    finish; once the server has returned, asyncio.run cancels what is left."""
    log: list[str] = []
    request_started = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        log.append("lifespan shut down")

    app = FastAPI(lifespan=lifespan)

    @app.get("/slow")
    async def slow() -> None:
        request_started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            log.append("request cancelled")
            try:
                await asyncio.sleep(30)  # a clean-up that takes its time
            except asyncio.CancelledError:
                log.append("clean-up cancelled")
            raise

    def ask(url: str) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server goes away
            httpx.get(url + "/slow", timeout=60)

    with serving(app, timeout_graceful_shutdown=0) as (server, url):
        client = threading.Thread(target=ask, args=(url,))
        client.start()
        assert request_started.wait(timeout=20)
        server.should_exit = True  # what SIGTERM does
    client.join(timeout=30)
    assert log == ["request cancelled", "lifespan shut down", "clean-up cancelled"]
