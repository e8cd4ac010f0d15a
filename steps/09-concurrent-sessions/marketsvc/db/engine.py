# steps: patch
# steps: after from sqlalchemy.ext.asyncio


# The pool keeps pool_size connections open and opens pool_overflow more
# under a burst; a request that waits pool_timeout for one gets a 503 (see
# server.py). The settings (config.py) say what each is by default.
def create_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    pool_timeout: float = 10.0,
    pool_overflow: int = 0,
    **options,
) -> AsyncEngine:
    """Build an AsyncEngine for `url`."""
    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if not in_memory and "poolclass" not in options:
        options.update(pool_size=pool_size, max_overflow=pool_overflow, pool_timeout=pool_timeout)
    engine = create_async_engine(parsed, echo=echo, **options)
    if is_sqlite(engine):
        _configure_sqlite(engine)
    return engine
