"""All data access of the service, through the SQLAlchemy ORM.

Routes in server.py call these functions and never see SQL.

- The Engine is made once per process. It knows which database to talk to
  and keeps a pool of open connections to it.
- Queries are written with select() on the models of marketsvc.db.models,
  and SQLAlchemy writes the SQL. Values are still sent as bound parameters.
- A Session is a unit of work: it hands out model objects, remembers each
  one once (the identity map), loads related objects when they are touched,
  and writes new or changed objects when it flushes.
- Touching a relationship that is not loaded yet costs a query (lazy
  loading). Queries that will follow a relationship for many objects say so
  up front with a loader option, so that the number of statements stays the
  same however many objects there are.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, joinedload

from marketsvc.config import SCHEMA_FILE
from marketsvc.db.models import Customer, Item, Order, OrderItem

# Children before parents, the order in which they can be dropped.
TABLES = ["order_items", "orders", "customer", "address", "item"]

_engine: Engine | None = None


class NotFound(LookupError):
    """Something the request names does not exist; the message says what."""


# --- the engine --------------------------------------------------------------


def open_database(url: str, *, echo: bool = False) -> Engine:
    """Create the process's engine; echo=True logs every statement it sends."""
    global _engine
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(f"expected a SQLite URL such as sqlite:///marketdb, got {url!r}")
    # This step is synchronous: whatever driver the URL names (aiosqlite in
    # the async steps), use Python's own sqlite3 module.
    _engine = create_engine(parsed.set(drivername="sqlite"), echo=echo)
    event.listen(_engine, "connect", _enable_foreign_keys)
    return _engine


def _enable_foreign_keys(dbapi_connection, _connection_record) -> None:
    # Runs once for every new connection in the pool: SQLite does not check
    # foreign keys unless asked.
    dbapi_connection.execute("PRAGMA foreign_keys = ON")


def close_database() -> None:
    global _engine
    if _engine is not None:
        _engine.dispose()  # closes the pooled connections
    _engine = None


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("the database is not open: call open_database() first")
    return _engine


def init_db(*, reset: bool = False) -> bool:
    """Load marketdb.sql if the tables are missing; True when it did.

    Existing data is kept unless `reset` is true, which drops the tables first.
    """
    with get_engine().begin() as conn:
        if reset:
            for table in TABLES:
                conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        if set(TABLES) <= set(inspect(conn).get_table_names()):
            return False
        # Each statement of the file ends with ';' at the end of a line.
        # exec_driver_sql hands it to the driver as it is, with no parsing.
        for statement in SCHEMA_FILE.read_text().split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    return True


# --- customers ---------------------------------------------------------------


def get_customers() -> list[dict[str, Any]]:
    # joinedload: fetch each customer's address in the same SELECT, with a
    # JOIN, instead of one more query per customer when .address is touched.
    # innerjoin=True because every customer has an address.
    statement = (
        select(Customer).options(joinedload(Customer.address, innerjoin=True)).order_by(Customer.id)
    )
    with Session(get_engine()) as session:
        return [
            {
                "id": customer.id,
                "name": customer.name,
                "address": {
                    "flat_number": customer.address.flat_number,
                    "post_code": customer.address.post_code,
                },
            }
            for customer in session.scalars(statement)
        ]


# --- orders ------------------------------------------------------------------


def order_json(order: Order) -> dict[str, Any]:
    """An order with its lines, following the relationships from the order."""
    # TODO (exercise hybrid-total): once OrderItem.total exists, use
    # line.total for each line's "total" below.
    lines = [
        {
            "item_id": line.item_id,
            "name": line.item.name,
            "price": line.item.price,
            "quantity": line.quantity,
            "total": line.item.price * line.quantity,
        }
        for line in order.items
    ]
    return {
        "order_id": order.id,
        "customer_id": order.customer_id,
        "order_time": order.order_time,
        "items": lines,
        "total": sum(line["total"] for line in lines),
    }


def get_orders_of_customer(customer_id: int) -> list[dict[str, Any]]:
    """The customer's orders with their items; NotFound for an unknown customer."""
    # TODO (exercise n-plus-one): order_json() touches order.items and then
    # line.item, and each first touch of a relationship is one more query:
    # 1 + (one per order) + (one per item). Run it with MARKETSVC_ECHO=1 and
    # watch. Add a loader option to the select() here and in
    # get_orders_between():
    #     .options(selectinload(Order.items).joinedload(OrderItem.item))
    # selectinload fetches the lines of all the orders in one more SELECT and
    # joinedload adds each line's item to it with a JOIN (get_customers()
    # above uses joinedload the same way). Import both from sqlalchemy.orm.
    with Session(get_engine()) as session:
        statement = select(Order).where(Order.customer_id == customer_id).order_by(Order.id)
        orders = session.scalars(statement).all()
        # session.get() looks an object up by its primary key.
        if not orders and session.get(Customer, customer_id) is None:
            raise NotFound(f"customer {customer_id} does not exist")
        return [order_json(order) for order in orders]


def get_orders_between(after: datetime, before: datetime) -> list[dict[str, Any]]:
    """Orders with after <= order_time <= before, oldest first."""
    with Session(get_engine()) as session:
        statement = (
            select(Order)
            .where(Order.order_time.between(after, before))
            .order_by(Order.order_time, Order.id)
        )
        return [order_json(order) for order in session.scalars(statement)]


def get_order_total(order_id: int) -> Decimal:
    """The sum of price x quantity over the order's items; NotFound if no such order."""
    # TODO (exercise sql-sum): this sends two statements and adds the lines up
    # in Python. Let the database do it in one:
    #     select(func.sum(OrderItem.total)).where(OrderItem.order_id == order_id)
    # (OrderItem.total is the hybrid of the hybrid-total exercise; import func
    # from sqlalchemy) and session.scalar() it. SUM over no rows is NULL, and
    # every order has at least one line, so a None total means NotFound.
    with Session(get_engine()) as session:
        if session.get(Order, order_id) is None:
            raise NotFound(f"order {order_id} does not exist")
        # join(Item) finds its ON clause by itself, from the foreign key
        # order_items.item_id -> item.id.
        lines = session.execute(
            select(Item.price, OrderItem.quantity).join(Item).where(OrderItem.order_id == order_id)
        )
        return sum((price * quantity for price, quantity in lines), Decimal(0))


def get_orders_total(order_ids: list[int]) -> list[dict[str, Any]]:
    """Totals of many orders in request order; NotFound names every unknown id."""
    totals, missing = [], []
    for order_id in order_ids:
        try:
            totals.append({"order_id": order_id, "total": get_order_total(order_id)})
        except NotFound:
            missing.append(order_id)
    if missing:
        raise NotFound(f"unknown order ids: {missing}")
    return totals


# --- writing an order --------------------------------------------------------


def add_new_order(customer_id: int, items: list[tuple[int, int]]) -> int:
    """Store an order and its (item_id, quantity) lines; returns the new order's id."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    # session.begin() is begin-once for a session: one transaction, committed
    # when the block ends, rolled back if anything in it raises.
    with Session(get_engine()) as session, session.begin():
        if session.get(Customer, customer_id) is None:
            raise NotFound(f"customer {customer_id} does not exist")
        order = Order(customer_id=customer_id, order_time=now)
        session.add(order)
        # flush() sends the pending INSERT now, inside the transaction, so the
        # database hands out order.id before the lines that need it.
        session.flush()
        for item_id, quantity in items:
            if session.get(Item, item_id) is None:
                raise NotFound(f"item {item_id} does not exist")
            session.add(OrderItem(order_id=order.id, item_id=item_id, quantity=quantity))
        return order.id
