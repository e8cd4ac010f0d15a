# steps: patch
# steps: main __doc__

from fastapi import APIRouter, Body, FastAPI, HTTPException, Path, Request, status
# steps: after from marketsvc.config
from marketsvc.db.engine import close_database, open_database
# steps: main from marketsvc.db.schema


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


@router.get("/api/customers")
async def customers() -> list[CustomerOut]:
    """Every customer with their address."""
    # `async for` pulls batches of rows from the async generator; the list
    # is complete, and the connection back in the pool, before FastAPI
    # sends a byte.
    return [
        db_accessor.customer_json(row)
        async for batch in db_accessor.stream_customers()
        for row in batch
    ]


# steps: main orders


# steps: main order_total


# steps: main ORDERS_TOTAL_ERRORS


# steps: main orders_total


@router.get("/api/orders_between_dates/{before}/{after}")
async def orders_between_dates(before: str, after: str) -> list[OrderWithCustomerOut]:
    """Orders with after <= order_time <= before, oldest first.

    Dates are ISO 8601 dates or datetimes; a bare date means its whole day,
    and times without an offset are UTC.
    """
    latest = parse_bound(before, "before", end_of_day=True)
    earliest = parse_bound(after, "after", end_of_day=False)
    if earliest > latest:
        raise HTTPException(
            422,
            f"after ({after}) is later than before ({before}); the path is /{{before}}/{{after}}",
        )
    return [
        order
        async for batch in db_accessor.stream_orders_between(earliest, latest)
        for order in batch
    ]


# steps: main add_new_order


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(db_accessor.NotFound)
    async def not_found(_request: Request, exc: db_accessor.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)
# steps: delete not_found
