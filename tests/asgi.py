"""Drive the ASGI app by hand, to watch what it sends and when."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import FastAPI


def http_scope(path: str, method: str = "GET") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
    }


async def call(
    app: FastAPI,
    path: str,
    on_body: Callable[[bytes, bool], Awaitable[None]] | None = None,
    *,
    keep_body: bool = True,
) -> tuple[int, bytes | int]:
    """GET `path` from `app`; on_body(chunk, more_body) sees each chunk as it is sent.

    Returns the status and the body, or only the body's length when
    keep_body is false (so that a memory measurement sees only the server).
    """
    status = 0
    body = bytearray()
    length = 0

    async def receive() -> dict:
        await asyncio.Event().wait()  # the client never goes away
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status, length
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            if on_body is not None:
                await on_body(message["body"], message.get("more_body", False))
            length += len(message["body"])
            if keep_body:
                body.extend(message["body"])

    await app(http_scope(path), receive, send)
    return status, bytes(body) if keep_body else length
