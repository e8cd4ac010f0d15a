"""The HTTP API: FastAPI routes only. Data access lives in db_accessor."""

import json
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, date, datetime, time
from decimal import Decimal
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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from marketsvc import access_log, db_accessor, events, health, idempotency, lifecycle, research
from marketsvc.body_limit import BodyLimitMiddleware
from marketsvc.config import Settings
from marketsvc.db.engine import close_database, get_sessionmaker, open_database
from marketsvc.db.startup import prepare_database
from marketsvc.db.unavailable import DatabaseUnavailable, unavailable_reason
from marketsvc.feed import feed_of
from marketsvc.live import live_page
from marketsvc.schemas import (
    MAX_ID,
    CancelledOrderOut,
    CustomerOut,
    IdText,
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
from marketsvc.strict_json import StrictJSONRoute

IdPath = Annotated[IdText, Path(ge=1, le=MAX_ID)]
MAX_BODY_BYTES = 1_000_000
# What a 503 tells the client to wait before it tries again.
RETRY_AFTER_SECONDS = 1

# Routes live on a router, so that create_app can build fresh apps (tests).
# StrictJSONRoute: every JSON body is parsed strictly (see strict_json.py).
router = APIRouter(route_class=StrictJSONRoute)


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
            pool_overflow=settings.pool_overflow,
        )
        app.state.settings = settings
        app.state.research = None
        try:
            await prepare_database(engine, settings)
            if settings.query_token:
                app.state.research = await research.open_research_or_explain(settings, engine)
            with lifecycle.announce_shutdown():
                yield
        finally:
            # Requests cancelled by the shutdown may still be finishing a
            # database call: the engines close after them, not under them.
            await db_accessor.finish_in_flight()
            if isinstance(app.state.research, research.Research):
                await app.state.research.close()
            await close_database()
            access_log.flush_waiting_lines()

    app = FastAPI(
        title="Marketplace",
        summary="The marketsvc service of the SQLAlchemy + FastAPI workshop.",
        lifespan=lifespan,
    )
    # No request of this API needs more; a larger body is refused (413)
    # before anyone parses it, instead of stalling the event loop.
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    # The routes themselves, not include_router(): an included router is
    # one more layer that every request is matched through, for a prefix or
    # shared dependencies that these routers do not have.
    app.router.routes.extend([*router.routes, *health.router.routes])
    add_error_handlers(app)
    access_log.wrap_outermost(app, settings.access_log)
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


def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=idempotency.KEY_PATTERN,
            description="Any 1 to 255 printable ASCII characters, such as a UUID. "
            "Sent again with the same body, the answer is the order stored the "
            "first time, and nothing new is stored. Keys are kept for 24 hours.",
        ),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key: one at most, since two would be ambiguous."""
    if len(request.headers.getlist("Idempotency-Key")) > 1:
        raise HTTPException(422, "send one Idempotency-Key header, not several")
    return key


@router.post(
    "/api/add_new_order",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "Unknown customer or item"}},
)
async def add_new_order(
    body: Annotated[NewOrderIn, Body()],
    key: Annotated[str | None, Depends(idempotency_key)],
) -> NewOrderOut:
    """Store an order and all its items in one transaction.

    A client that did not get the answer can safely send the same request
    again with the same `Idempotency-Key`. The same key with a different
    order is a 422.
    """
    lines = [(line.id, line.quantity) for line in body.items]
    order_id = await db_accessor.add_new_order(body.customer_id, lines, key)
    return NewOrderOut(order_id=order_id)


@router.post(
    "/api/cancel_order/{order_id}",
    responses={
        404: {"description": "Unknown order, or cancelled already"},
        409: {"description": "The order is too old to cancel; detail says when it was placed"},
    },
)
async def cancel_order(order_id: IdPath) -> CancelledOrderOut:
    """Delete an order with its items, in one transaction.

    Only within 30 minutes of the order being placed. Its id is never
    used again; an Idempotency-Key that stored it is forgotten, so the
    same key sent again stores a new order.
    """
    await db_accessor.cancel_order(order_id)
    return CancelledOrderOut(order_id=order_id)


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
        except RecursionError:  # json gives up on deep nesting this way
            raise HTTPException(422, "the body is nested too deeply") from None
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
        503: {"description": "Every research connection is busy, or the setup was refused"},
    },
)
async def query(request: Request, authorization: Annotated[str | None, Header()] = None):
    """Run a read-only SQL query and stream its rows.

    Needs `Authorization: Bearer <MARKETSVC_QUERY_TOKEN>`. The statement runs
    on a connection that the database itself keeps read-only, as a login
    that may only read the service's tables.
    """
    settings: Settings = request.app.state.settings
    if not settings.query_token:
        raise HTTPException(404, "Not Found")
    if not research.token_matches(authorization, settings.query_token.get_secret_value()):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    sql = await read_query(request)
    found = request.app.state.research
    if isinstance(found, research.ResearchRefused):
        raise HTTPException(503, f"research queries are off: {found}")
    try:
        stream = await start_stream(research.run_query(found, sql))
    except research.QueryFailed as exc:
        raise HTTPException(400, str(exc)) from None
    except research.ResearchBusy as exc:
        return busy(str(exc) or f"all {settings.query_pool_size} research connections are in use")
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


ECHOED_TEXT_CHARS = 200


def echo_only_small_inputs(error: dict) -> dict:
    """A validation error without a large input: an array or object is left
    out, a long string cut short. Echoing a megabyte body back in full would
    cost the service more than it cost the client to send it."""
    value = error.get("input")
    if isinstance(value, (list, dict)):
        return {key: item for key, item in error.items() if key != "input"}
    if isinstance(value, bytes):  # a body that was not sent as JSON
        value = value.decode("utf-8", "replace")
        error = {**error, "input": value}
    if isinstance(value, str) and len(value) > ECHOED_TEXT_CHARS:
        return {**error, "input": value[:ECHOED_TEXT_CHARS] + "..."}
    return error


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Decimal inputs are echoed as the text they came as, not as a float,
        # and a validator's error as its message.
        errors = [echo_only_small_inputs(error) for error in exc.errors()]
        errors = jsonable_encoder(errors, custom_encoder={Decimal: str, Exception: str})
        return SafeJSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(db_accessor.NotFound)
    async def not_found(_request: Request, exc: db_accessor.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(idempotency.KeyReused)
    async def key_reused(_request: Request, exc: idempotency.KeyReused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(db_accessor.Conflict)
    async def conflict(_request: Request, exc: db_accessor.Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    # Pool exhaustion, a dropped or refused connection, a locked SQLite
    # file: the request was fine, the database could not serve it now.
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(OSError)
    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        reason = unavailable_reason(exc)
        if reason is None:
            raise exc
        return busy(reason)


def busy(reason: str) -> JSONResponse:
    """503 with Retry-After: the database cannot serve the request right now."""
    return JSONResponse(
        {"detail": f"{reason}; try again shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


app = create_app()
