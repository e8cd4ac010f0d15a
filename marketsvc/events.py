"""GET /api/events/orders: orders as Server-Sent Events.

The route is an async generator served by FastAPI's own SSE support
(`fastapi.sse`): it yields `ServerSentEvent`s and FastAPI writes the
text/event-stream framing. The generator runs after the response has
started, so everything that should become a 4xx is checked first, in the
`feed_query` dependency.

Each read is a short transaction of its own (db_accessor.read_orders_after):
no connection is held while a follower waits. Followers wait on the
process's OrderFeed (marketsvc/feed.py), which wakes them when an order may
have been committed, in any process.
"""

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, HTTPException, Query
from fastapi.sse import ServerSentEvent
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from marketsvc import db_accessor, lifecycle
from marketsvc.db_accessor import uncancelled
from marketsvc.feed import OrderFeed, ResumePoint
from marketsvc.schemas import MAX_ID, CountText, IdText
from marketsvc.streaming import dumps

log = logging.getLogger("marketsvc.events")

PAGE_SIZE = 200
# A follower waiting for a gap in the ids to settle (feed.ResumePoint)
# reads again this often, notification or not: a writer that rolls back
# sends none.
GAP_RECHECK_SECONDS = 0.1
# Without follow, wait at most this long for a gap to settle, then end: the
# `end` event's last_id is still a safe place to resume from.
GAP_WAIT_SECONDS = 5.0
# At shutdown each follower is told to reconnect after this long (ms).
RECONNECT_MS = 2000


@dataclass(frozen=True)
class FeedQuery:
    after: int
    customer_id: int | None
    limit: int | None
    follow: bool


async def feed_query(
    customer_id: Annotated[IdText | None, Query(ge=1, le=MAX_ID)] = None,
    after: Annotated[
        CountText, Query(ge=0, le=MAX_ID, description="Send orders with id > after")
    ] = 0,
    limit: Annotated[IdText | None, Query(ge=1, le=1_000_000)] = None,
    follow: Annotated[bool, Query(description="Wait for new orders once caught up")] = False,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this order id (sent by EventSource)")
    ] = None,
) -> FeedQuery:
    """The feed's filters, checked before the stream starts (422, 404)."""
    if last_event_id is not None:
        if not re.fullmatch(r"0|[1-9][0-9]{0,9}", last_event_id) or int(last_event_id) > MAX_ID:
            raise HTTPException(422, "Last-Event-ID must be an order id")
        after = max(after, int(last_event_id))
    if customer_id is not None and not await db_accessor.customer_exists(customer_id):
        raise HTTPException(404, f"customer {customer_id} does not exist")
    return FeedQuery(after=after, customer_id=customer_id, limit=limit, follow=follow)


def order_event(order: dict) -> ServerSentEvent:
    # The same JSON as every other route (exact money as numbers).
    return ServerSentEvent(event="order", id=str(order["order_id"]), raw_data=dumps(order).decode())


async def order_events(
    feed: OrderFeed, query: FeedQuery, *, keepalive: float
) -> AsyncIterator[ServerSentEvent]:
    """One `order` event per order with id > after, in id order, then one `end` event.

    With follow, it waits for new orders once it has caught up (a keep-alive
    comment every `keepalive` seconds of silence) until `limit` orders have
    been sent or the client goes away; the server then cancels it wherever
    it waits. When the server shuts down it ends early with a `retry:`
    hint and no `end`: the client reconnects and resumes with Last-Event-ID.
    """
    position = ResumePoint(query.after)
    sent = 0
    stopping = lifecycle.stopping()
    last_write = gap_since = time.monotonic()
    async with feed.following() if query.follow else nullcontext():
        while query.limit is None or sent < query.limit:
            if stopping.is_set():
                yield ServerSentEvent(retry=RECONNECT_MS, comment="server shutting down; resume")
                return
            # Taken before the read: a wake-up during the read is not lost.
            change = feed.next_change()
            before = position.after
            reading = db_accessor.read_orders_after(
                position.after, query.customer_id, PAGE_SIZE, writers_before=position.blocked
            )
            try:
                read = await uncancelled(reading)
            except (DBAPIError, PoolTimeout) as exc:
                # Too late for a 503: end the stream the way a restart does,
                # and the client comes back after its last event.
                log.warning("order feed: a read failed (%s); asking the client to resume", exc)
                yield ServerSentEvent(retry=RECONNECT_MS, comment="database unavailable; resume")
                return
            up_to = position.advance(read)
            orders = [order for order in read.orders if order["order_id"] <= up_to]
            if query.limit is not None and len(orders) >= query.limit - sent:
                orders = orders[: query.limit - sent]
                position.after = orders[-1]["order_id"]  # the rest stays unsent
            for order in orders:
                yield order_event(order)
            sent += len(orders)
            if orders:
                last_write = time.monotonic()
            if up_to > before:
                gap_since = time.monotonic()
                continue  # there may be more right away
            if not query.follow and (
                not position.blocked or time.monotonic() - gap_since > GAP_WAIT_SECONDS
            ):
                break
            # Wait for a wake-up (or, past a gap, a short while), with
            # keep-alives while silent. Idle followers do not read at all.
            while True:
                timeout = keepalive - (time.monotonic() - last_write)
                if position.blocked:
                    timeout = min(timeout, GAP_RECHECK_SECONDS)
                if await first_of(change, stopping, seconds=max(0.0, timeout)):
                    break
                if time.monotonic() - last_write >= keepalive:
                    yield ServerSentEvent(comment="keep-alive")
                    last_write = time.monotonic()
                if position.blocked:
                    break
    end = {"sent": sent, "last_id": position.after}
    yield ServerSentEvent(event="end", raw_data=dumps(end).decode())


async def first_of(*events: asyncio.Event, seconds: float) -> bool:
    """Wait until one of `events` is set; False if `seconds` passed first."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)
