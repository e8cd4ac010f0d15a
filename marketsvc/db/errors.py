"""Turn start-up database failures into one line a person can act on."""

import asyncio

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from marketsvc.db.schema import SchemaError


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def describe_database_error(exc: BaseException, url: str) -> str:
    where = _safe_url(url)
    if isinstance(exc, (ArgumentError, NoSuchModuleError, ModuleNotFoundError)) or (
        isinstance(exc, SQLAlchemyError) and "async" in str(exc) and "driver" in str(exc)
    ):
        # ModuleNotFoundError: a URL naming a driver that is not installed,
        # such as postgresql:// (psycopg) instead of postgresql+asyncpg://.
        return (
            f"MARKETSVC_DATABASE_URL {where} is not a usable async SQLAlchemy URL "
            "(use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db)"
        )
    if isinstance(exc, SchemaError):
        return f"{where}: {exc}"
    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return f"cannot use the database {where}: {reason}"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"cannot use the database {where}: {first_line}"


async def settled(coro):
    """Await `coro`; if it fails, give driver threads a moment before raising.

    aiosqlite reports a failed connect from its worker thread, a little after
    the error reaches us; if asyncio.run closed the loop first, that thread
    would print a traceback of its own under our one clear line.
    """
    try:
        return await coro
    except Exception:
        await asyncio.sleep(0.2)
        raise
