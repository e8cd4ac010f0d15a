"""What every benchmark needs: databases, servers, memory readings, tables."""

import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from marketsvc.config import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def seeded_sqlite(customers: int, orders: int) -> Path:
    """A SQLite file with the sample data plus generated rows, made once and kept."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench-{customers}c-{orders}o.db"
    if not path.exists():
        seed(sqlite_url(path), customers, orders)
    return path


def seed(url: str, customers: int, orders: int) -> None:
    print(f"  seeding {customers} customers and {orders} orders ...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "marketsvc",
            "seed",
            f"--customers={customers}",
            f"--orders={orders}",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "MARKETSVC_DATABASE_URL": url},
        check=True,
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids) -> float:
    """User + system CPU time the processes `pids` have used so far."""
    total = 0
    for pid in pids:
        try:
            # Fields after the command name, which may hold spaces: utime, stime
            # are the 14th and 15th of the line.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (a server and its worker processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo.extend(children.get(tree[-1], []))
    return tree


def processes_named(name: str) -> list[int]:
    """The pids whose command is `name` (PostgreSQL's server and its backends)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                pids.append(int(comm.parent.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process on a free loopback port, with its memory in view."""

    def __init__(self, argv: list[str], env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **env, "MARKETSVC_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [*argv, "--port", str(self.port)] if "uvicorn" in argv else argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.url + "/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"{argv} did not start") from None
                time.sleep(0.1)

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(field)

    def rss(self) -> int:
        return self._status("VmRSS")

    def reset_peak(self) -> None:
        # Writing 5 to clear_refs resets the peak resident size (VmHWM).
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")

    def peak(self) -> int:
        return self._status("VmHWM")

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen) -> None:
    """Ask a server process to stop; kill it if it has not within 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def marketsvc(url: str, **env: str):
    server = Server(
        [sys.executable, "-m", "marketsvc", "serve"], {"MARKETSVC_DATABASE_URL": url, **env}
    )
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def baseline(url: str):
    """bench/baseline_app.py: the same questions answered the plainest way."""
    argv = [sys.executable, "-m", "uvicorn", "bench.baseline_app:app", "--log-level", "warning"]
    server = Server(argv, {"BENCH_DATABASE_URL": url})
    try:
        yield server
    finally:
        server.stop()


def median(values) -> float:
    return statistics.median(values)


def table(title: str, headers: list[str], rows: list[list]) -> str:
    """A Markdown table, printed and returned (the docs page shows the same)."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
        return str(value)

    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join(" --- " for _ in headers) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    text = "\n".join(lines) + "\n"
    print("\n" + text, flush=True)
    return text


def save(name: str, text: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path


MB = 1024 * 1024


PG_ENV = "BENCH_PG_URL"


def engines() -> list[tuple[str, str | None]]:
    """("SQLite", None) always, ("PostgreSQL", server url) when BENCH_PG_URL is set."""
    found = [("SQLite", None)]
    if os.environ.get(PG_ENV):
        found.append(("PostgreSQL", os.environ[PG_ENV]))
    return found


def seeded_url(engine_server: str | None, customers: int, orders: int) -> str:
    """A database with generated rows on SQLite, or on the PostgreSQL server given."""
    if engine_server is None:
        return sqlite_url(seeded_sqlite(customers, orders))
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"marketsvc_bench_{customers}c_{orders}o"
    url = make_url(engine_server).set(database=name).render_as_string(hide_password=False)

    async def create() -> bool:
        engine = create_async_engine(engine_server, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                exists = await conn.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                )
                if not exists:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                return not exists
        finally:
            await engine.dispose()

    if asyncio.run(create()):
        seed(url, customers, orders)
    return url
