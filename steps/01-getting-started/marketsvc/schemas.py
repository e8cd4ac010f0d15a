"""Request and response bodies: what the HTTP API accepts and returns.

FastAPI checks requests against these models (a bad one gets a 422 before
any route code runs) and shapes responses with them.
"""

from collections import Counter
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

# Ids are 32-bit integers from 1 up. Anything else can never exist, so it is
# refused as invalid (422) before any query runs.
MAX_ID = 2**31 - 1
MAX_QUANTITY = 10_000

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# steps: main AddressOut
# steps: main CustomerOut
# steps: main OrderLineOut
#-    price: Money
#+    price: float
#-    total: Money
#+    total: float
# steps: main OrderOut
#-    total: Money
#+    total: float
# steps: main OrderWithCustomerOut
# steps: main OrderTotalOut
#-    total: Money
#+    total: float


class OrdersTotalIn(BaseModel):
    orders: list[Id] = Field(min_length=1)


class NewOrderLine(BaseModel):
    id: Id
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class NewOrderIn(BaseModel):
    customer_id: Id
    items: list[NewOrderLine] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def no_duplicate_items(cls, items: list[NewOrderLine]) -> list[NewOrderLine]:
        # An order holds each item once (order_items' primary key); ask for a
        # bigger quantity instead.
        repeated = sorted(i for i, count in Counter(line.id for line in items).items() if count > 1)
        if repeated:
            raise ValueError(f"each item may appear once; repeated item ids: {repeated}")
        return items
# steps: main NewOrderOut
