"""ORM models: the tables of marketdb.sql, mapped to Python classes.

marketdb.sql stays the readable source of the schema; tests/test_schema.py
checks that these models and the tables it creates agree.
"""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Money is NUMERIC(10,2) everywhere. PostgreSQL keeps it exact; SQLite stores
# a REAL, and SQLAlchemy's Numeric rounds what it reads back to the 2 places
# of the scale, so Python always sees an exact Decimal to the cent.
Money = Numeric(10, 2)


class SQLiteTimestamp(sqlite.DATETIME):
    """A UTC time on SQLite, which stores it as text.

    The text has the shape of the sample data ("2024-03-01 09:30:00"), with
    the fraction of a second appended only when there is one
    ("2024-03-01 09:30:00.900000"). So fractions are kept, and text
    comparisons in WHERE clauses still order correctly: a whole second is a
    prefix of the same second with a fraction, and sorts before it.
    """

    def bind_processor(self, dialect):
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(sep=" ")

        return process


# Times are UTC without a time zone, to the microsecond on every engine.
Timestamp = DateTime().with_variant(SQLiteTimestamp(), "sqlite")


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    __table_args__ = (CheckConstraint("price >= 0"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    price: Mapped[Decimal] = mapped_column(Money)
    description: Mapped[str | None] = mapped_column(String(500))


class Address(Base):
    __tablename__ = "address"

    id: Mapped[int] = mapped_column(primary_key=True)
    flat_number: Mapped[int]
    post_code: Mapped[int]


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    address_id: Mapped[int] = mapped_column(ForeignKey("address.id"), index=True)

    address: Mapped[Address] = relationship()
    orders: Mapped[list["Order"]] = relationship(back_populates="customer")


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    order_time: Mapped[datetime] = mapped_column(Timestamp, index=True)

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list["OrderItem"]] = relationship(back_populates="order")


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True, index=True)
    quantity: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="items")
    item: Mapped[Item] = relationship()


class IdempotencyKey(Base):
    """The Idempotency-Key of an order request, and the order it stored.

    No foreign key to orders, on purpose: see marketdb.sql.
    """

    __tablename__ = "idempotency_key"

    client_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(Timestamp, index=True)
