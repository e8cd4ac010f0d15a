"""All data access of the service, written with Python's built-in sqlite3.

Routes in server.py call these functions and never see SQL. Each function
opens a connection and closes it when it is done: FastAPI runs `def` routes
on a pool of threads, and a sqlite3 connection must stay in the thread that
opened it.

Every value that comes from a request reaches SQLite as a `?` parameter,
never by pasting it into the SQL string, so no input can change the query.
"""

import sqlite3
from datetime import UTC, datetime
from typing import Any

from marketsvc.config import SCHEMA_FILE

# Children before parents, the order in which they can be dropped.
TABLES = ["order_items", "orders", "customer", "address", "item"]

_database: str | None = None
_echo = False
# steps: main NotFound


# --- connections -------------------------------------------------------------


def sqlite_path(url: str) -> str:
    """The file named by a SQLite URL such as sqlite:///marketdb."""
    scheme, separator, path = url.partition(":///")
    # sqlite+aiosqlite:///... names a file just as well; only the path matters here.
    if scheme.split("+")[0] != "sqlite" or not separator or not path:
        raise ValueError(f"expected a SQLite URL such as sqlite:///marketdb, got {url!r}")
    return path.split("?")[0]


def open_database(url: str, *, echo: bool = False) -> None:
    """Remember which database file the service uses."""
    global _database, _echo
    _database, _echo = sqlite_path(url), echo


def close_database() -> None:
    global _database
    _database = None


def connect() -> sqlite3.Connection:
    if _database is None:
        raise RuntimeError("the database is not open: call open_database() first")
    conn = sqlite3.connect(_database)
    conn.row_factory = sqlite3.Row  # rows can be read by column name: row["name"]
    conn.execute("PRAGMA foreign_keys = ON")  # SQLite does not check them unless asked
    if _echo:
        conn.set_trace_callback(print)
    return conn


def execute_query(query: str, params: tuple = ()) -> list[sqlite3.Row]:
    """Run one read on a connection of its own and return all its rows."""
    conn = connect()
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def init_db(*, reset: bool = False) -> bool:
    """Load marketdb.sql if the tables are missing; True when it did.

    Existing data is kept unless `reset` is true, which drops the tables first.
    """
    conn = connect()
    try:
        if reset:
            for table in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if set(TABLES) <= {row["name"] for row in rows}:
            return False
        # executescript runs a whole file of statements and commits them.
        conn.executescript(SCHEMA_FILE.read_text())
        return True
    finally:
        conn.close()


# --- customers ---------------------------------------------------------------


def get_customers() -> list[dict[str, Any]]:
    rows = execute_query(
        """
        SELECT customer.id, customer.name, address.flat_number, address.post_code
        FROM customer
        JOIN address ON address.id = customer.address_id
        ORDER BY customer.id
        """
    )
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "address": {"flat_number": row["flat_number"], "post_code": row["post_code"]},
        }
        for row in rows
    ]


def customer_exists(customer_id: int) -> bool:
    return bool(execute_query("SELECT 1 FROM customer WHERE id = ?", (customer_id,)))


# --- orders ------------------------------------------------------------------

# One row per item of an order. Callers add a WHERE and an ORDER BY.
ORDER_LINES = """
    SELECT orders.id AS order_id, orders.customer_id, orders.order_time,
           item.id AS item_id, item.name, item.price, order_items.quantity,
           item.price * order_items.quantity AS line_total
    FROM orders
    JOIN order_items ON order_items.order_id = orders.id
    JOIN item ON item.id = order_items.item_id
"""


def group_order_lines(rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    """Fold rows of ORDER_LINES, sorted by order, into one dict per order."""
    orders: dict[int, dict[str, Any]] = {}
    for row in rows:
        order = orders.setdefault(
            row["order_id"],
            {
                "order_id": row["order_id"],
                "customer_id": row["customer_id"],
                "order_time": row["order_time"],
                "items": [],
                "total": 0,
            },
        )
        order["items"].append(
            {
                "item_id": row["item_id"],
                "name": row["name"],
                "price": row["price"],
                "quantity": row["quantity"],
                "total": row["line_total"],
            }
        )
        order["total"] += row["line_total"]
    return list(orders.values())


def get_orders_of_customer(customer_id: int) -> list[dict[str, Any]]:
    """The customer's orders with their items; NotFound for an unknown customer."""
    rows = execute_query(
        ORDER_LINES + "WHERE orders.customer_id = ? ORDER BY orders.id, item.id",
        (customer_id,),
    )
    if not rows and not customer_exists(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    return group_order_lines(rows)


def get_orders_between(after: datetime, before: datetime) -> list[dict[str, Any]]:
    """Orders with after <= order_time <= before, oldest first."""
    # order_time is stored as text ('2024-03-01 09:30:00'), which sorts like
    # the time it spells, so the bounds are compared in the same shape.
    rows = execute_query(
        ORDER_LINES
        + "WHERE orders.order_time BETWEEN ? AND ? ORDER BY orders.order_time, orders.id, item.id",
        (str(after), str(before)),
    )
    return group_order_lines(rows)


def get_order_total(order_id: int) -> float:
    """The sum of price x quantity over the order's items; NotFound if no such order."""
    rows = execute_query(
        """
        SELECT COALESCE(SUM(item.price * order_items.quantity), 0) AS total
        FROM orders
        LEFT JOIN order_items ON order_items.order_id = orders.id
        LEFT JOIN item ON item.id = order_items.item_id
        WHERE orders.id = ?
        GROUP BY orders.id
        """,
        (order_id,),
    )
    if not rows:
        raise NotFound(f"order {order_id} does not exist")
    return rows[0]["total"]


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
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    conn = connect()
    try:
        # `with conn` is one transaction: it commits when the block ends and
        # rolls back if anything raises, so a bad item leaves no order behind.
        with conn:
            if not conn.execute("SELECT 1 FROM customer WHERE id = ?", (customer_id,)).fetchone():
                raise NotFound(f"customer {customer_id} does not exist")
            cursor = conn.execute(
                "INSERT INTO orders (customer_id, order_time) VALUES (?, ?)", (customer_id, now)
            )
            order_id = cursor.lastrowid
            for item_id, quantity in items:
                if not conn.execute("SELECT 1 FROM item WHERE id = ?", (item_id,)).fetchone():
                    raise NotFound(f"item {item_id} does not exist")
                conn.execute(
                    "INSERT INTO order_items (order_id, item_id, quantity) VALUES (?, ?, ?)",
                    (order_id, item_id, quantity),
                )
        return order_id
    finally:
        conn.close()
