# steps: patch
# steps: main from fastapi
# steps: after from fastapi.responses
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession
from marketsvc.db.engine import close_database, get_sessionmaker, open_database
# steps: main from marketsvc.schemas
# steps: edit create_app
#-        engine = open_database(settings.database_url, echo=settings.echo)
#+        engine = open_database(
#+            settings.database_url,
#+            echo=settings.echo,
#+            pool_size=settings.pool_size,
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
#+    @app.exception_handler(PoolTimeout)
#+    async def pool_exhausted(_request: Request, _exc: PoolTimeout) -> JSONResponse:
#+        return busy("all database connections are in use")


# steps: main busy
