"""ORM models: the tables of marketdb.sql, mapped to Python classes.

marketdb.sql creates the tables; these classes describe the same tables to
SQLAlchemy so that queries can be written with Python objects. Each
`Mapped[...]` annotation is a column (its Python type says which SQL type
and whether it may be NULL); `relationship()` is a link to other objects that
follows a foreign key.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Money is NUMERIC(10,2). SQLite stores it as a plain number and SQLAlchemy
# hands it to Python as a Decimal rounded to the 2 places of the scale.
Money = Numeric(10, 2)

# SQLite has no timestamp type: it stores text. Use the same shape as the
# sample data ("2024-03-01 09:30:00") so that comparisons in WHERE clauses,
# which compare the text, order correctly. Times are UTC.
Timestamp = DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d"
    ),
    "sqlite",
)


class Base(DeclarativeBase):
    pass
# steps: main Item
# steps: main Address
# steps: main Customer
#=    address_id: Mapped[int] = mapped_column(ForeignKey("address.id"), index=True)
#=
#+    # Many-to-one: customer.address is the Address whose id is address_id.
#=    address: Mapped[Address] = relationship()
#+    # One-to-many, and the other side of Order.customer: back_populates keeps
#+    # the two in step in Python.
# steps: main Order
#-    items: Mapped[list["OrderItem"]] = relationship(back_populates="order")
# >>> exercise: relationships
#+    items: Mapped[list["OrderItem"]] = relationship(
#+        back_populates="order", order_by="OrderItem.item_id"
#+    )
# --- stub
#+    # TODO (exercise relationships): add `items`, the order's lines in item id
#+    # order, in step with OrderItem.order (as Customer.orders with Order.customer).
# <<< exercise: relationships
# steps: main OrderItem
#=class OrderItem(Base):
#+    """One line of an order: which item, how many."""
#+
# >>> exercise: relationships
# --- stub
#-    order: Mapped[Order] = relationship(back_populates="items")
#-    item: Mapped[Item] = relationship()
#+    # TODO (exercise relationships): add `order` and `item`, the Order and the
#+    # Item this line points to. Then order.items[0].item.name works.
# <<< exercise: relationships
