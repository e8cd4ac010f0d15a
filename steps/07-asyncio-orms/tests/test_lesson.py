"""This step's lesson: the ORM on asyncio, with no implicit IO.

An AsyncSession can only talk to the database where the code says `await`.
Touching an attribute that is not loaded would need a query in the middle
of plain attribute access, so SQLAlchemy raises MissingGreenlet instead.
The cure is to load what you need up front (selectinload), to ask for it
explicitly (awaitable_attrs), and to keep objects loaded after commit
(expire_on_commit=False).
"""

from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError

from marketsvc import db_accessor
from marketsvc.db.engine import get_engine, get_sessionmaker
from marketsvc.db.models import Item, Order


def count_statements() -> list[str]:
    """Every statement the service's engine sends from now on."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(get_engine().sync_engine, "before_cursor_execute", record)
    return sent


def test_a_session_gives_one_object_per_row(in_db):
    async def scenario():
        async with get_sessionmaker()() as session:
            bread = await session.get(Item, 3)
            again = await session.scalar(select(Item).where(Item.name == "Bread"))
            return bread, again

    bread, again = in_db(scenario)
    assert again is bread  # the identity map
    assert bread.price == Decimal("10.50")


def test_lazy_loading_is_refused(in_db):
    async def scenario():
        async with get_sessionmaker()() as session:
            order = await session.get(Order, 1)
            return order.items  # would need a query, with no `await` to run it

    # MissingGreenlet, wrapped in the error of the statement it could not run.
    with pytest.raises(SQLAlchemyError, match="greenlet_spawn has not been called"):
        in_db(scenario)


def test_awaitable_attrs_load_a_relationship_when_asked(in_db):
    async def scenario():
        async with get_sessionmaker()() as session:
            order = await session.get(Order, 2)
            lines = await order.awaitable_attrs.items  # the query runs here
            return sorted((line.item_id, line.quantity) for line in lines)

    assert in_db(scenario) == [(1, 1), (2, 4), (4, 3)]


def test_stream_scalars_keeps_the_connection_until_the_loop_ends(in_db, checked_out):
    async def scenario():
        seen = []
        async with get_sessionmaker()() as session:
            orders = await session.stream_scalars(select(Order).order_by(Order.id))
            async for order in orders:
                seen.append((order.id, checked_out()))
        return seen, checked_out()

    seen, after = in_db(scenario)
    assert seen == [(1, 1), (2, 1), (3, 1)]
    assert after == 0


@pytest.mark.exercise("expire-on-commit")
def test_objects_stay_readable_after_commit(in_db, query):
    async def scenario():
        async with get_sessionmaker()() as session:
            tea = Item(name="Tea", price=Decimal("3.20"), description="Loose leaf")
            session.add(tea)
            await session.commit()
            sent = count_statements()
            # Plain attribute access after the commit: no query, no await.
            return (tea.id, tea.name, tea.price), sent

    values, sent_after_commit = in_db(scenario)
    assert values == (5, "Tea", Decimal("3.20"))
    assert sent_after_commit == []
    assert query("SELECT name FROM item WHERE id = 5") == [("Tea",)]


@pytest.mark.exercise("eager-loading")
def test_orders_after_loads_lines_and_items_up_front(in_db):
    async def statements_for_a_page():
        async with get_sessionmaker()() as session:
            sent = count_statements()
            orders = await db_accessor.orders_after(session, 0, None, 10)
            return orders, len(sent)

    async def scenario():
        orders, few = await statements_for_a_page()
        for n in range(5):
            await db_accessor.add_new_order(1 + n % 3, [(1 + n % 4, 1), (1 + (n + 1) % 4, 2)])
        _, many = await statements_for_a_page()
        return orders, few, many

    orders, few, many = in_db(scenario)
    assert [order["order_id"] for order in orders] == [1, 2, 3]
    assert [(line["name"], line["quantity"]) for line in orders[1]["items"]] == [
        ("Milk", 1),
        ("Kit Kat", 4),
        ("Onion", 3),
    ]
    assert orders[1]["total"] == Decimal("15.00")
    # Orders, their lines, the lines' items: three queries (two when the items
    # are joined in), for 8 orders as for 3.
    assert many == few <= 3, f"3 orders took {few} statements, 8 orders took {many}"


@pytest.mark.exercise("eager-loading")
@pytest.mark.parametrize(
    ("after", "customer_id", "limit", "expected"),
    [
        (0, None, 2, [1, 2]),
        (1, None, 10, [2, 3]),
        (0, 1, 10, [1, 3]),
        (1, 1, 1, [3]),
    ],
)
def test_orders_after_pages_and_filters(in_db, after, customer_id, limit, expected):
    async def scenario():
        async with get_sessionmaker()() as session:
            return await db_accessor.orders_after(session, after, customer_id, limit)

    orders = in_db(scenario)
    assert [order["order_id"] for order in orders] == expected
    assert all(order["items"] for order in orders)


def test_orders_after_the_last_order_is_an_empty_page(in_db):
    async def scenario():
        async with get_sessionmaker()() as session:
            return await db_accessor.orders_after(session, 3, None, 5)

    assert in_db(scenario) == []
