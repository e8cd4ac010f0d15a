# steps: patch
# steps: after from sqlalchemy
from sqlalchemy.ext.asyncio import AsyncSession
# >>> exercise: eager-loading
from sqlalchemy.orm import selectinload
# <<< exercise: eager-loading
# steps: after add_new_order


# --- sessions -----------------------------------------------------------------
# The functions below take an AsyncSession (the ORM's unit of work) instead
# of opening a connection: the caller decides how long the session lives.


# steps: main order_json
#-        "total": sum((line["total"] for line in lines), Decimal("0.00")),
#+        "total": sum(line["total"] for line in lines),
# >>> exercise: eager-loading


# steps: main orders_after
# --- stub


# steps: main orders_after
#-    statement = (
#-        select(Order)
#-        .where(Order.id > after_id)
#-        .order_by(Order.id)
#-        .limit(limit)
#-        # Two more queries load every order's items and their Item rows:
#-        # nothing is loaded lazily later, which async code could not do.
#-        .options(selectinload(Order.items).selectinload(OrderItem.item))
#-    )
#+    # TODO (exercise eager-loading): order_json() below reads order.items and
#+    # line.item, which this query does not load. Sync code would load them
#+    # lazily, one query per order; async code cannot, and raises
#+    # MissingGreenlet. Load them up front by adding this to the statement:
#+    #     .options(selectinload(Order.items).selectinload(OrderItem.item))
#+    # (from sqlalchemy.orm import selectinload).
#+    statement = select(Order).where(Order.id > after_id).order_by(Order.id).limit(limit)
# <<< exercise: eager-loading
