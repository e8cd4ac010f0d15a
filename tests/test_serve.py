"""serve and ./run.sh run with --workers, and the settings a deployment needs."""

import os
import subprocess
import sys

import httpx
import pytest

from marketsvc.config import REPO_ROOT, Settings
from tests.deployed import ServeProcess


def serve(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "marketsvc", "serve", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("workers", ["0", "65", "-1"])
def test_a_bad_worker_count_is_one_clear_line(workers):
    result = serve("--workers", workers)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"marketsvc: --workers must be a number from 1 to 64, got {workers}"
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MARKETSVC_WORKERS", "many"),
        ("MARKETSVC_WORKERS", "0"),
        ("MARKETSVC_SHUTDOWN_TIMEOUT", "-1"),
    ],
)
def test_bad_deployment_settings_are_one_clear_line(name, value):
    result = serve(**{name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"marketsvc: bad configuration: {name} must be")


def test_deployment_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("MARKETSVC_WORKERS", "3")
    monkeypatch.setenv("MARKETSVC_PROXY_HEADERS", "0")
    monkeypatch.setenv("MARKETSVC_FORWARDED_ALLOW_IPS", "10.0.0.5")
    monkeypatch.setenv("MARKETSVC_SHUTDOWN_TIMEOUT", "2.5")
    monkeypatch.setenv("MARKETSVC_POOL_OVERFLOW", "0")
    settings = Settings.from_env()
    assert (settings.workers, settings.proxy_headers, settings.forwarded_allow_ips) == (
        3,
        False,
        "10.0.0.5",
    )
    assert (settings.shutdown_timeout, settings.pool_overflow) == (2.5, 0)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_run_sh_runs_the_workers_it_is_asked_for(database_url, tmp_path):
    server = ServeProcess(
        database_url, tmp_path / "run.log", workers=2, command=["./run.sh", "run"]
    )
    try:
        server.wait_ready()
        assert server.workers_started() == 2
        assert httpx.get(server.url + "/api/order_total/1", timeout=10).json()["total"] == 20.5
    finally:
        server.stop()
    assert server.failures() == []


@pytest.mark.parametrize("args", [["--workers"], ["--workers", "2", "extra"], ["--threads", "2"]])
def test_run_sh_refuses_other_arguments(args):
    result = subprocess.run(
        ["./run.sh", "run", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "run.sh: run takes only --pg [URL], --workers N and --reload" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_forwarded_headers_are_trusted_from_the_proxy_only(database_url, tmp_path):
    """uvicorn rewrites the client address from X-Forwarded-For for a trusted proxy.

    The service's routes do not show the client address, so the test looks
    at uvicorn's access log, which names the client of every request.
    """
    for trusted, expected in [("127.0.0.1", "203.0.113.9"), ("10.9.9.9", "127.0.0.1")]:
        log = tmp_path / f"{trusted}.log"
        server = ServeProcess(database_url, log, MARKETSVC_FORWARDED_ALLOW_IPS=trusted)
        try:
            server.wait_ready()
            headers = {"X-Forwarded-For": "203.0.113.9"}
            assert httpx.get(server.url + "/", headers=headers).status_code == 200
        finally:
            server.stop()
        access = [line for line in server.text().splitlines() if '"GET / HTTP' in line]
        assert expected in access[-1], server.text()  # the last: the test's own request
