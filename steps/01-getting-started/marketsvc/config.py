"""Settings, read from the environment when the service starts."""

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = REPO_ROOT / "marketdb.sql"
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'marketdb'}"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 9090
    # True prints every SQL statement the service sends.
    echo: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            database_url=env.get("MARKETSVC_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("MARKETSVC_HOST") or "127.0.0.1",
            port=int(env.get("MARKETSVC_PORT") or 9090),
            echo=env.get("MARKETSVC_ECHO", "0").lower() in {"1", "true", "yes"},
        )
