# steps: patch
# steps: after from sqlalchemy.ext.asyncio

# steps: main POOL_MAX_OVERFLOW
# steps: main create_engine
#-    """Build an AsyncEngine for `url`, with SQLite made safe for concurrent use."""
#+    """Build an AsyncEngine for `url`."""
#-    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
#-    if not in_memory and "poolclass" not in options:
#+    if not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")):
