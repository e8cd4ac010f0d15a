# steps: patch
# >>> exercise: validation
# --- stub
# steps: delete from decimal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# Ids are 32-bit integers from 1 up. Anything else can never exist, so it is
# refused as invalid (422) before any query runs.
MAX_ID = 2**31 - 1
# steps: delete MAX_IDS_PER_REQUEST

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# steps: delete Quantity
# <<< exercise: validation
# >>> exercise: exact-money
# --- stub
# steps: delete Money
# <<< exercise: exact-money
# >>> exercise: validation
# --- stub
# steps: delete Strict

# TODO (exercise validation): pydantic's default (lax) mode converts what it
# can: "3", 3.0 and true all become the id 3, and unknown fields are
# silently dropped. Refuse them instead:
# - Id and a new Quantity type with Field(strict=True, ...), and use
#   Quantity for NewOrderLine.quantity;
# - a base class Strict(BaseModel) with model_config = ConfigDict(extra="forbid"),
#   for every model that comes *in* (OrdersTotalIn, NewOrderLine, NewOrderIn,
#   ItemIn, QueryIn);
# - MAX_IDS_PER_REQUEST = 1000 as max_length of OrdersTotalIn.orders and
#   NewOrderIn.items;
# - ItemIn.name stripped, 1 to 100 characters, and description at most 500
#   (StringConstraints).

# TODO (exercise exact-money): money is an exact Decimal in the database and
# in the service. Keep it so up to the edge of the API:
# - Money = Annotated[Decimal, PlainSerializer(float, return_type=float,
#   when_used="json")]: a Decimal inside, a JSON number outside, turned into
#   a float only at the very end. Use it for every price, total and revenue
#   below instead of float;
# - ItemIn.price as a Decimal with Field(ge=0, max_digits=10,
#   decimal_places=2, allow_inf_nan=False): what NUMERIC(10,2) can store
#   exactly. A price of 0.105 is refused, not rounded somewhere later.


class AddressOut(BaseModel):
    flat_number: int
    post_code: int


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
# steps: delete storable
# steps: delete Name


class ItemIn(BaseModel):
    name: str
    price: float
    description: str | None = None


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price: float
    description: str | None


class StatsOut(BaseModel):
    customers: int
    orders: int
    revenue: float
    top_item: TopItemOut | None


class QueryIn(BaseModel):
    query: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)
    ]
# <<< exercise: validation
