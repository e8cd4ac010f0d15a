# steps: patch
# >>> exercise: validation
# --- stub

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# steps: edit MAX_ID
#-# Ids are PostgreSQL INTEGERs on every engine: 1 .. 2**31 - 1. Anything else
#-# can never exist, so it is refused as invalid (422) before any query runs.
#+# Ids are 32-bit integers from 1 up. Anything else can never exist, so it is
#+# refused as invalid (422) before any query runs.
# steps: delete MAX_IDS_PER_REQUEST

# steps: edit Id
#-# Strict: "3", 3.0 and true are not ids.
#-Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
#+Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# steps: delete Quantity
# <<< exercise: validation
# >>> exercise: exact-money
# --- stub
# steps: delete Money


CENT = Decimal("0.01")
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
# - ItemIn.price as an Annotated Decimal: BeforeValidator(json_number), so
#   that only a JSON number is a price (not "3.20", not true); then
#   Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False), what
#   NUMERIC(10,2) can store exactly (0.105 is refused, not rounded somewhere
#   later); then AfterValidator(lambda price: abs(price).quantize(CENT)), so
#   that every price has its two places (and -0.0 is 0.00).
#   The body arrives parsed by strict_json: a JSON number with a fraction is
#   already an exact Decimal there, never a float.


# steps: edit AddressOut


# steps: edit OrderLineOut
#-    price: Money
#+    price: float
#-    total: Money
#+    total: float


# steps: edit OrderOut
#-    total: Money
#+    total: float


# steps: edit OrderTotalOut
#-    total: Money
#+    total: float


# steps: edit OrdersTotalIn
#-class OrdersTotalIn(Strict):
#-    orders: list[Id] = Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)
#+class OrdersTotalIn(BaseModel):
#+    orders: list[Id] = Field(min_length=1)


# steps: edit NewOrderLine
#-class NewOrderLine(Strict):
#+class NewOrderLine(BaseModel):
#-    quantity: Quantity
#+    quantity: int = Field(ge=1, le=MAX_QUANTITY)


# steps: edit NewOrderIn
#-class NewOrderIn(Strict):
#+class NewOrderIn(BaseModel):
#-    items: list[NewOrderLine] = Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)
#+    items: list[NewOrderLine] = Field(min_length=1)
# steps: delete storable
# steps: delete Name


class ItemIn(BaseModel):
    name: str
    price: float
    description: str | None = None


# steps: edit ItemOut
#-    price: Money
#+    price: float


# steps: edit StatsOut
#-    revenue: Money
#+    revenue: float


# steps: edit QueryIn
#-class QueryIn(Strict):
#+class QueryIn(BaseModel):
# <<< exercise: validation
# >>> exercise: capstone-cancel
# --- stub
# steps: delete CancelledOrderOut
# <<< exercise: capstone-cancel
