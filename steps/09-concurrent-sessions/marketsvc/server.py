# steps: patch
# steps: main from fastapi
# steps: after from pydantic
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession
from marketsvc.db.engine import close_database, get_sessionmaker, open_database
# steps: after from marketsvc.db.schema
from marketsvc.db.unavailable import DatabaseUnavailable, unavailable_reason
# steps: main from marketsvc.schemas
#-    CancelledOrderOut,
#=    CustomerOut,
#-    IdText,
# steps: edit create_app
#-        engine = open_database(settings.database_url, echo=settings.echo)
#+        engine = open_database(
#+            settings.database_url,
#+            echo=settings.echo,
#+            pool_size=settings.pool_size,
#+            pool_overflow=settings.pool_overflow,
#+            pool_timeout=settings.pool_timeout,
#+        )


# --- events, stats, items ------------------------------------------------------


# steps: edit order_events
# steps: main stats
# steps: main get_session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
# steps: main list_items
# steps: main create_item
# steps: edit add_error_handlers
#=        return JSONResponse({"detail": str(exc)}, status_code=404)
#+
#+    @app.exception_handler(db_accessor.Conflict)
#+    async def conflict(_request: Request, exc: db_accessor.Conflict) -> JSONResponse:
#+        return JSONResponse({"detail": str(exc)}, status_code=409)
#+
#+    # Pool exhaustion, a dropped or refused connection, a locked SQLite
#+    # file: the request was fine, the database could not serve it now.
#+    @app.exception_handler(PoolTimeout)
#+    @app.exception_handler(DBAPIError)
#+    @app.exception_handler(OSError)
#+    @app.exception_handler(DatabaseUnavailable)
#+    async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
#+        reason = unavailable_reason(exc)
#+        if reason is None:
#+            raise exc
#+        return busy(reason)
# steps: main busy
