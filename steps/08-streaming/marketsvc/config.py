# steps: patch
# steps: edit Settings
#=    echo: bool = False
#+    # How long a research query waits for one of its connections before it
#+    # is answered 503.
#+    pool_timeout: float = Field(10.0, ge=0.1, le=600)
#+    # None keeps POST /api/query switched off. A SecretStr never shows its
#+    # value in a repr, a log line or an error message.
#+    query_token: SecretStr | None = None
#+    # The research queries of /api/query may run as another (read-only)
#+    # database user; by default they use database_url, read-only.
#+    query_database_url: str | None = None
#+    query_timeout: float = Field(30.0, ge=0.1, le=3600)
#+    # Research queries running at once per process, each on its own
#+    # connection; one more waits pool_timeout, then gets a 503.
#+    query_pool_size: int = Field(2, ge=1, le=100)
#+    # Seconds of silence after which an event stream sends a keep-alive.
#+    sse_keepalive: float = Field(15.0, ge=0.05, le=3600)
#+    # A streamed response whose client takes no chunk for this long is
#+    # aborted, so a reader that stopped cannot hold its resources for ever.
#+    send_timeout: float = Field(30.0, ge=0.1, le=3600)
