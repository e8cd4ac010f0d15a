"""Request and response bodies: what the HTTP API accepts and returns."""

from collections import Counter
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

# Ids are 32-bit integers from 1 up. Anything else can never exist, so it is
# refused as invalid (422) before any query runs.
MAX_ID = 2**31 - 1
MAX_QUANTITY = 10_000

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class AddressOut(BaseModel):
    flat_number: int
    post_code: int


class CustomerOut(BaseModel):
    id: int
    name: str
    address: AddressOut


class OrderLineOut(BaseModel):
    item_id: int
    name: str
    price: float
    quantity: int
    total: float


class OrderOut(BaseModel):
    order_id: int
    order_time: datetime
    items: list[OrderLineOut]
    total: float


class OrderWithCustomerOut(OrderOut):
    customer_id: int


class OrderTotalOut(BaseModel):
    order_id: int
    total: float


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
        counts = Counter(line.id for line in items)
        duplicates = sorted(item_id for item_id, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"each item may appear once; repeated item ids: {duplicates}")
        return items


class NewOrderOut(BaseModel):
    order_id: int


class QueryIn(BaseModel):
    query: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)
    ]
