"""The HTTP API: FastAPI routes only. Data access lives in db_accessor."""

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Path,
    Request,
    status,
)
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from marketsvc import db_accessor, events, lifecycle, research
from marketsvc.config import Settings
from marketsvc.db.engine import close_database, get_sessionmaker, open_database
from marketsvc.db.schema import init_db
from marketsvc.feed import feed_of
from marketsvc.live import live_page
from marketsvc.schemas import (
    MAX_ID,
    CustomerOut,
    ItemIn,
    ItemOut,
    NewOrderIn,
    NewOrderOut,
    OrderOut,
    OrdersTotalIn,
    OrderTotalOut,
    OrderWithCustomerOut,
    QueryIn,
    StatsOut,
)
from marketsvc.streaming import StreamedJSON, start_stream

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_BODY_BYTES = 1_000_000

# Routes live on a router, so that create_app can build fresh apps (tests).
router = APIRouter()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; its lifespan opens the database named by `settings`."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = open_database(
            settings.database_url,
            echo=settings.echo,
            pool_size=settings.pool_size,
            pool_timeout=settings.pool_timeout,
        )
        app.state.settings = settings
        app.state.query_engine = None
        try:
            await init_db(engine)
            if settings.query_token:
                await research.create_reader_role(engine)
                app.state.query_engine = research.create_query_engine(
                    settings.query_database_url or settings.database_url,
                    timeout=settings.query_timeout,
                )
            with lifecycle.announce_shutdown():
                yield
        finally:
            if app.state.query_engine is not None:
                await app.state.query_engine.dispose()
            await close_database()

    app = FastAPI(
        title="Marketplace",
        summary="The marketsvc service of the SQLAlchemy + FastAPI workshop.",
        lifespan=lifespan,
        # No request of this API needs more; a larger body is refused (413)
        # before anyone parses it, instead of stalling the event loop.
        max_body_size=MAX_BODY_BYTES,
    )
    app.include_router(router)
    add_error_handlers(app)
    return app


@router.get("/")
async def root() -> str:
    return "Welcome to Marketplace!"


@router.get(
    "/api/customers",
    response_class=StreamedJSON,
    status_code=200,
    responses={200: {"model": list[CustomerOut], "description": "Streamed JSON array"}},
)
async def customers():
    """Every customer with their address, streamed as one JSON array."""
    stream = await start_stream(db_accessor.stream_customers())
    return StreamedJSON(stream, db_accessor.customer_json)


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
    bad = HTTPException(
        422, f"{name} must be an ISO date or datetime such as 2024-03-01, got {value!r}"
    )
    if not value.isprintable():
        raise bad
    try:
        day = date.fromisoformat(value)  # 2024-03-01, 20240301, 2024-W09-5 ...
    except ValueError:
        pass
    else:
        return datetime.combine(day, time.max if end_of_day else time.min)
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31T23:59-01:00
        raise bad from None
    return moment


@router.get(
    "/api/orders_between_dates/{before}/{after}",
    response_class=StreamedJSON,
    status_code=200,
    responses={200: {"model": list[OrderWithCustomerOut], "description": "Streamed JSON array"}},
)
async def orders_between_dates(before: str, after: str):
    """Orders with after <= order_time <= before, oldest first, streamed.

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
    stream = await start_stream(db_accessor.stream_orders_between(earliest, latest))
    return StreamedJSON(stream)


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


# --- research queries --------------------------------------------------------

QUERY_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": QueryIn.model_json_schema()},
        "application/x-www-form-urlencoded": {"schema": QueryIn.model_json_schema()},
    },
}


async def read_query(request: Request) -> str:
    """The `query` of a JSON body or of a form, validated like any body."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            payload = await request.json()
        except ValueError:
            raise HTTPException(422, "the body is not valid JSON") from None
    else:
        payload = dict(await request.form())
    if not isinstance(payload, dict):
        raise HTTPException(422, 'send {"query": "SELECT ..."} as JSON or as a form')
    try:
        return QueryIn.model_validate(payload).query
    except ValidationError as exc:
        first = exc.errors()[0]
        raise HTTPException(422, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


@router.post(
    "/api/query",
    response_class=StreamedJSON,
    status_code=200,
    openapi_extra={"requestBody": QUERY_BODY},
    responses={
        200: {"description": "Streamed JSON array of rows keyed by column name"},
        400: {"description": "The database refused the query; detail is its message"},
        401: {"description": "Missing or wrong bearer token"},
        404: {"description": "Research queries are switched off (no token configured)"},
    },
)
async def query(request: Request, authorization: Annotated[str | None, Header()] = None):
    """Run a read-only SQL query and stream its rows.

    Needs `Authorization: Bearer <MARKETSVC_QUERY_TOKEN>`. The statement runs
    on a connection that the database itself keeps read-only.
    """
    settings: Settings = request.app.state.settings
    if not settings.query_token:
        raise HTTPException(404, "Not Found")
    if not research.token_matches(authorization, settings.query_token):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    sql = await read_query(request)
    try:
        stream = await start_stream(research.run_query(request.app.state.query_engine, sql))
    except research.QueryFailed as exc:
        raise HTTPException(400, str(exc)) from None
    return StreamedJSON(stream)


# --- events, stats, items ------------------------------------------------------


@router.get(
    "/api/events/orders",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`order` events (id: the order id, data: an OrderOut as JSON), "
            "then one `end` event (data: sent, last_id). A stream that closes without "
            "`end` (the server is restarting) is resumed with Last-Event-ID."
        },
        404: {"description": "Unknown customer"},
    },
)
async def order_events(
    request: Request, query: Annotated[events.FeedQuery, Depends(events.feed_query)]
) -> AsyncIterator[ServerSentEvent]:
    """Orders as Server-Sent Events; a reconnecting client resumes after Last-Event-ID."""
    stream = events.order_events(
        feed_of(request.app.state), query, keepalive=request.app.state.settings.sse_keepalive
    )
    async with aclosing(stream):
        async for event in stream:
            yield event


@router.get("/live", response_class=HTMLResponse)
async def live() -> HTMLResponse:
    """A page that draws orders as they arrive (EventSource on the feed above)."""
    return HTMLResponse(await live_page())


@router.get("/api/stats")
async def stats() -> StatsOut:
    """Totals over the whole marketplace, each aggregate in its own session, concurrently."""
    return StatsOut(**await db_accessor.get_stats())


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request, closed when the response has been sent."""
    async with get_sessionmaker()() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@router.get("/api/items")
async def list_items(session: SessionDep) -> list[ItemOut]:
    return await db_accessor.list_items(session)


@router.post(
    "/api/items",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "An item with that name exists"}},
)
async def create_item(item: ItemIn, session: SessionDep) -> ItemOut:
    return await db_accessor.create_item(session, item.name, item.price, item.description)


class SafeJSONResponse(JSONResponse):
    """JSON that survives any input echoed back in an error.

    A 422 repeats the offending input, and JSON allows strings that UTF-8
    cannot encode (a lone surrogate such as "\\ud800"); they are written as
    escapes instead of failing the response with a 500.
    """

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return SafeJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)

    @app.exception_handler(db_accessor.NotFound)
    async def not_found(_request: Request, exc: db_accessor.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(db_accessor.Conflict)
    async def conflict(_request: Request, exc: db_accessor.Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(PoolTimeout)
    async def pool_exhausted(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        return busy("all database connections are in use")

    @app.exception_handler(OperationalError)
    async def database_busy(_request: Request, exc: OperationalError) -> JSONResponse:
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            return busy("the database is busy")
        raise exc


def busy(reason: str) -> JSONResponse:
    return JSONResponse(
        {"detail": f"{reason}; try again shortly"}, status_code=503, headers={"Retry-After": "1"}
    )


app = create_app()
