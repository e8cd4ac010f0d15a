"""Request and response bodies: what the HTTP API accepts and returns.

Bodies arrive parsed by marketsvc.strict_json: JSON numbers are ints or
exact Decimals, JSON strings are str. So "is this a JSON number" is a
question about the Python type, asked before pydantic converts anything.
"""

import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)

# Ids are PostgreSQL INTEGERs on every engine: 1 .. 2**31 - 1. Anything else
# can never exist, so it is refused as invalid (422) before any query runs.
MAX_ID = 2**31 - 1
MAX_QUANTITY = 10_000
MAX_IDS_PER_REQUEST = 1000

# Strict: "3", 3.0 and true are not ids.
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)]

# Ids in a path or a query string are text: only plain ASCII digits are an
# id there. int() alone would read "1_0" as 10, "+1", "01" and " 1" as 1, and
# Arabic-Indic digits as numbers too.
POSITIVE_DIGITS = re.compile(r"[1-9][0-9]*")
DIGITS = re.compile(r"0|[1-9][0-9]*")


def _digits_only(pattern: re.Pattern, what: str):
    def check(value: object) -> object:
        if not isinstance(value, str):
            return value
        if not pattern.fullmatch(value):
            raise ValueError(
                f"must be {what} in plain digits 0-9, without sign, spaces or leading zeros"
            )
        if len(value) > 12:  # no id has that many digits; spare int() the work
            raise ValueError(f"{value[:12]}... is far too large")
        return value

    return BeforeValidator(check)


# For path and query parameters, which arrive as text; server.py adds the
# bounds with Path(...) and Query(...).
IdText = Annotated[int, _digits_only(POSITIVE_DIGITS, "a whole number from 1")]
CountText = Annotated[int, _digits_only(DIGITS, "a whole number from 0")]


def json_number(value: object) -> object:
    """Let only a JSON number through: not a string, not true/false, not null."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError("must be a JSON number, such as 3.2")
    return value


# Money is an exact Decimal inside the service and a JSON number outside
# (25.5, not "25.50"). The float is made only at the very end, from a value
# already exact to the cent, so 3 x 0.10 is shown as 0.3.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
CENT = Decimal("0.01")


class Strict(BaseModel):
    """Unknown fields are an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


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
    price: Money
    quantity: int
    total: Money


class OrderOut(BaseModel):
    order_id: int
    order_time: datetime
    items: list[OrderLineOut]
    total: Money


class OrderWithCustomerOut(OrderOut):
    customer_id: int


class OrderTotalOut(BaseModel):
    order_id: int
    total: Money


class OrdersTotalIn(Strict):
    orders: list[Id] = Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)


class NewOrderLine(Strict):
    id: Id
    quantity: Quantity


class NewOrderIn(Strict):
    customer_id: Id
    items: list[NewOrderLine] = Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)

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


class CancelledOrderOut(BaseModel):
    order_id: int


def storable(text: str) -> str:
    """Text every engine can store: valid UTF-8 (no lone surrogates), no NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(storable),
]


class ItemIn(Strict):
    name: Name
    # NUMERIC(10,2): at most 8 digits before the point and 2 after, checked
    # on the exact Decimal of the JSON text (1e-400 has 400 places: refused).
    price: Annotated[
        Decimal,
        BeforeValidator(json_number),
        Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False),
        AfterValidator(lambda price: abs(price).quantize(CENT)),  # -0.0 is 0.00
    ]
    description: (
        Annotated[str, StringConstraints(max_length=500), AfterValidator(storable)] | None
    ) = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price: Money
    description: str | None


class TopItemOut(BaseModel):
    item_id: int
    name: str
    quantity: int


class StatsOut(BaseModel):
    customers: int
    orders: int
    revenue: Money
    top_item: TopItemOut | None


class QueryIn(Strict):
    query: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)
    ]
