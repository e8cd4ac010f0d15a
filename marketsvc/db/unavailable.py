"""Which database errors mean "not now" rather than "this is a bug".

The service answers those with 503 and Retry-After (see server.py): the
request was fine, the database could not serve it at that moment, and the
same request a little later will most likely work.
"""

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# SQLSTATE classes of PostgreSQL that say the server cannot serve us now:
# 08 connection exception, 53 insufficient resources (too many
# connections, disk full), 57P operator intervention (shutdown, restart,
# "the database system is starting up").
_PG_UNAVAILABLE = ("08", "53", "57P")
# What SQLite says when another writer holds the lock too long, or the file
# cannot be read at all.
_SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o error")


class DatabaseUnavailable(Exception):
    """The database cannot answer right now; the message says why."""


def unavailable_reason(exc: BaseException) -> str | None:
    """Why `exc` means the database is unavailable, or None if it does not."""
    if isinstance(exc, DatabaseUnavailable):
        return str(exc)
    if isinstance(exc, PoolTimeout):
        return "all database connections are in use"
    # asyncpg reports a refused or timed-out connect as a plain OSError.
    if isinstance(exc, OSError):
        return "cannot reach the database"
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        # The database closed the connection under us (a restart,
        # pg_terminate_backend); SQLAlchemy has dropped it from the pool.
        return "the connection to the database was lost"
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate == "53300":
        # Beyond max_connections, or a role's or database's connection limit.
        return "the database accepts no more connections"
    if exc.statement is None:
        # Not a statement that failed: connecting did, or ending a
        # transaction on a connection that had just broken.
        return "cannot connect to the database"
    if sqlstate.startswith(_PG_UNAVAILABLE):
        return "the database is not accepting work"
    message = str(exc.orig).lower()
    if isinstance(exc, OperationalError) and any(s in message for s in _SQLITE_UNAVAILABLE):
        return "the database is busy"
    return None


def leaves(group: BaseExceptionGroup) -> list[BaseException]:
    """Every exception inside a (nested) exception group."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found += leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return found
