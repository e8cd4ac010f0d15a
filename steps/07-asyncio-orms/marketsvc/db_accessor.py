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


async def orders_after(
    session: AsyncSession, after_id: int, customer_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """The next `limit` orders with id > after_id, oldest id first."""
    # >>> exercise: eager-loading
    statement = (
        select(Order)
        .where(Order.id > after_id)
        .order_by(Order.id)
        .limit(limit)
        # Two more queries load every order's items and their Item rows:
        # nothing is loaded lazily later, which async code could not do.
        .options(selectinload(Order.items).selectinload(OrderItem.item))
    )
    # --- stub
    # TODO (exercise eager-loading): order_json() reads order.items and
    # line.item, which async code cannot load lazily (MissingGreenlet). Load
    # them up front: three statements, however many orders.
    statement = select(Order).where(Order.id > after_id).order_by(Order.id).limit(limit)
    # <<< exercise: eager-loading
    if customer_id is not None:
        statement = statement.where(Order.customer_id == customer_id)
    orders = (await session.scalars(statement)).all()
    return [order_json(order) for order in orders]
