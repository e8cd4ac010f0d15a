"""Access logs: a line per request once its response has ended, and an
X-Request-ID on every response, errors and streams included."""

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bench.common import free_port, stop_process
from marketsvc.access_log import FLUSH_AFTER, FLUSH_LINES, BufferedStreamHandler
from marketsvc.access_log import logger as access_logger
from marketsvc.config import REPO_ROOT, Settings
from marketsvc.server import create_app

MADE_ID = re.compile(r"[0-9a-f]{32}")
JSON_FIELDS = {"time", "method", "path", "status", "duration_ms", "request_id", "client"}


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logged():
    """The lines marketsvc.access logs during the test, as they would be written."""
    handler = Lines()
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        access_logger.removeHandler(handler)
        access_logger.setLevel(logging.NOTSET)


def app_client(tmp_path: Path, access_log: str) -> TestClient:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db'}"
    settings = Settings(database_url=url, access_log=access_log)
    app = create_app(settings)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("a bug")

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("access_log", ["text", "json", "off"])
def test_every_response_carries_a_request_id(tmp_path, access_log):
    with app_client(tmp_path, access_log) as client:
        answers = [
            client.get("/"),
            client.get("/api/customers"),
            client.get("/api/orders/0"),  # 422
            client.get("/api/orders/999"),  # 404
            client.get("/no/such/page"),
            client.post("/api/add_new_order", content=b"{not json"),
            client.post("/api/add_new_order", content=b"x" * 1_100_000),  # 413
            client.get("/boom"),  # an unhandled error: Starlette's last-resort 500
        ]
    assert [a.status_code for a in answers] == [200, 200, 422, 404, 404, 422, 413, 500]
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert all(MADE_ID.fullmatch(request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"abc-123", True),
        (b"0f8fad5b-d9cb-469f-a165-70867728950e", True),
        (b"trace:span/1=2", True),
        (b"a" * 128, True),
        (b"a" * 129, False),  # too long
        (b"two words", False),
        (b"tab\there", False),
        (b"caf\xc3\xa9", False),  # not ASCII
        (b"", False),
    ],
)
def test_a_sane_request_id_is_kept_and_any_other_replaced(tmp_path, logged, sent, kept):
    with app_client(tmp_path, "json") as client:
        answer = client.get("/api/items", headers=[(b"X-Request-ID", sent)])
    returned = answer.headers["x-request-id"].encode()
    if kept:
        assert returned == sent
    else:
        assert MADE_ID.fullmatch(returned.decode())
    assert json.loads(logged[-1])["request_id"] == returned.decode()


def test_json_lines_name_method_path_status_duration_and_id(tmp_path, logged):
    with app_client(tmp_path, "json") as client:
        ok = client.get("/api/orders/2?detail=1", headers={"X-Request-ID": "req-1"})
        missing = client.get("/api/orders/999")
        failed = client.get("/boom")
    entries = [json.loads(line) for line in logged]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/api/orders/2", 200),
        ("GET", "/api/orders/999", 404),
        ("GET", "/boom", 500),
    ]
    assert entries[0].keys() >= JSON_FIELDS
    assert entries[0]["request_id"] == "req-1" == ok.headers["x-request-id"]
    assert entries[0]["query"] == "detail=1"
    assert entries[1]["request_id"] == missing.headers["x-request-id"]
    assert entries[2]["request_id"] == failed.headers["x-request-id"]
    assert all(e["duration_ms"] >= 0 for e in entries)


def test_text_lines_are_one_line_even_for_a_path_with_a_newline(tmp_path, logged):
    with app_client(tmp_path, "text") as client:
        client.get("/api/orders/1%0Aforged-line", headers={"X-Request-ID": "r-2"})
    (line,) = logged  # 422 Unprocessable Entity, or Content from Python 3.13 on
    assert "\n" not in line
    assert re.fullmatch(
        r'testclient:\d+ - "GET /api/orders/1\\nforged-line HTTP/1.1" 422 Unprocessable \w+'
        r" \d+\.\d ms id=r-2",
        line,
    ), line


def test_off_logs_nothing(tmp_path, logged):
    with app_client(tmp_path, "off") as client:
        assert client.get("/").status_code == 200
    assert logged == []


# --- a real server: what an operator reads on its standard output -----------


class LoggingServer:
    def __init__(self, tmp_path: Path, access_log: str | None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout = tmp_path / "stdout"
        env = {**os.environ, "MARKETSVC_PORT": str(self.port)}
        env["MARKETSVC_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'db'}"
        env.pop("MARKETSVC_ACCESS_LOG", None)
        if access_log:
            env["MARKETSVC_ACCESS_LOG"] = access_log
        with self.stdout.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "marketsvc", "serve"],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/", timeout=1, headers={"X-Request-ID": "started"})
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start within 20 s")

    def lines(self) -> list[str]:
        """The access-log lines so far (the first line of stdout is the banner)."""
        return self.stdout.read_text().splitlines()[1:]

    def line_of(self, request_id: str, timeout: float = 10) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines() if request_id in line]
            if found:
                return found[0]
            time.sleep(0.05)
        return None


@pytest.fixture
def server(request, tmp_path):
    running = LoggingServer(tmp_path, request.param)
    try:
        yield running
    finally:
        stop_process(running.process)


@pytest.mark.parametrize("server", ["json"], indirect=True)
def test_a_stream_is_logged_once_when_it_ends(server):
    with httpx.stream(
        "GET", server.url + "/api/events/orders?follow=true", headers={"X-Request-ID": "feed-1"}
    ) as feed:
        assert feed.headers["x-request-id"] == "feed-1"
        lines = feed.iter_lines()  # kept: a dropped iterator would close the stream
        first_event = [next(lines) for _ in range(3)]  # its event:, data: and id: lines
        assert "id: 1" in first_event
        time.sleep(0.3)
        assert server.line_of("feed-1", timeout=0.2) is None, "logged before the stream ended"
    cut = json.loads(server.line_of("feed-1"))
    assert (cut["path"], cut["status"], cut["complete"]) == ("/api/events/orders", 200, False)
    assert cut["query"] == "follow=true"
    assert cut["duration_ms"] >= 300  # the stream stayed open that long

    answer = httpx.get(server.url + "/api/customers", headers={"X-Request-ID": "whole-1"})
    assert answer.status_code == 200 and len(answer.json()) == 3
    whole = json.loads(server.line_of("whole-1"))
    assert whole.keys() == JSON_FIELDS, "a finished response has no 'complete' flag"
    assert sum("feed-1" in line for line in server.lines()) == 1


@pytest.mark.parametrize("server", [None], indirect=True)
def test_the_default_is_one_readable_line_per_request(server):
    answer = httpx.get(server.url + "/api/orders/999?x=1", headers={"X-Request-ID": "look-1"})
    assert answer.headers["x-request-id"] == "look-1"
    line = server.line_of("look-1")
    assert re.fullmatch(
        r'INFO:     127\.0\.0\.1:\d+ - "GET /api/orders/999\?x=1 HTTP/1\.1" 404 Not Found'
        r" \d+\.\d ms id=look-1",
        line or "",
    ), line
    root_lines = [text for text in server.lines() if '"GET / HTTP/1.1"' in text]
    assert len(root_lines) == 1, "uvicorn's own access line is not written as well"
    assert root_lines[0].endswith("id=started")


@pytest.mark.parametrize("server", ["off"], indirect=True)
def test_off_writes_no_line_but_still_returns_the_id(server):
    answer = httpx.get(server.url + "/", headers={"X-Request-ID": "quiet-1"})
    assert answer.headers["x-request-id"] == "quiet-1"
    time.sleep(0.3)
    assert server.lines() == []


def access_record(message: str) -> logging.LogRecord:
    return logging.makeLogRecord({"name": "marketsvc.access", "msg": message})


def test_buffered_lines_are_written_within_the_flush_delay_in_every_event_loop():
    """A loop that ends before its scheduled flush runs (as each TestClient's
    does) leaves no later line waiting in another loop."""

    written = io.BytesIO()  # what reached the file: the wrapper keeps the rest
    handler = BufferedStreamHandler(io.TextIOWrapper(written))
    record = access_record("line")

    async def emit_then_leave():
        handler.emit(record)  # the flush it schedules never runs: the loop ends first

    async def emit_and_wait():
        handler.emit(record)
        await asyncio.sleep(FLUSH_AFTER * 2)
        return written.getvalue()

    asyncio.run(emit_then_leave())
    assert asyncio.run(emit_and_wait()) == b"line\nline\n"


def test_lines_wait_in_the_handler_even_when_the_stream_writes_through():
    """With PYTHONUNBUFFERED=1 sys.stdout writes every line at once: the
    handler still hands the stream one write per flush, not one per line."""

    class CountingStream(io.StringIO):
        writes = 0

        def write(self, text):
            self.writes += 1
            return super().write(text)

    stream = CountingStream()
    handler = BufferedStreamHandler(stream)

    def record(n):
        return access_record(f"line {n}")

    async def three_lines():
        for n in range(3):
            handler.emit(record(n))
        before_flush = stream.writes
        await asyncio.sleep(FLUSH_AFTER * 2)
        return before_flush

    assert asyncio.run(three_lines()) == 0
    assert stream.writes == 1
    assert stream.getvalue() == "line 0\nline 1\nline 2\n"
    handler.emit(record(3))  # outside an event loop: written at once
    assert stream.getvalue().endswith("line 3\n")


def test_a_pile_of_lines_is_written_out_before_its_flush_is_due():

    stream = io.StringIO()
    handler = BufferedStreamHandler(stream)
    record = access_record("x")

    async def many_lines():
        for _ in range(FLUSH_LINES):
            handler.emit(record)
        return stream.getvalue().count("\n")

    assert asyncio.run(many_lines()) == FLUSH_LINES


def test_a_stream_that_cannot_be_written_fails_no_request(capsys):
    """A closed pipe or a full disk is reported on stderr, as logging does;
    the caller (a request's access line) never sees the error."""

    class BrokenPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError("the reader has gone")

    handler = BufferedStreamHandler(BrokenPipe())
    record = access_record("a line")
    handler.emit(record)  # outside an event loop: written, or tried, at once
    assert handler.pending == []
    assert "BrokenPipeError: the reader has gone" in capsys.readouterr().err
