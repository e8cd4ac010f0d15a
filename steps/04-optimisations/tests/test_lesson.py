# steps: patch
"""This step's lesson: the N+1 problem, SQL functions and a hybrid attribute.

The `statements` fixture (conftest.py) records every statement the service
sends, so these tests can count them.
"""

from decimal import Decimal
# steps: after import pytest
from sqlalchemy import select
# steps: edit from marketsvc.db.models
#-from marketsvc.db.models import Order, OrderItem
#+from marketsvc.db.models import Item, Order, OrderItem
# steps: after session


def statements_for(client, statements, url: str) -> int:
    statements.clear()
    assert client.get(url).status_code == 200
    return len(statements)


def add_orders(client, session, customer_id: int, count: int) -> list[str]:
    """count more orders of two lines each, every line a new item; their names."""
    names = []
    for n in range(count):
        new = [Item(name=f"item {customer_id}.{n}.{k}", price=1) for k in (1, 2)]
        session.add_all(new)
        session.commit()
        names += [item.name for item in new]
        body = {"customer_id": customer_id, "items": [{"id": i.id, "quantity": 1} for i in new]}
        assert client.post("/api/add_new_order", json=body).status_code == 201
    return names


def names_in(client, url: str) -> list[str]:
    return [line["name"] for order in client.get(url).json() for line in order["items"]]


def test_lazy_loading_costs_one_statement_per_object(session, statements):
    # The problem, shown with the session directly: one SELECT for the
    # orders, then one more for each order whose lines are touched.
    orders = session.scalars(select(Order)).all()
    statements.clear()
    for order in orders:
        assert order.items
    assert len(statements) == len(orders) == 3


def test_customers_with_their_addresses_are_one_statement(client, statements):
    assert statements_for(client, statements, "/api/customers") == 1


@pytest.mark.exercise("n-plus-one")
def test_orders_of_a_customer_cost_the_same_however_many_there_are(client, session, statements):
    few = statements_for(client, statements, "/api/orders/1")
    added = add_orders(client, session, customer_id=1, count=5)
    many = statements_for(client, statements, "/api/orders/1")
    # Whatever the loader options: a few statements, as many for 7 orders and
    # 10 more items as for 2 orders, and the same answer as lazy loading.
    assert many == few <= 3, f"2 orders took {few} statements, 7 orders took {many}"
    assert names_in(client, "/api/orders/1")[-10:] == added


@pytest.mark.exercise("n-plus-one")
def test_orders_between_dates_cost_the_same_however_many_there_are(client, session, statements):
    url = "/api/orders_between_dates/2999-12-31/2000-01-01"
    few = statements_for(client, statements, url)
    added = add_orders(client, session, customer_id=2, count=5)
    many = statements_for(client, statements, url)
    assert many == few <= 3, f"3 orders took {few} statements, 8 orders took {many}"
    assert names_in(client, url)[-10:] == added


@pytest.mark.exercise("hybrid-total")
def test_a_line_total_in_python(session):
    line = session.get(OrderItem, (1, 3))  # one Bread
    assert line.total == Decimal("10.50")
    line.quantity = 3
    # Worked out in Python from the loaded line: nothing is written or read.
    assert line.total == Decimal("31.50")
    session.rollback()


@pytest.mark.exercise("hybrid-total")
def test_a_line_total_in_sql(session):
    totals = select(OrderItem.total).where(OrderItem.order_id == 2).order_by(OrderItem.item_id)
    assert session.scalars(totals).all() == [Decimal("5"), Decimal("4"), Decimal("6")]
    big_lines = select(OrderItem.order_id).where(OrderItem.total > 20)
    assert session.scalars(big_lines).all() == [3]


@pytest.mark.exercise("sql-sum")
@pytest.mark.parametrize(("order_id", "status"), [(2, 200), (42, 404)])
def test_an_order_total_is_one_statement_with_sum(client, statements, order_id, status):
    statements.clear()
    assert client.get(f"/api/order_total/{order_id}").status_code == status
    assert len(statements) == 1
    assert "sum(" in statements[0][0].lower()
# steps: delete test_an_order_reaches_its_lines_and_their_items
# steps: delete test_lines_added_to_an_order_know_their_order
