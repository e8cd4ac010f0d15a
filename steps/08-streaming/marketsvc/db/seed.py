# steps: main __doc__

# steps: main import random
# steps: main from datetime

# steps: main from sqlalchemy
# steps: main from sqlalchemy.ext.asyncio
# steps: main from tqdm

# steps: main from marketsvc.db.models

# steps: main BATCH
# steps: main FIRST_ORDER_TIME
# steps: main NAMES


# steps: main _next_id


async def seed(engine: AsyncEngine, *, customers: int, orders: int, random_seed: int = 42) -> None:
    """Add `customers` customers (one address each) and `orders` orders.

    Orders go to random customers, old and new, with one to three random
    items each. Rows are inserted in batches with explicit ids, in one
    transaction, so a failed seed leaves the database as it was.
    """
    rng = random.Random(random_seed)
    async with engine.begin() as conn:
        item_ids = list(await conn.scalars(select(Item.id)))
        first_customer = await _next_id(conn, Customer.id)
        first_address = await _next_id(conn, Address.id)
        first_order = await _next_id(conn, Order.id)
        last_customer = first_customer + customers - 1

        with tqdm(total=customers, unit="customer", disable=customers == 0) as bar:
            for start in range(0, customers, BATCH):
                count = min(BATCH, customers - start)
                addresses = [
                    {
                        "id": first_address + start + i,
                        "flat_number": rng.randint(1, 200),
                        "post_code": rng.randint(10000, 99999),
                    }
                    for i in range(count)
                ]
                people = [
                    {
                        "id": first_customer + start + i,
                        "name": f"{rng.choice(NAMES)} {first_customer + start + i}",
                        "address_id": first_address + start + i,
                    }
                    for i in range(count)
                ]
                await conn.execute(insert(Address), addresses)
                await conn.execute(insert(Customer), people)
                bar.update(count)

        if orders and last_customer < 1:
            last_customer = await _next_id(conn, Customer.id) - 1
        if orders and (last_customer < 1 or not item_ids):
            raise ValueError("orders need at least one customer and one item")
        with tqdm(total=orders, unit="order", disable=orders == 0) as bar:
            for start in range(0, orders, BATCH):
                count = min(BATCH, orders - start)
                new_orders, lines = [], []
                for i in range(count):
                    order_id = first_order + start + i
                    minutes = rng.randint(0, 60 * 24 * 365)
                    new_orders.append(
                        {
                            "id": order_id,
                            "customer_id": rng.randint(1, last_customer),
                            "order_time": FIRST_ORDER_TIME + timedelta(minutes=minutes),
                        }
                    )
                    for item_id in rng.sample(item_ids, k=min(len(item_ids), rng.randint(1, 3))):
                        lines.append(
                            {
                                "order_id": order_id,
                                "item_id": item_id,
                                "quantity": rng.randint(1, 5),
                            }
                        )
                await conn.execute(insert(Order), new_orders)
                await conn.execute(insert(OrderItem), lines)
                bar.update(count)
