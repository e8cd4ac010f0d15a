"""Refuse request bodies over a size limit with a JSON 413, before reading them.

A body is refused when its Content-Length says it is too large, before one
byte of it is read, or, for a chunked body, as soon as the bytes received
pass the limit. Either way the answer is JSON with a `detail`, like every
other error of the API (Starlette's own limit answers in plain text).
"""

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from receive(): FastAPI's handlers turn it into the JSON 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in scope["headers"]}
        if b"content-length" not in names and b"transfer-encoding" not in names:
            # No body at all (HTTP/1.1 says so), as with most GETs: nothing to watch.
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(BodyTooLarge(self.max_bytes), scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as exc:  # raised where no exception handler saw it
            if started:
                raise
            await self._refuse(exc, scope, receive, send)

    async def _refuse(self, exc: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
        # Connection: close, since the rest of the body is never read.
        response = JSONResponse(
            {"detail": exc.detail}, status_code=413, headers={"Connection": "close"}
        )
        await response(scope, receive, send)
