# steps: patch
# >>> exercise: atomic-writes
# --- stub


# --- writing an order --------------------------------------------------------


async def add_new_order(customer_id: int, items: list[tuple[int, int]]) -> int:
    """Insert an order and its (item_id, quantity) lines; returns the new order's id."""
    # TODO (exercise atomic-writes): every statement below runs on a
    # connection of its own and each INSERT is its own transaction. If the
    # lines fail, the order stays behind without them; and the checks can
    # be out of date by the time the INSERTs run. Make it one transaction:
    # open `async with write_transaction() as conn:` around everything, do
    # the checks inside it with conn.scalar(...) / conn.scalars(...), and
    # pass conn=conn to both execute_insert_query() calls.
    if not await customer_exists(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    item_ids = [item_id for item_id, _ in items]
    found = {row.id for row in await execute_query(select(Item.id).where(Item.id.in_(item_ids)))}
    missing = [item_id for item_id in item_ids if item_id not in found]
    if missing:
        raise NotFound(f"unknown item ids: {missing}")

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    new_order = Order.__table__.insert().returning(Order.id)
    row = await execute_insert_query(new_order, {"customer_id": customer_id, "order_time": now})
    order_id = row.id
    lines = [
        {"order_id": order_id, "item_id": item_id, "quantity": quantity}
        for item_id, quantity in items
    ]
    await execute_insert_query(OrderItem.__table__.insert(), lines)
    return order_id
# <<< exercise: atomic-writes
