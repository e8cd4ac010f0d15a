"""This step's exercises: the relationships between orders, lines and items."""

import pytest
from sqlalchemy.orm import Session

from marketsvc import db_accessor
from marketsvc.db.models import Order, OrderItem


@pytest.fixture
def session(client):
    with Session(db_accessor.get_engine()) as session:
        yield session


@pytest.mark.exercise("relationships")
def test_an_order_reaches_its_lines_and_their_items(session):
    # SQLite now returns rows in reverse wherever no ORDER BY fixes their order:
    # item order must come from the relationship's order_by, not from luck.
    session.connection().exec_driver_sql("PRAGMA reverse_unordered_selects = ON")
    order = session.get(Order, 2)
    assert [(line.item_id, line.item.name, line.quantity) for line in order.items] == [
        (1, "Milk", 1),
        (2, "Kit Kat", 4),
        (4, "Onion", 3),
    ]
    assert all(line.order is order for line in order.items)


@pytest.mark.exercise("relationships")
def test_lines_added_to_an_order_know_their_order(session):
    order = Order(customer_id=3, order_time=session.get(Order, 1).order_time)
    line = OrderItem(item_id=1, quantity=2)
    order.items.append(line)
    # back_populates keeps both sides in step before anything is written,
    # whichever side is set.
    assert line.order is order
    other = OrderItem(item_id=2, quantity=1)
    other.order = order
    assert order.items == [line, other]
    session.rollback()
