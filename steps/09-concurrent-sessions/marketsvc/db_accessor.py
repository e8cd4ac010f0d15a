# steps: patch
# steps: after from sqlalchemy
# >>> exercise: integrity-409
from sqlalchemy.exc import IntegrityError
# <<< exercise: integrity-409

# >>> exercise: session-per-task
from marketsvc.db.engine import get_engine, get_sessionmaker
# --- stub
from marketsvc.db.engine import get_engine
# <<< exercise: session-per-task
# steps: after from marketsvc.db.models
from marketsvc.db.unavailable import DatabaseUnavailable, leaves, unavailable_reason
# steps: after NotFound
# steps: main one_error
# steps: after get_order_total
# steps: main get_orders_total


# --- sessions: events, stats, items -----------------------------------------
# The functions below take an AsyncSession (the ORM's unit of work) instead
# of opening a connection: the caller decides how long the session lives.


# steps: edit order_json
# steps: after orders_after
# steps: main count_customers
# steps: main count_orders


async def revenue(session: AsyncSession) -> Decimal:
    total = select(func.coalesce(func.sum(LINE_TOTAL), 0)).join_from(OrderItem, Item)
    return (await session.execute(total)).scalar_one()
# steps: main top_item
# steps: main STATS
# >>> exercise: session-per-task
# steps: main get_stats
# --- stub


async def get_stats() -> dict[str, Any]:
    """Run the independent aggregates of STATS at the same time.

    Each gets a session of its own: one AsyncSession is one connection and
    runs one statement at a time, so sharing it would serialise the queries
    (or fail: SQLAlchemy refuses concurrent use of a session).
    """
    # TODO (exercise session-per-task): run the queries of STATS at the same
    # time, each in a session of its own; answer {name: result}. test_lesson.py
    # shows why one shared session would not do.
    raise NotImplementedError("exercise session-per-task: write get_stats")
# <<< exercise: session-per-task
# steps: main Conflict
# steps: main list_items
# steps: main create_item
#-    race with a concurrent request). write_session queues the write behind
#-    the service's other writers and rolls the session back after the
#-    IntegrityError, so the caller can go on using it.
#+    race with a concurrent request). After the IntegrityError the session is
#+    rolled back, so the caller can go on using it.
#=    item = Item(name=name, price=price, description=description)
#+    session.add(item)
#=    try:
#-        async with write_session(session):
#-            session.add(item)
#+        await session.commit()
#=    except IntegrityError:
#+        await session.rollback()
# >>> exercise: integrity-409
# --- stub
# steps: edit create_item
#-    try:
#-        await session.commit()
#-    except IntegrityError:
#-        await session.rollback()
#-        raise Conflict(f"an item named {name!r} already exists") from None
#+    # TODO (exercise integrity-409): a taken name makes commit() fail: a 500,
#+    # and the session is left in a failed transaction. Answer Conflict (a
#+    # 409, see server.py) instead, with the session usable again.
#+    await session.commit()
# <<< exercise: integrity-409
