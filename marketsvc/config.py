"""Settings, read once from the environment (see the README's configuration table)."""

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{REPO_ROOT / 'marketdb'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 9090
    echo: bool = False
    # Connections kept open, and how long a request waits for one before it
    # is answered 503.
    pool_size: int = 10
    pool_timeout: float = 10.0
    # None keeps POST /api/query switched off.
    query_token: str | None = None
    # The research queries of /api/query may run as another (read-only)
    # database user; by default they use database_url, read-only.
    query_database_url: str | None = None
    query_timeout: float = 30.0
    # Seconds of silence after which an event stream sends a keep-alive.
    sse_keepalive: float = 15.0
    # Seconds a client may take to accept one chunk of a streamed response
    # before the response is aborted.
    send_timeout: float = 30.0
    # After SIGTERM, seconds uvicorn waits for open connections to finish
    # before it cancels what is left and shuts down anyway.
    shutdown_timeout: float = 5.0
    # Seconds GET /readyz waits for the database's answer.
    ready_timeout: float = 2.0

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            database_url=env.get("MARKETSVC_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("MARKETSVC_HOST") or "127.0.0.1",
            port=_number(env, "MARKETSVC_PORT", 9090, int, 1, 65535),
            echo=env.get("MARKETSVC_ECHO", "0").lower() in {"1", "true", "yes"},
            pool_size=_number(env, "MARKETSVC_POOL_SIZE", 10, int, 1, 1000),
            pool_timeout=_number(env, "MARKETSVC_POOL_TIMEOUT", 10.0, float, 0.1, 600),
            query_token=env.get("MARKETSVC_QUERY_TOKEN") or None,
            query_database_url=env.get("MARKETSVC_QUERY_DATABASE_URL") or None,
            query_timeout=_number(env, "MARKETSVC_QUERY_TIMEOUT", 30.0, float, 0.1, 3600),
            sse_keepalive=_number(env, "MARKETSVC_SSE_KEEPALIVE", 15.0, float, 0.05, 3600),
            send_timeout=_number(env, "MARKETSVC_SEND_TIMEOUT", 30.0, float, 0.1, 3600),
            shutdown_timeout=_number(env, "MARKETSVC_SHUTDOWN_TIMEOUT", 5.0, float, 0.1, 3600),
            ready_timeout=_number(env, "MARKETSVC_READY_TIMEOUT", 2.0, float, 0.1, 60),
        )


def _number(env, name: str, default, kind, low, high):
    value = env.get(name)
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        what = "a port number" if name == "MARKETSVC_PORT" else f"a number from {low} to {high}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return number
