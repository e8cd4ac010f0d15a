# steps: patch
"""The HTTP API: FastAPI routes only. Data access lives in db_accessor."""

from fastapi import APIRouter, Body, FastAPI, HTTPException, Path, Request, status
# steps: after from marketsvc.config
from marketsvc.db.engine import close_database, open_database
from marketsvc.db.schema import init_db


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; its lifespan opens the database named by `settings`."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = open_database(settings.database_url, echo=settings.echo)
        app.state.settings = settings
        try:
            await init_db(engine)
            yield
        finally:
            # Requests cancelled by the shutdown may still be finishing a
            # database call: the engine closes after them, not under them.
            await db_accessor.finish_in_flight()
            await close_database()

    app = FastAPI(
        title="Marketplace",
        summary="The marketsvc service of the SQLAlchemy + FastAPI workshop.",
        lifespan=lifespan,
    )
    app.include_router(router)
    add_error_handlers(app)
    return app
# steps: main root
# steps: edit customers
#-def customers() -> list[CustomerOut]:
#+async def customers() -> list[CustomerOut]:
#-    return db_accessor.get_customers()
#+    # `async for` pulls batches of rows from the async generator; the list
#+    # is complete, and the connection back in the pool, before FastAPI
#+    # sends a byte.
#+    return [
#+        db_accessor.customer_json(row)
#+        async for batch in db_accessor.stream_customers()
#+        for row in batch
#+    ]
# steps: main orders
# steps: main order_total


ORDERS_TOTAL_ERRORS = {404: {"description": "Unknown order ids, all of them named"}}
# steps: main orders_total
# steps: main orders_between_dates
#-@router.get(
#-    "/api/orders_between_dates/{before}/{after}",
#-    response_class=StreamedJSON,
#-    status_code=200,
#-    responses={200: {"model": list[OrderWithCustomerOut], "description": "Streamed JSON array"}},
#-)
#-async def orders_between_dates(before: str, after: str):
#-    """Orders with after <= order_time <= before, oldest first, streamed.
#+@router.get("/api/orders_between_dates/{before}/{after}")
#+async def orders_between_dates(before: str, after: str) -> list[OrderWithCustomerOut]:
#+    """Orders with after <= order_time <= before, oldest first.
#-    stream = await start_stream(db_accessor.stream_orders_between(earliest, latest))
#-    return StreamedJSON(stream)
#+    return [
#+        order
#+        async for batch in db_accessor.stream_orders_between(earliest, latest)
#+        for order in batch
#+    ]
# steps: main add_new_order
#-async def add_new_order(
#-    body: Annotated[NewOrderIn, Body()],
#-    key: Annotated[str | None, Depends(idempotency_key)],
#-) -> NewOrderOut:
#+async def add_new_order(body: Annotated[NewOrderIn, Body()]) -> NewOrderOut:
#-    """Store an order and all its items in one transaction.
#-
#-    A client that did not get the answer can safely send the same request
#-    again with the same `Idempotency-Key`. The same key with a different
#-    order is a 422.
#-    """
#+    """Store an order and all its items."""
#-    order_id = await db_accessor.add_new_order(body.customer_id, lines, key)
#+    order_id = await db_accessor.add_new_order(body.customer_id, lines)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(db_accessor.NotFound)
    async def not_found(_request: Request, exc: db_accessor.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)
# steps: delete not_found
