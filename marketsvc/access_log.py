"""One access-log line per request, and an X-Request-ID on every response.

AccessLog is a plain ASGI middleware (no BaseHTTPMiddleware, which would
buffer and slow every response). It writes its line when the response has
ended, so a streamed response is logged once, with its full duration. The
line goes to the logger "marketsvc.access": as text by default, as one JSON
object per line with MARKETSVC_ACCESS_LOG=json, or not at all with off.
"""

import asyncio
import copy
import logging
import random
import re
import time
from datetime import UTC, datetime
from http import HTTPStatus

import orjson

logger = logging.getLogger("marketsvc.access")

# A request id the client sent is kept when it is short and printable (no
# spaces, no control characters), so it can go into a log line as it is.
SANE_REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")


def request_id_of(scope) -> bytes:
    """The request's X-Request-ID when it is sane, else a new random one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id" and SANE_REQUEST_ID.fullmatch(value):
            return value
    # 128 random bits, written like a uuid4's hex. Not uuid4 itself: it
    # reads os.urandom, a system call that lets go of the GIL, and with
    # aiosqlite's threads busy the event loop then waits to get it back
    # (a request id names a request; it is no secret).
    return b"%032x" % random.getrandbits(128)


class AccessLog:
    def __init__(self, app, log_format: str = "text"):
        self.app = app
        self.log_format = log_format

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        response = {"status": 500, "complete": False}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                response["complete"] = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.log_format != "off" and logger.isEnabledFor(logging.INFO):
                duration_ms = (time.perf_counter() - started) * 1000
                logger.info(self.line(scope, response, duration_ms, request_id.decode()))

    def line(self, scope, response, duration_ms: float, request_id: str) -> str:
        if self.log_format == "json":
            return json_line(scope, response, duration_ms, request_id)
        return text_line(scope, response, duration_ms, request_id)


def json_line(scope, response, duration_ms: float, request_id: str) -> str:
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "method": scope["method"],
        "path": scope["path"],
        "status": response["status"],
        "duration_ms": round(duration_ms, 2),
        "request_id": request_id,
        "client": _client(scope),
    }
    if scope["query_string"]:
        entry["query"] = scope["query_string"].decode("latin-1")
    if not response["complete"]:
        entry["complete"] = False  # the client left, or the app failed, mid-response
    return orjson.dumps(entry).decode()


def text_line(scope, response, duration_ms: float, request_id: str) -> str:
    target = scope["path"]
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    # The path is percent-decoded: escape what could break the line (%0A).
    target = repr(target)[1:-1]
    status = response["status"]
    cut_short = "" if response["complete"] else " (cut short)"
    return (
        f'{_client(scope)} - "{scope["method"]} {target} HTTP/{scope["http_version"]}" '
        f"{status} {REASONS.get(status, '')}{cut_short} {duration_ms:.1f} ms id={request_id}"
    )


REASONS = {status.value: status.phrase for status in HTTPStatus}


def _client(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "-"


def wrap_outermost(app, log_format: str) -> None:
    """Put AccessLog around all of app's middleware, Starlette's error
    middleware included, so that its 500 answers carry the request id too."""
    if log_format != "off":
        lighter_log_records()
    build_middleware_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: AccessLog(build_middleware_stack(), log_format)


def lighter_log_records() -> None:
    """Leave out of every log record what no line of the service shows.

    The logging HOWTO's own advice (its "Optimization" section): a record
    otherwise looks up the file, line and function that logged it (walking
    the stack out of the logging module) and the thread and process names,
    once per request for the access log.
    """
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


# How long an access line may wait before it is written out. Written one
# by one, every line is a write system call, which lets go of the GIL, and
# with aiosqlite's threads busy the event loop then waits to get it back.
# A server killed outright loses this much.
FLUSH_AFTER = 0.2
# More lines than this waiting are written out at once, however young.
FLUSH_LINES = 1000


class BufferedStreamHandler(logging.StreamHandler):
    """A StreamHandler that writes its lines out together, FLUSH_AFTER s late at most.

    The lines wait in a list of the handler's own, not in the stream's
    buffer, since a stream may have none: with PYTHONUNBUFFERED=1 (set in
    many container images) sys.stdout writes each line the moment it gets
    it. In an event loop, the first line after a flush schedules the next
    flush; outside one, every line is written at once. What is left is
    written out by flush_waiting_lines() at the end of the lifespan, and by
    logging.shutdown() when the process exits normally.
    """

    def __init__(self, stream=None):
        super().__init__(stream)
        self.pending: list[str] = []
        self.flush_due_in = None  # the event loop that has a flush scheduled

    def flush(self) -> None:
        with self.lock:
            self.flush_due_in = None
            lines, self.pending = self.pending, []
            try:
                if lines:
                    self.stream.write("".join(lines))
                super().flush()
            except Exception:
                # As logging does with a line it cannot write (a closed pipe,
                # a full disk): say so on stderr, and never fail the caller.
                self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} access lines"}))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.pending.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or len(self.pending) >= FLUSH_LINES:
            self.flush()
        # Compared by loop, not a flag: a loop that closed before its flush
        # ran (one per TestClient, say) must not keep later lines waiting.
        elif self.flush_due_in is not loop:
            self.flush_due_in = loop
            loop.call_later(FLUSH_AFTER, self.flush)


def flush_waiting_lines() -> None:
    """Write out the access lines still waiting, at the end of the lifespan.

    logging.shutdown() would do it at exit, but after a SIGTERM uvicorn ends
    its process by raising the signal again once it has shut down, and the
    process then dies without running the exit handlers.
    """
    for handler in logger.handlers:
        handler.flush()


def uvicorn_log_config(log_format: str) -> dict:
    """uvicorn's logging set-up, plus the service's loggers (access lines on stdout).

    uvicorn's own access log is switched off (uvicorn.run(access_log=False)),
    since AccessLog writes the same line with a duration and a request id.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["marketsvc_json"] = {"format": "%(message)s"}
    # Looks like uvicorn's "default" lines ("INFO:     ..."), without its
    # formatter's cost: it copies every record to colour its level name.
    config["formatters"]["marketsvc_text"] = {"format": "%(levelname)s:     %(message)s"}
    config["handlers"]["marketsvc_access"] = {
        "formatter": f"marketsvc_{'json' if log_format == 'json' else 'text'}",
        "class": "marketsvc.access_log.BufferedStreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["marketsvc.access"] = {
        "handlers": ["marketsvc_access"],
        "level": "INFO",
        "propagate": False,
    }
    # The service's own messages (an aborted stream, the feed reconnecting),
    # formatted like uvicorn's, on standard error.
    config["loggers"]["marketsvc"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
