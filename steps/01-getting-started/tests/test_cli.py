"""The command line that run.sh uses: init-db [--reset] and serve."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent


def marketsvc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "marketsvc", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_init_db_loads_once_and_reset_reloads(tmp_path):
    env = {"MARKETSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}"}

    first = marketsvc("init-db", env=env)
    assert first.returncode == 0, first.stderr
    assert "loaded marketdb.sql" in first.stdout

    again = marketsvc("init-db", env=env)
    assert again.returncode == 0, again.stderr
    assert "kept them" in again.stdout

    reset = marketsvc("init-db", "--reset", env=env)
    assert reset.returncode == 0, reset.stderr
    assert "loaded marketdb.sql" in reset.stdout


def test_async_sqlite_urls_name_the_same_file(tmp_path):
    env = {"MARKETSVC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db'}"}
    assert marketsvc("init-db", env=env).returncode == 0
    assert (tmp_path / "db").exists()


def test_a_bad_database_url_is_one_clear_line(tmp_path):
    result = marketsvc("init-db", env={"MARKETSVC_DATABASE_URL": "mysql://nowhere/db"})
    assert result.returncode != 0
    assert result.stderr.startswith("marketsvc: ")
    assert len(result.stderr.strip().splitlines()) == 1
# steps: main bench/common.py::free_port


def test_serve_answers_on_the_configured_port(tmp_path):
    port = free_port()
    env = {
        "MARKETSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
        "MARKETSVC_HOST": "127.0.0.1",
        "MARKETSVC_PORT": str(port),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "marketsvc", "serve"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json() == "Welcome to Marketplace!"
    finally:
        server.terminate()
        server.wait(timeout=10)
