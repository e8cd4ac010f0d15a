"""Models, the Session and the identity map, on the sample data."""

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from marketsvc import db_accessor
from marketsvc.db.models import Base, Customer, Item


@pytest.fixture
def session(client):
    with Session(db_accessor.get_engine()) as session:
        yield session


def test_the_models_describe_the_tables_of_marketdb_sql(client):
    database = inspect(db_accessor.get_engine())
    for table in Base.metadata.sorted_tables:
        columns = {column["name"] for column in database.get_columns(table.name)}
        assert columns == set(table.columns.keys()), table.name


def test_a_session_loads_objects_with_typed_attributes(session):
    bread = session.scalars(select(Item).where(Item.name == "Bread")).one()
    assert bread.id == 3
    assert str(bread.price) == "10.50"  # a Decimal, exact to the cent


def test_the_identity_map_gives_one_object_per_row(session):
    alex = session.get(Customer, 1)
    assert session.scalars(select(Customer).where(Customer.name == "Alex")).one() is alex


def test_customer_relationships(session):
    alex = session.get(Customer, 1)
    assert alex.address.post_code == 10115
    assert [order.id for order in alex.orders] == [1, 3]
    assert all(order.customer is alex for order in alex.orders)
