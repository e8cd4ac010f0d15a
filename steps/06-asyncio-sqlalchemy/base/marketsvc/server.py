"""The HTTP API: FastAPI routes only. Data access lives in db_accessor."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Body, FastAPI, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse

from marketsvc import db_accessor
from marketsvc.config import Settings
from marketsvc.db.engine import close_database, open_database
from marketsvc.db.schema import init_db
from marketsvc.schemas import (
    MAX_ID,
    CustomerOut,
    NewOrderIn,
    NewOrderOut,
    OrderOut,
    OrdersTotalIn,
    OrderTotalOut,
    OrderWithCustomerOut,
)

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

# Routes live on a router, so that create_app can build fresh apps (tests).
router = APIRouter()


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


@router.get("/")
async def root() -> str:
    return "Welcome to Marketplace!"


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


@router.get("/api/orders/{customer_id}", responses={404: {"description": "Unknown customer"}})
async def orders(customer_id: IdPath) -> list[OrderOut]:
    """A customer's orders, each with its items and total."""
    return await db_accessor.get_orders_of_customer(customer_id)


@router.get("/api/order_total/{order_id}", responses={404: {"description": "Unknown order"}})
async def order_total(order_id: IdPath) -> OrderTotalOut:
    total = await db_accessor.get_order_total(order_id)
    return OrderTotalOut(order_id=order_id, total=total)


ORDERS_TOTAL_ERRORS = {404: {"description": "Unknown order ids, all of them named"}}


# GET with a body too, because the workshop's curl examples send it that way.
@router.get("/api/orders_total", responses=ORDERS_TOTAL_ERRORS, operation_id="orders_total_get")
@router.post("/api/orders_total", responses=ORDERS_TOTAL_ERRORS, operation_id="orders_total")
async def orders_total(body: OrdersTotalIn) -> list[OrderTotalOut]:
    """Totals of many orders, in request order, computed concurrently."""
    return await db_accessor.get_orders_total(body.orders)


def parse_bound(value: str, name: str, *, end_of_day: bool) -> datetime:
    """An ISO date or datetime as naive UTC; a bare date covers its whole day."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time.max if end_of_day else time.min)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            422, f"{name} must be an ISO date or datetime such as 2024-03-01, got {value!r}"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


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


@router.post(
    "/api/add_new_order",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "Unknown customer or item"}},
)
async def add_new_order(body: Annotated[NewOrderIn, Body()]) -> NewOrderOut:
    """Store an order and all its items in one transaction."""
    lines = [(line.id, line.quantity) for line in body.items]
    order_id = await db_accessor.add_new_order(body.customer_id, lines)
    return NewOrderOut(order_id=order_id)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(db_accessor.NotFound)
    async def not_found(_request: Request, exc: db_accessor.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)


app = create_app()
