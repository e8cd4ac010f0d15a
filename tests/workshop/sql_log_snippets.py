"""The Python code of the pages whose SQL log a page shows (test_sql_logs.py).

Each function runs in a branch's tree, on that branch's marketsvc, against
the database at `url`, with SQLAlchemy's echo on. The page's snippet is a
part of the function, word for word, so the page cannot drift from it.
"""

from decimal import Decimal

from sqlalchemy import select

from marketsvc import db_accessor
from marketsvc.db.engine import close_database, get_sessionmaker, open_database
from marketsvc.db.models import Item, Order


async def awaitable_attrs(url: str) -> None:
    open_database(url, echo=True)
    async with get_sessionmaker()() as session:
        order = await session.get(Order, 2)
        lines = await order.awaitable_attrs.items  # the query runs here
        assert len(lines) == 3
    await close_database()


async def stream_scalars(url: str) -> None:
    open_database(url, echo=True)
    async with get_sessionmaker()() as session:
        statement = select(Order).order_by(Order.id).execution_options(yield_per=500)
        orders = await session.stream_scalars(statement)
        async for order in orders:
            print("order", order.id, order.order_time)
    await close_database()


async def expired_after_commit(url: str) -> None:
    open_database(url, echo=True)
    try:
        async with get_sessionmaker()() as session:
            tea = Item(name="Tea", price=Decimal("3.20"))
            session.add(tea)
            await session.commit()
            print(tea.id, tea.name, tea.price)
    finally:
        await close_database()


async def orders_after(url: str) -> None:
    open_database(url, echo=True)
    async with get_sessionmaker()() as session:
        await db_accessor.orders_after(session, 0, None, 10)
    await close_database()
