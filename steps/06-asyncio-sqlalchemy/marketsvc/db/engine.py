"""Engine set-up, shared by the whole service.

One AsyncEngine per process, opened by the app's lifespan (or the CLI) and
reached through get_engine(). Keeping it behind a function lets tests point
the service at a temporary database.
"""

from sqlalchemy import event
# steps: main from sqlalchemy.engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
# steps: main _engine
# steps: main is_sqlite


def create_engine(url: str, *, echo: bool = False, **options) -> AsyncEngine:
    """Build an AsyncEngine for `url` (options go to create_async_engine)."""
    engine = create_async_engine(make_url(url), echo=echo, **options)
    if is_sqlite(engine):
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")  # off by default in SQLite
        cursor.close()


def open_database(url: str, **engine_options) -> AsyncEngine:
    """Create the process's engine (options: see create_engine)."""
    global _engine
    _engine = create_engine(url, **engine_options)
    return _engine


async def close_database() -> None:
    global _engine
    if _engine is not None:
        await _engine.dispose()
    _engine = None
# steps: main get_engine
