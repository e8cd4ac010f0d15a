"""ORM models: the tables of marketdb.sql, mapped to Python classes.

marketdb.sql stays the readable source of the schema; tests/test_schema.py
checks that these models and the tables it creates agree.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Numeric, String
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Money is NUMERIC(10,2) everywhere. PostgreSQL keeps it exact; SQLite stores
# a REAL, and SQLAlchemy's Numeric rounds what it reads back to the 2 places
# of the scale, so Python always sees an exact Decimal to the cent.
Money = Numeric(10, 2)

# SQLite has no timestamp type: it stores text. Store whole seconds in the
# same shape as the sample data ("2024-03-01 09:30:00"), so that text
# comparisons in WHERE clauses order correctly. Times are UTC.
Timestamp = DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d"
    ),
    "sqlite",
)


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
