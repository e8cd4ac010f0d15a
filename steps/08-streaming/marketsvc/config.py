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
#+    # How long a research query waits for one of its connections before it
#+    # is answered 503.
#+    pool_timeout: float = Field(10.0, ge=0.1, le=600)
#-    # Where the order feed LISTENs for new orders: a direct PostgreSQL URL,
#-    # when database_url goes through PgBouncer in transaction mode (which
#-    # cannot carry LISTEN). None: database_url, or polling behind PgBouncer.
#-    listen_database_url: str | None = None
#=    sse_keepalive: float = Field(15.0, ge=0.05, le=3600)
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
#=    send_timeout: float = Field(30.0, ge=0.1, le=3600)
#-    # GET /readyz: how long the database ping may take before "not ready".
#-    ready_timeout: float = Field(2.0, ge=0.1, le=60)
# steps: delete from typing
