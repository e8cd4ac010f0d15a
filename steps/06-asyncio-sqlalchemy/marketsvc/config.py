# steps: patch main
# steps: main Settings
#-    # Connections kept open, and how long a request waits for one before it
#-    # is answered 503. All kept, none opened per burst: the pool's overflow
#-    # closes each extra connection as it comes back, so under steady load
#-    # above pool_size every few requests pay a new connection (TLS and all).
#-    # 10 per worker lets 8 workers share PostgreSQL's default 100.
#-    pool_size: int = Field(10, ge=1, le=1000)
#-    pool_timeout: float = Field(10.0, ge=0.1, le=600)
#-    # Connections opened beyond pool_size under a burst, closed again after.
#-    pool_overflow: int = Field(0, ge=0, le=1000)
#-    # None keeps POST /api/query switched off. A SecretStr never shows its
#-    # value in a repr, a log line or an error message.
#-    query_token: SecretStr | None = None
#-    # The research queries of /api/query may run as another (read-only)
#-    # database user; by default they use database_url, read-only.
#-    query_database_url: str | None = None
#-    query_timeout: float = Field(30.0, ge=0.1, le=3600)
#-    # Research queries running at once per process, each on its own
#-    # connection; one more waits pool_timeout, then gets a 503.
#-    query_pool_size: int = Field(2, ge=1, le=100)
#-    # Where the order feed LISTENs for new orders: a direct PostgreSQL URL,
#-    # when database_url goes through PgBouncer in transaction mode (which
#-    # cannot carry LISTEN). None: database_url, or polling behind PgBouncer.
#-    listen_database_url: str | None = None
#-    # Seconds of silence after which an event stream sends a keep-alive.
#-    sse_keepalive: float = Field(15.0, ge=0.05, le=3600)
#-    # One line per request: human-readable text, JSON lines, or none.
#-    access_log: Literal["text", "json", "off"] = "text"
#-    # serve: worker processes, and what a deployment behind a proxy needs.
#-    workers: int = Field(1, ge=1, le=64)
#-    # Trust X-Forwarded-For/-Proto only from these addresses (comma-separated,
#-    # "*" for any): the proxy's own, never the clients'.
#-    proxy_headers: bool = True
#-    forwarded_allow_ips: str = "127.0.0.1"
#-    # Seconds that open connections get to finish after SIGTERM.
#-    shutdown_timeout: float = Field(5.0, ge=0, le=3600)
#-    # A streamed response whose client takes no chunk for this long is
#-    # aborted, so a reader that stopped cannot hold its resources for ever.
#-    send_timeout: float = Field(30.0, ge=0.1, le=3600)
#-    # GET /readyz: how long the database ping may take before "not ready".
#-    ready_timeout: float = Field(2.0, ge=0.1, le=60)
# steps: delete from typing
