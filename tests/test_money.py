"""Money is exact to the cent on every route and every engine."""

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def _execute(url: str, statement: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def dime(client, database_url) -> int:
    """An item that costs 0.10, the classic binary floating point trap."""
    asyncio.run(
        _execute(database_url, "INSERT INTO item (id, name, price) VALUES (10, 'Dime sweet', 0.10)")
    )
    return 10


def test_three_times_ten_cents_is_thirty_cents_everywhere(client, dime):
    response = client.post(
        "/api/add_new_order", json={"customer_id": 2, "items": [{"id": dime, "quantity": 3}]}
    )
    order_id = response.json()["order_id"]

    assert (
        client.get(f"/api/order_total/{order_id}").text == f'{{"order_id":{order_id},"total":0.3}}'
    )

    (order,) = [o for o in client.get("/api/orders/2").json() if o["order_id"] == order_id]
    assert order["items"][0]["price"] == 0.1
    assert order["items"][0]["total"] == 0.3
    assert order["total"] == 0.3
    assert '"total":0.3}' in client.get("/api/orders/2").text

    totals = client.post("/api/orders_total", json={"orders": [order_id]}).json()
    assert totals == [{"order_id": order_id, "total": 0.3}]

    between = client.get("/api/orders_between_dates/2100-01-01/2024-03-02")
    assert "0.30000000000000004" not in between.text
    (streamed,) = [o for o in between.json() if o["order_id"] == order_id]
    assert streamed["total"] == 0.3


def test_many_cents_add_up_exactly(client, dime):
    items = [{"id": dime, "quantity": 7}, {"id": 3, "quantity": 3}]  # 0.70 + 31.50
    order_id = client.post("/api/add_new_order", json={"customer_id": 1, "items": items}).json()[
        "order_id"
    ]
    assert client.get(f"/api/order_total/{order_id}").json()["total"] == 32.2
