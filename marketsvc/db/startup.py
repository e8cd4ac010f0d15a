"""Start-up: what each process does before it serves, safe for many at once.

Any number of processes, each with any number of workers, may start at the
same moment on one database, empty or not. Each one runs prepare_database;
the start-up lock (see schema.take_startup_lock) lets one of them at a time
look and create, so the schema and the sample data are created exactly once
and nobody trips over someone else's half-made table. (The research login
has a lock of its own: research.ensure_research_login.)
"""

import sys

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from marketsvc.config import Settings
from marketsvc.db.engine import (
    behind_transaction_pooler,
    close_database,
    is_sqlite,
    open_database,
)
from marketsvc.db.errors import describe_database_error, settled
from marketsvc.db.schema import init_db

# The order feed keeps one connection per process listening for new orders.
FEED_LISTENERS = 1


async def prepare_database(engine: AsyncEngine, settings: Settings) -> bool:
    """Schema and sample data, created once. True when this call loaded marketdb.sql."""
    return await init_db(engine)  # takes the lock inside its transaction


def connections_needed(settings: Settings) -> tuple[int, str]:
    """The most connections the service opens on its server, and the sum."""
    per_worker = settings.pool_size + settings.pool_overflow + FEED_LISTENERS
    parts = f"{settings.pool_size} pool + {settings.pool_overflow} overflow + 1 feed listener"
    if settings.query_token and _same_server(settings.query_database_url, settings.database_url):
        per_worker += settings.query_pool_size
        parts += f" + {settings.query_pool_size} research"
    return per_worker * settings.workers, f"{settings.workers} worker(s) × ({parts})"


def _same_server(query_url: str | None, url: str) -> bool:
    if query_url is None:
        return True
    one, other = make_url(query_url), make_url(url)
    return (one.host, one.port) == (other.host, other.port)


async def connection_budget_warning(engine: AsyncEngine, settings: Settings) -> str | None:
    """One line when the service could open more connections than the server allows.

    The server refuses a connection beyond max_connections, less the slots
    kept for superusers; the service would see that as errors under load.
    Behind PgBouncer the pooler's own limits decide instead, so no check.
    """
    if is_sqlite(engine) or behind_transaction_pooler(engine.url):
        return None
    async with engine.connect() as conn:
        limit = int(await conn.scalar(text("SHOW max_connections")))
        reserved = int(await conn.scalar(text("SHOW superuser_reserved_connections")))
    needed, sum_text = connections_needed(settings)
    allowed = limit - reserved
    if needed <= allowed:
        return None
    return (
        f"warning: {sum_text} = {needed} connections, but the database server allows "
        f"{allowed} (max_connections {limit} - {reserved} reserved for superusers); "
        "lower MARKETSVC_WORKERS, MARKETSVC_POOL_SIZE or MARKETSVC_POOL_OVERFLOW, "
        "or put PgBouncer in front (docs: Running beyond one machine)"
    )


async def prepare_to_serve(settings: Settings) -> str | None:
    """serve's one-shot step before the workers start: None when all is well.

    Prepares the database (so that workers find it ready) and prints the
    connection-budget warning once, for all workers together.
    """
    try:
        engine = open_database(settings.database_url)
        await settled(prepare_database(engine, settings))
        warning = await connection_budget_warning(engine, settings)
    except Exception as exc:
        return describe_database_error(exc, settings.database_url)
    finally:
        await close_database()
    if warning:
        print(f"marketsvc: {warning}", file=sys.stderr, flush=True)
    return None
