"""The baselines: the same questions as marketsvc, answered the plainest way.

- /customers/collected: every customer read with plain sqlite3 into a list,
  then sent as one JSON body (what streaming saves us from).
- /order_total/{id}: the order-total query with plain sqlite3 in a sync
  route (FastAPI runs it in its thread pool), or with a plain asyncpg pool
  on PostgreSQL: the ceiling of the raw driver.
- /engine/order_total/{id}: the same query through a bare AsyncEngine on the
  service's driver (aiosqlite or asyncpg), a pool of the service's size,
  no execution options: the floor of SQLAlchemy's asyncio layer, which the service
  builds on. Everything the service costs beyond it is the service's own.
"""

import os
import sqlite3
import threading
from contextlib import asynccontextmanager
from decimal import Decimal

import asyncpg
import orjson
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from marketsvc.config import Settings

URL = make_url(os.environ["BENCH_DATABASE_URL"])
IS_SQLITE = URL.get_backend_name() == "sqlite"

CUSTOMERS = (
    "SELECT customer.id, customer.name, address.flat_number, address.post_code "
    "FROM customer JOIN address ON address.id = customer.address_id ORDER BY customer.id"
)
ORDER_TOTAL = (
    "SELECT orders.id, coalesce(sum(item.price * order_items.quantity), 0) "
    "FROM orders LEFT JOIN order_items ON orders.id = order_items.order_id "
    "LEFT JOIN item ON item.id = order_items.item_id WHERE orders.id = {} GROUP BY orders.id"
)

_local = threading.local()
pool: asyncpg.Pool | None = None
# A pool as large as the service's (MARKETSVC_POOL_SIZE, or its default;
# no overflow), so that both queue alike for a connection under load.
POOL_SIZE = Settings.from_env().pool_size
engine = create_async_engine(URL, pool_size=POOL_SIZE, max_overflow=0)
ORDER_TOTAL_TEXT = text(ORDER_TOTAL.format(":id"))


def sqlite_conn() -> sqlite3.Connection:
    if not hasattr(_local, "conn"):
        _local.conn = sqlite3.connect(URL.database)
    return _local.conn


@asynccontextmanager
async def lifespan(_app):
    global pool
    if not IS_SQLITE:
        dsn = URL.set(drivername="postgresql").render_as_string(hide_password=False)
        pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)
    yield
    if pool is not None:
        await pool.close()
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/")
def root():
    return "baseline"


@app.get("/customers/collected")
def customers_collected():
    rows = sqlite_conn().execute(CUSTOMERS).fetchall()
    customers = [
        {"id": i, "name": n, "address": {"flat_number": f, "post_code": p}} for i, n, f, p in rows
    ]
    return Response(orjson.dumps(customers), media_type="application/json")


if IS_SQLITE:

    @app.get("/order_total/{order_id}")
    def order_total(order_id: int):
        row = sqlite_conn().execute(ORDER_TOTAL.format("?"), (order_id,)).fetchone()
        if row is None:
            raise HTTPException(404)
        return {"order_id": order_id, "total": round(row[1], 2)}

else:

    @app.get("/order_total/{order_id}")
    async def order_total(order_id: int):
        row = await pool.fetchrow(ORDER_TOTAL.format("$1"), order_id)
        if row is None:
            raise HTTPException(404)
        return {"order_id": order_id, "total": float(Decimal(row[1]))}


@app.get("/engine/order_total/{order_id}")
async def engine_order_total(order_id: int):
    async with engine.connect() as conn:
        row = (await conn.execute(ORDER_TOTAL_TEXT, {"id": order_id})).first()
    if row is None:
        raise HTTPException(404)
    return {"order_id": order_id, "total": round(float(row[1]), 2)}
