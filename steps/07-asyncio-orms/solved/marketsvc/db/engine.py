"""Engine and session set-up, shared by the whole service.

One AsyncEngine per process, opened by the app's lifespan (or the CLI) and
reached through get_engine() / get_sessionmaker(). Keeping it behind two
functions lets tests point the service at a temporary database.
"""

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


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
    """Create the process's engine and session factory (options: see create_engine)."""
    global _engine, _sessionmaker
    _engine = create_engine(url, **engine_options)
    # expire_on_commit=False: objects stay readable after commit without a
    # new round trip, which async code cannot do implicitly.
    _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


async def close_database() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = _sessionmaker = None


def get_engine() -> AsyncEngine:
    if _engine is None:
        raise RuntimeError("the database is not open: call open_database() first")
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    if _sessionmaker is None:
        raise RuntimeError("the database is not open: call open_database() first")
    return _sessionmaker
