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
    # None keeps POST /api/query switched off.
    query_token: str | None = None

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            database_url=env.get("MARKETSVC_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("MARKETSVC_HOST") or "127.0.0.1",
            port=_port(env.get("MARKETSVC_PORT") or "9090"),
            echo=env.get("MARKETSVC_ECHO", "0").lower() in {"1", "true", "yes"},
            query_token=env.get("MARKETSVC_QUERY_TOKEN") or None,
        )


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"MARKETSVC_PORT must be a port number, got {value!r}")
    return int(value)
