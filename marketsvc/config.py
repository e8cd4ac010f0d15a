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
    # Connections opened beyond pool_size under a burst, closed again after.
    pool_overflow: int = 10
    # None keeps POST /api/query switched off.
    query_token: str | None = None
    # The research queries of /api/query may run as another (read-only)
    # database user; by default they use database_url, read-only.
    query_database_url: str | None = None
    query_timeout: float = 30.0
    # Research queries running at once per process, each on its own
    # connection; one more waits pool_timeout, then gets a 503.
    query_pool_size: int = 2
    # Seconds of silence after which an event stream sends a keep-alive.
    sse_keepalive: float = 15.0
    # serve: worker processes, and what a deployment behind a proxy needs.
    workers: int = 1
    # Trust X-Forwarded-For/-Proto only from these addresses (comma-separated,
    # "*" for any): the proxy's own, never the clients'.
    proxy_headers: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    # Seconds that open connections get to finish after SIGTERM.
    shutdown_timeout: float = 5.0

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
            query_pool_size=_number(env, "MARKETSVC_QUERY_POOL_SIZE", 2, int, 1, 100),
            sse_keepalive=_number(env, "MARKETSVC_SSE_KEEPALIVE", 15.0, float, 0.05, 3600),
            pool_overflow=_number(env, "MARKETSVC_POOL_OVERFLOW", 10, int, 0, 1000),
            workers=_number(env, "MARKETSVC_WORKERS", 1, int, 1, 64),
            proxy_headers=env.get("MARKETSVC_PROXY_HEADERS", "1").lower() in {"1", "true", "yes"},
            forwarded_allow_ips=env.get("MARKETSVC_FORWARDED_ALLOW_IPS") or "127.0.0.1",
            shutdown_timeout=_number(env, "MARKETSVC_SHUTDOWN_TIMEOUT", 5.0, float, 0, 3600),
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
