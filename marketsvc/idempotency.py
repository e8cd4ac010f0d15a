"""Idempotency keys: an order sent twice with one key is stored once.

A client that never saw the answer to POST /api/add_new_order (a timeout, a
dropped connection, a service restarted mid-request) cannot know whether
its order was stored. It sends the request again with the same
`Idempotency-Key` header, as payment APIs do, and gets the order_id of the
first one instead of a second order.

Each key is written in the transaction that stores its order, so a key never
exists without its order, nor the order without its key; cancelling the
order deletes its keys in the same way (forget_order). Keys are kept
KEY_LIFETIME; an order that carries a key first deletes the keys older than
that, so the table holds about a day of keys and no background job is needed.
"""

import hashlib
import json
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from marketsvc.db.models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
# A key is 1 to 255 printable ASCII characters (a UUID is a good choice).
KEY_PATTERN = r"^[\x20-\x7E]{1,255}$"


class KeyReused(ValueError):
    """The key was already used for a different order."""


def fingerprint(customer_id: int, items: list[tuple[int, int]]) -> str:
    """A digest of what the request asks for; the order of its lines does not matter."""
    canonical = json.dumps([customer_id, sorted(items)], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def forget_expired(conn: AsyncConnection, now: datetime) -> None:
    await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEY_LIFETIME))


async def order_of(conn: AsyncConnection, key: str, request_hash: str) -> int | None:
    """The order stored under `key`, None if none is; KeyReused if it was another order."""
    row = (
        await conn.execute(
            select(IdempotencyKey.order_id, IdempotencyKey.request_hash).where(
                IdempotencyKey.client_key == key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise KeyReused(
            f"Idempotency-Key {key!r} was already used for a different order; "
            "use a new key for a new order"
        )
    return row.order_id


async def remember(
    conn: AsyncConnection, key: str, request_hash: str, order_id: int, now: datetime
) -> None:
    await conn.execute(
        insert(IdempotencyKey).values(
            client_key=key, request_hash=request_hash, order_id=order_id, created_at=now
        )
    )


async def forget_order(conn: AsyncConnection, order_id: int) -> None:
    """Delete the keys that name `order_id`, in the transaction that cancels it.

    A key must not outlive its order: a retry would be told of an order that
    is gone. Once forgotten, the key is free; sent again, it stores a new order.
    """
    await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.order_id == order_id))
