# steps: patch
# >>> exercise: capstone-cancel
# --- stub
# steps: edit from datetime
#-from datetime import UTC, datetime, timedelta
#+from datetime import UTC, datetime
# steps: edit from sqlalchemy
#-    delete,
# <<< exercise: capstone-cancel
# >>> exercise: atomic-writes
# --- stub


async def _store_order(
    customer_id: int, items: list[tuple[int, int]], key: str | None, request_hash: str
) -> int:
    """The writes of add_new_order: the key, the checks, then the writes."""
    # TODO (exercise atomic-writes): each step below commits on its own: failed
    # lines leave the order behind, the checks go stale, a retry with the same
    # Idempotency-Key can store the order twice. Make it one transaction that also
    # announces the order, so followers hear of it only once it commits.
    now = datetime.now(UTC).replace(tzinfo=None)
    if key is not None:
        async with write_transaction() as conn:
            await idempotency.forget_expired(conn, now)
            earlier = await idempotency.order_of(conn, key, request_hash)
        if earlier is not None:
            return earlier  # a retry: nothing new is written

    if not await customer_exists(customer_id):
        raise NotFound(f"customer {customer_id} does not exist")
    item_ids = [item_id for item_id, _ in items]
    found = {row.id for row in await execute_query(select(Item.id).where(Item.id.in_(item_ids)))}
    missing = [item_id for item_id in item_ids if item_id not in found]
    if missing:
        raise NotFound(f"unknown item ids: {missing}")

    new_order = Order.__table__.insert().returning(Order.id)
    row = await execute_insert_query(new_order, {"customer_id": customer_id, "order_time": now})
    order_id = row.id
    lines = [
        {"order_id": order_id, "item_id": item_id, "quantity": quantity}
        for item_id, quantity in items
    ]
    await execute_insert_query(OrderItem.__table__.insert(), lines)
    if key is not None:
        async with write_transaction() as conn:
            await idempotency.remember(conn, key, request_hash, order_id, now)
    return order_id
# <<< exercise: atomic-writes
# >>> exercise: capstone-cancel
# --- stub
# steps: delete CANCEL_WINDOW, cancel_order
# <<< exercise: capstone-cancel
