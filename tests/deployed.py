"""`python -m marketsvc serve` processes as an operator starts them: several at once.

Unlike conftest.LiveServer, a ServeProcess does not wait when it starts, so
that a test can start many together. Its output (uvicorn's log and access
log) goes to a file that the test reads to count the workers that started
and to find any that failed.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import free_port, stop_process
from marketsvc.config import REPO_ROOT

STARTED = "Application startup complete."
FAILURES = ("Traceback", "Application startup failed", "died", "failed to start")


SERVE = [sys.executable, "-m", "marketsvc", "serve"]


class ServeProcess:
    def __init__(self, database_url: str, log: Path, workers: int = 1, command=SERVE, **env: str):
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        environment = {
            **os.environ,
            "MARKETSVC_DATABASE_URL": database_url,
            "MARKETSVC_PORT": str(self.port),
            **env,
        }
        with log.open("wb") as log_file:
            self.process = subprocess.Popen(
                [*command, "--workers", str(workers)],
                cwd=REPO_ROOT,
                env=environment,
                stdout=log_file,  # uvicorn's access log
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def workers_started(self) -> int:
        return self.text().count(STARTED)

    def failures(self) -> list[str]:
        return [line for line in self.text().splitlines() if any(f in line for f in FAILURES)]

    def wait_ready(self, timeout: float = 90) -> None:
        """Until every worker has started and the port answers; fail on the first failure."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert not self.failures(), self.text()
            assert self.process.poll() is None, f"serve exited:\n{self.text()}"
            if self.workers_started() >= self.workers:
                try:
                    if httpx.get(self.url + "/", timeout=2).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"not ready within {timeout} s:\n{self.text()}")

    def stop(self) -> None:
        stop_process(self.process)


def start_all(count: int, database_url: str, tmp_path: Path, **kwargs) -> list[ServeProcess]:
    """`count` serve processes, all started before any is waited for."""
    servers = [
        ServeProcess(database_url, tmp_path / f"serve-{n}.log", **kwargs) for n in range(count)
    ]
    try:
        for server in servers:
            server.wait_ready()
    except BaseException:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: list[ServeProcess]) -> None:
    for server in servers:
        server.stop()
