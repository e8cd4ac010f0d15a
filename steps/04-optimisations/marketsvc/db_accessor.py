# steps: patch
# steps: edit __doc__
#=  and writes new or changed objects when it flushes.
#+- Touching a relationship that is not loaded yet costs a query (lazy
#+  loading). Queries that will follow a relationship for many objects say so
#+  up front with a loader option, so that the number of statements stays the
#+  same however many objects there are.

# >>> exercise: n-plus-one
from sqlalchemy import Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.orm import Session, joinedload, selectinload
# --- stub
from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.orm import Session, joinedload
# <<< exercise: n-plus-one
# steps: edit get_customers
#-    # The session closes at the end of the block, so build the answer inside
#-    # it: customer.address is loaded from the database when first touched.
#+    # joinedload: fetch each customer's address in the same SELECT, with a
#+    # JOIN, instead of one more query per customer when .address is touched.
#+    # innerjoin=True because every customer has an address.
#+    statement = (
#+        select(Customer).options(joinedload(Customer.address, innerjoin=True)).order_by(Customer.id)
#+    )
#-        customers = session.scalars(select(Customer).order_by(Customer.id))
#=            }
#-            for customer in customers
#+            for customer in session.scalars(statement)
# >>> exercise: n-plus-one


# --- orders ------------------------------------------------------------------

# The loader option for queries that go on to read orders' lines and items:
# selectinload fetches the lines of all the selected orders in one more
# SELECT (WHERE order_id IN (...)), and joinedload brings each line's item
# into that same SELECT with a JOIN. Two statements, whatever the number of
# orders.
LINES_AND_ITEMS = selectinload(Order.items).joinedload(OrderItem.item)
# <<< exercise: n-plus-one
# >>> exercise: sql-sum


# steps: edit order_json
#-            "total": line.item.price * line.quantity,
#+            "total": line.total,
# --- stub
# steps: edit order_json
#=    """An order with its lines, following the relationships from the order."""
#+    # TODO (exercise hybrid-total): once OrderItem.total exists, take each
#+    # line's total below from it.
# <<< exercise: sql-sum
# >>> exercise: n-plus-one
# steps: edit get_orders_of_customer
#-        statement = select(Order).where(Order.customer_id == customer_id).order_by(Order.id)
#+        statement = (
#+            select(Order)
#+            .options(LINES_AND_ITEMS)
#+            .where(Order.customer_id == customer_id)
#+            .order_by(Order.id)
#+        )
# steps: edit get_orders_between
#=            select(Order)
#+            .options(LINES_AND_ITEMS)
# --- stub
# steps: edit get_orders_of_customer
#=    """The customer's orders with their items; NotFound for an unknown customer."""
#+    # TODO (exercise n-plus-one): order_json() touches order.items and each
#+    # line.item: one more query per order and per item. Load them up front, here
#+    # and in get_orders_between(), so that MARKETSVC_ECHO=1 logs as many
#+    # statements for 2 orders as for 200 (get_customers() above does it).
# steps: edit get_orders_between
# <<< exercise: n-plus-one
# >>> exercise: sql-sum
# steps: edit get_order_total
#=    """The sum of price x quantity over the order's items; NotFound if no such order."""
#+    # One statement: the database adds the lines up (SUM) and sends back a
#+    # single number instead of every line. The hybrid OrderItem.total is the
#+    # same price x quantity that line.total computes in Python.
#+    statement = select(func.sum(OrderItem.total)).where(OrderItem.order_id == order_id)
#-        if session.get(Order, order_id) is None:
#-            raise NotFound(f"order {order_id} does not exist")
#-        # join(Item) finds its ON clause by itself, from the foreign key
#-        # order_items.item_id -> item.id.
#-        lines = session.execute(
#-            select(Item.price, OrderItem.quantity).join(Item).where(OrderItem.order_id == order_id)
#-        )
#-        return sum((price * quantity for price, quantity in lines), Decimal(0))
#+        total = session.scalar(statement)
#+    # SUM over no rows is NULL. Every order has at least one line (orders are
#+    # only ever written with their items), so no rows means no such order.
#+    if total is None:
#+        raise NotFound(f"order {order_id} does not exist")
#+    return total
# --- stub
# steps: edit get_order_total
#=    """The sum of price x quantity over the order's items; NotFound if no such order."""
#+    # TODO (exercise sql-sum): let the database add the lines up with
#+    # OrderItem.total, in one statement (the log shows one SELECT with sum( in
#+    # it). Every order has lines: no sum, no such order.
# <<< exercise: sql-sum
