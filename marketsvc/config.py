"""Settings, read once from the environment (see the README's configuration table).

Every setting is one field of Settings. Its environment variable is its name
in capitals after MARKETSVC_ (pool_size: MARKETSVC_POOL_SIZE); its type and
bounds say which values it takes, and pydantic-settings reads and checks
them. An empty variable counts as unset.
"""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{REPO_ROOT / 'marketdb'}"
ENV_PREFIX = "MARKETSVC_"


class SettingsError(ValueError):
    """A setting has a value it cannot take; the message names the variable."""


class Settings(BaseModel):
    """What the service is told. Settings(...) takes only the values it is
    given (tests build one so); Settings.from_env() reads the environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = Field(9090, ge=1, le=65535)
    echo: bool = False
    # Connections kept open, and how long a request waits for one before it
    # is answered 503. All kept, none opened per burst: the pool's overflow
    # closes each extra connection as it comes back, so under steady load
    # above pool_size every few requests pay a new connection (TLS and all).
    # 10 per worker lets 8 workers share PostgreSQL's default 100.
    pool_size: int = Field(10, ge=1, le=1000)
    pool_timeout: float = Field(10.0, ge=0.1, le=600)
    # Connections opened beyond pool_size under a burst, closed again after.
    pool_overflow: int = Field(0, ge=0, le=1000)
    # None keeps POST /api/query switched off. A SecretStr never shows its
    # value in a repr, a log line or an error message.
    query_token: SecretStr | None = None
    # The research queries of /api/query may run as another (read-only)
    # database user; by default they use database_url, read-only.
    query_database_url: str | None = None
    query_timeout: float = Field(30.0, ge=0.1, le=3600)
    # Research queries running at once per process, each on its own
    # connection; one more waits pool_timeout, then gets a 503.
    query_pool_size: int = Field(2, ge=1, le=100)
    # Where the order feed LISTENs for new orders: a direct PostgreSQL URL,
    # when database_url goes through PgBouncer in transaction mode (which
    # cannot carry LISTEN). None: database_url, or polling behind PgBouncer.
    listen_database_url: str | None = None
    # Seconds of silence after which an event stream sends a keep-alive.
    sse_keepalive: float = Field(15.0, ge=0.05, le=3600)
    # One line per request: human-readable text, JSON lines, or none.
    access_log: Literal["text", "json", "off"] = "text"
    # serve: worker processes, and what a deployment behind a proxy needs.
    workers: int = Field(1, ge=1, le=64)
    # Trust X-Forwarded-For/-Proto only from these addresses (comma-separated,
    # "*" for any): the proxy's own, never the clients'.
    proxy_headers: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    # Seconds that open connections get to finish after SIGTERM.
    shutdown_timeout: float = Field(5.0, ge=0, le=3600)
    # A streamed response whose client takes no chunk for this long is
    # aborted, so a reader that stopped cannot hold its resources for ever.
    send_timeout: float = Field(30.0, ge=0.1, le=3600)
    # GET /readyz: how long the database ping may take before "not ready".
    ready_timeout: float = Field(2.0, ge=0.1, le=60)

    @classmethod
    def from_env(cls) -> "Settings":
        """The MARKETSVC_ variables, checked; SettingsError names a bad one."""
        try:
            return cls(**dict(_FromEnvironment()))
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None

    def replace(self, **changes) -> "Settings":
        """A copy with some values changed, checked like the originals."""
        return Settings(**{**dict(self), **changes})


class _FromEnvironment(BaseSettings, Settings):
    """Settings' fields, read from the environment by pydantic-settings."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True)


def describe(error: ValidationError) -> str:
    """The first problem of a ValidationError as one line naming the variable."""
    problem = error.errors()[0]
    name = str(problem["loc"][0]) if problem["loc"] else ""
    field = Settings.model_fields.get(name)
    variable = ENV_PREFIX + name.upper()
    if field is None:
        return f"{variable}: {problem['msg']}"
    if field.annotation in (SecretStr, SecretStr | None):
        return f"{variable}: {problem['msg']}"  # never repeat a secret
    return f"{variable} must be {_what_it_takes(field)}, got {problem['input']!r}"


def _what_it_takes(field) -> str:
    bounds = {type(rule).__name__: rule for rule in field.metadata}
    if field.annotation in (int, float) and {"Ge", "Le"} <= bounds.keys():
        kind = "a whole number" if field.annotation is int else "a number"
        return f"{kind} from {bounds['Ge'].ge} to {bounds['Le'].le}"
    if field.annotation is bool:
        return "true or false (1 or 0, yes or no)"
    choices = getattr(field.annotation, "__args__", ())
    if choices and all(isinstance(choice, str) for choice in choices):
        return "one of " + ", ".join(choices)
    return f"a valid {getattr(field.annotation, '__name__', field.annotation)}"
