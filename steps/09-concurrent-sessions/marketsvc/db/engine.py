# steps: patch
# steps: after from sqlalchemy.ext.asyncio

# steps: main POOL_MAX_OVERFLOW
# steps: main create_engine
#-    """Build an AsyncEngine for `url`, with SQLite made safe for concurrent use."""
#+    """Build an AsyncEngine for `url`."""
#-    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
#-    if not in_memory and "poolclass" not in options:
#+    if not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")):
#=        options.update(pool_size=pool_size, max_overflow=pool_overflow, pool_timeout=pool_timeout)
#-        # A database server can drop pooled connections behind our back (a
#-        # restart, pg_terminate_backend, an idle timeout). pool_pre_ping tests
#-        # each one as it leaves the pool and quietly replaces a dead one, so
#-        # the request that gets it never sees the error. A SQLite connection
#-        # is a file handle that nothing outside can close: no ping there.
#-        options.setdefault("pool_pre_ping", parsed.get_backend_name() != "sqlite")
#-    if behind_transaction_pooler(parsed):
#-        options["connect_args"] = {**POOLER_CONNECT_ARGS, **options.get("connect_args", {})}
