"""A real `python -m marketsvc serve` process, and clients that stop reading.

Used where signals, sockets and slow clients are the point: the server runs
exactly as an operator starts it, and a stalled client is a real socket with
a small receive buffer that the test simply does not read.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import h11
import httpx

from bench.common import free_port, stop_process
from marketsvc.config import REPO_ROOT
from marketsvc.db.engine import close_database, open_database
from marketsvc.db.schema import init_db
from marketsvc.db.seed import seed


def seed_database(url: str, customers: int, orders: int = 0) -> None:
    async def populate():
        engine = open_database(url)
        try:
            await init_db(engine)
            await seed(engine, customers=customers, orders=orders)
        finally:
            await close_database()

    asyncio.run(populate())


class ServeProcess:
    """`python -m marketsvc serve` on a free port; its log goes to a file."""

    def __init__(self, database_url: str, log_path: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        environment = {
            **os.environ,
            "MARKETSVC_DATABASE_URL": database_url,
            "MARKETSVC_PORT": str(self.port),
            **env,
        }
        # A file, not a pipe: a pipe nobody reads would block the server's
        # logging once it is full.
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "marketsvc", "serve"],
                cwd=REPO_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> float:
        """Send SIGTERM; return the seconds until the process ended (at most 20)."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - start

    def stop(self) -> None:
        stop_process(self.process)


class StalledClient:
    """An HTTP request whose response is read up to `read_bytes`, then not at all."""

    def __init__(self, url: str, request: h11.Request, body: bytes = b"", read_bytes=65536):
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.socket()
        # A small receive buffer: the server's sends block soon after we stop.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(20)
        self.sock.connect((host, int(port)))
        self.http = h11.Connection(h11.CLIENT)
        self.sock.sendall(self.http.send(request))
        if body:
            self.sock.sendall(self.http.send(h11.Data(data=body)))
        self.sock.sendall(self.http.send(h11.EndOfMessage()))
        self.status = 0
        self.body = bytearray()
        self.complete = False
        while not self.status or (len(self.body) < read_bytes and not self.complete):
            self.read_some()

    def read_some(self) -> bool:
        """Read and parse what has arrived; False once the connection has ended."""
        data = self.sock.recv(4096)
        self.http.receive_data(data)
        while True:
            try:
                event = self.http.next_event()
            except h11.RemoteProtocolError:  # closed in the middle of the body
                return False
            if event is h11.NEED_DATA:
                return bool(data)
            if isinstance(event, h11.Response):
                self.status = event.status_code
            elif isinstance(event, h11.Data):
                self.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
                return False
            elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                return False

    def read_to_end(self) -> "StalledClient":
        """Read on until the response ends, completely or cut short."""
        while self.read_some():
            pass
        self.sock.close()
        return self

    def close(self) -> None:
        self.sock.close()


def get(path: str) -> h11.Request:
    return h11.Request(method="GET", target=path, headers=[("Host", "test")])


def post_json(path: str, body: bytes, token: str) -> h11.Request:
    headers = [
        ("Host", "test"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Authorization", f"Bearer {token}"),
    ]
    return h11.Request(method="POST", target=path, headers=headers)
