"""The order feed's two halves: where a follower may resume, and when to look.

1. `ResumePoint`: on PostgreSQL an order id is drawn from a sequence when
   the INSERT runs, before the commit, so order 41 may commit after order
   42. A follower that has sent 42 and moved on would never see 41. The
   rule here: a follower passes a gap in the ids only once every
   transaction that was writing orders when it saw the gap has ended. Only
   those can still fill it: an INSERT INTO orders locks the table before it
   draws an id and keeps the lock until its transaction ends, and
   pg_locks lists who holds it. Once they have all ended, the missing ids
   belong to transactions that rolled back, and they never come. Other
   transactions, however long, in this database or another, hold nothing up.

2. `OrderFeed`: one per process, shared by all its followers. It tells
   them when to read again, so that a hundred idle followers cost the
   database nothing but the feed's own slow check. On PostgreSQL it LISTENs
   on one dedicated connection for the NOTIFY that every order's own
   transaction sends; on SQLite, which has no notifications, it polls the
   highest order id. On both, the database stays the source of truth: the
   check (`SAFETY_CHECK_SECONDS`) finds any order whose wake-up was lost.
   Behind PgBouncer in transaction mode a LISTEN would land on whichever
   server connection is lent at that moment, so there the feed listens on
   MARKETSVC_LISTEN_DATABASE_URL (straight to PostgreSQL), or, without
   one, polls through the pool like on SQLite.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from marketsvc import db_accessor
from marketsvc.db.engine import behind_transaction_pooler, create_engine, get_engine, is_sqlite
from marketsvc.db_accessor import FeedRead, uncancelled

log = logging.getLogger("marketsvc.feed")

# How often the feed looks at the highest order id by itself: on SQLite this
# is how new orders are found; on PostgreSQL only a safety net under NOTIFY.
SQLITE_POLL_SECONDS = 0.5
SAFETY_CHECK_SECONDS = 2.0
# Wait before listening again after the listening connection was lost.
RECONNECT_SECONDS = 1.0


class ResumePoint:
    """How far a follower has read, and which gaps in the ids it may not pass yet."""

    def __init__(self, after: int):
        self.after = after
        # (highest id committed at a read, transactions writing orders then)
        self._checkpoints: list[tuple[int, frozenset[str]]] = []

    @property
    def blocked(self) -> bool:
        """Whether orders are known beyond a gap that has not settled yet."""
        return bool(self._checkpoints)

    def advance(self, read: FeedRead) -> int:
        """Move past every order id of `read` that can safely be passed; return the new position.

        Ids up to `settled` are final: each one has been read or belongs to a
        transaction that rolled back. Beyond it, ids are passed only while
        they follow each other without a gap.
        """
        settled = self.after
        if read.ids_commit_in_order:
            settled = read.latest_id
        elif read.writers_before is not None:
            # A checkpoint settles once none of its writers was still writing
            # just before this read's snapshot: whatever they committed, this
            # read sees. (Never at the read that made it: a writer may have
            # committed between that read's snapshot and its look at the locks.)
            ended = [b for b, writers in self._checkpoints if not writers & read.writers_before]
            settled = max(ended, default=settled)
        for order_id in read.order_ids:
            if order_id - 1 > max(self.after, settled):
                break  # a gap before this id that a running writer may fill
            self.after = order_id
        self._checkpoints = [
            (bound, writers)
            for bound, writers in self._checkpoints
            if bound > max(self.after, settled)
        ]
        newest = max((bound for bound, _ in self._checkpoints), default=self.after)
        if read.writers_after is not None and read.latest_id > newest:
            self._checkpoints.append((read.latest_id, read.writers_after))
        return self.after


class OrderFeed:
    """Wakes this process's followers when orders may have been committed."""

    def __init__(self, listen_url: str | None = None):
        # Where to LISTEN (a direct PostgreSQL URL); None: the service's own.
        self._listen_url = listen_url
        self._changed = asyncio.Event()
        self._followers = 0
        self._task: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._latest_seen: int | None = None

    def next_change(self) -> asyncio.Event:
        """An event set at the next wake-up. Take it *before* reading, so a
        change that lands during the read is not missed."""
        return self._changed

    def wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @asynccontextmanager
    async def following(self) -> AsyncIterator["OrderFeed"]:
        """Count a follower in; the first one starts the watcher, the last one stops it."""
        async with self._lock:
            self._followers += 1
            if self._task is None:
                self._ready = asyncio.Event()
                self._task = asyncio.create_task(self._watch(), name="order-feed-watcher")
        try:
            # Listening before the first read: nothing committed after it is missed.
            with anyio.move_on_after(5):
                await self._ready.wait()
            yield self
        finally:
            await uncancelled(self._leave())

    async def _leave(self) -> None:
        """Count a follower out; the last one stops the watcher (and waits for it)."""
        async with self._lock:
            self._followers -= 1
            if self._followers == 0 and self._task is not None:
                task, self._task = self._task, None
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    def _listening_url(self) -> URL | None:
        """The URL to LISTEN on, or None when the feed must poll instead."""
        engine = get_engine()
        if is_sqlite(engine):
            return None
        url = make_url(self._listen_url) if self._listen_url else engine.url
        return None if behind_transaction_pooler(url) else url

    async def _watch(self) -> None:
        url = self._listening_url()
        if url is None:
            await self._poll(
                SQLITE_POLL_SECONDS if is_sqlite(get_engine()) else SAFETY_CHECK_SECONDS
            )
            return
        while True:
            try:
                await self._listen(url)
            except Exception as exc:
                # The connection is gone (restart, network): followers still
                # read on the safety check's schedule until it is back.
                log.warning("order feed: listening failed (%s); retrying", exc)
                self._ready.set()
                self.wake()
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _poll(self, seconds: float) -> None:
        """Wake the followers whenever the highest order id changes."""
        self._ready.set()
        latest = None
        while True:
            try:
                current = await db_accessor.latest_order_id()
            except Exception as exc:  # locked, or a file that went away: try again
                log.warning("order feed: polling failed (%s); retrying", exc)
            else:
                if current != latest:
                    latest = current
                    self.wake()
            await asyncio.sleep(seconds)

    async def _listen(self, url: URL) -> None:
        """LISTEN on a connection of its own, outside the pool, as long as it lives."""
        engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                lost = asyncio.Event()
                raw.add_termination_listener(lambda _conn: lost.set())
                await raw.add_listener(
                    db_accessor.ORDERS_CHANNEL, lambda *_notification: self.wake()
                )
                self._ready.set()
                self.wake()  # orders committed while nobody was listening
                while not lost.is_set():
                    with anyio.move_on_after(SAFETY_CHECK_SECONDS):
                        await lost.wait()
                    if not lost.is_set():
                        await self._safety_check(conn)
                raise ConnectionError("the listening connection was closed")
        finally:
            await uncancelled(engine.dispose())

    async def _safety_check(self, conn: AsyncConnection) -> None:
        """A wake-up for any order whose notification was lost."""
        latest = await db_accessor.latest_order_id(conn)
        if latest != self._latest_seen:
            self._latest_seen = latest
            self.wake()


def feed_of(state) -> OrderFeed:
    """The app's OrderFeed (`state` is app.state), made on first use."""
    feed = getattr(state, "order_feed", None)
    if feed is None:
        feed = state.order_feed = OrderFeed(state.settings.listen_database_url)
    return feed
