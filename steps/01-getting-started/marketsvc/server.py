"""The HTTP API: FastAPI routes only. The SQL lives in db_accessor.

The routes are plain `def` functions: FastAPI runs each call on a worker
thread, so a slow query blocks that thread but not the whole server.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse

from marketsvc import db_accessor
from marketsvc.config import Settings
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
    """Build the app for the database that `settings` names."""
    settings = settings or Settings.from_env()

    # FastAPI runs the lifespan once: up to `yield` at start-up, the rest at
    # shutdown. (It is always async; the work inside is plain.)
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db_accessor.open_database(settings.database_url, echo=settings.echo)
        db_accessor.init_db()
        yield
        db_accessor.close_database()

    app = FastAPI(title="Marketplace", lifespan=lifespan)
    app.include_router(router)
    app.add_exception_handler(db_accessor.NotFound, not_found)
    return app


def not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)


@router.get("/")
def root() -> str:
    return "Welcome to Marketplace!"


@router.get("/api/customers")
def customers() -> list[CustomerOut]:
    """Every customer with their address."""
    return db_accessor.get_customers()


@router.get("/api/orders/{customer_id}", responses={404: {"description": "Unknown customer"}})
def orders(customer_id: IdPath) -> list[OrderOut]:
    """A customer's orders, each with its items and total."""
    return db_accessor.get_orders_of_customer(customer_id)


@router.get("/api/order_total/{order_id}", responses={404: {"description": "Unknown order"}})
def order_total(order_id: IdPath) -> OrderTotalOut:
    return OrderTotalOut(order_id=order_id, total=db_accessor.get_order_total(order_id))


@router.api_route(
    "/api/orders_total",
    methods=["GET", "POST"],
    responses={404: {"description": "Unknown order ids, all of them named"}},
)
def orders_total(body: OrdersTotalIn) -> list[OrderTotalOut]:
    """Totals of many orders, in request order."""
    return db_accessor.get_orders_total(body.orders)


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
def orders_between_dates(before: str, after: str) -> list[OrderWithCustomerOut]:
    """Orders with after <= order_time <= before, oldest first (times in UTC)."""
    latest = parse_bound(before, "before", end_of_day=True)
    earliest = parse_bound(after, "after", end_of_day=False)
    if earliest > latest:
        raise HTTPException(422, f"after ({after}) is later than before ({before})")
    return db_accessor.get_orders_between(earliest, latest)


@router.post(
    "/api/add_new_order",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "Unknown customer or item"}},
)
def add_new_order(body: NewOrderIn) -> NewOrderOut:
    """Store an order and all its items, or nothing at all."""
    lines = [(line.id, line.quantity) for line in body.items]
    return NewOrderOut(order_id=db_accessor.add_new_order(body.customer_id, lines))


app = create_app()
