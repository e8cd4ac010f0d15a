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

# steps: previous MAX_ID
# steps: delete MAX_IDS_PER_REQUEST

# steps: previous Id
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

# TODO (exercise validation): pydantic's default (lax) mode turns "3", 3.0
# and true into the id 3 and drops unknown fields. Make every body that comes
# in refuse them (a 422), and refuse more than 1000 ids or lines in a request,
# an ItemIn name that is not 1 to 100 characters once stripped, and an ItemIn
# description over 500.

# TODO (exercise exact-money): money is an exact Decimal in the database.
# Keep it exact in the service and make it a JSON number only on the way out
# (25.5, not "25.50"), for every price, total and revenue. An ItemIn price is
# a JSON number only (not "3.20", not true) that NUMERIC(10,2) holds exactly
# (0.105 is refused, not rounded), and it keeps its two places (-0.0 is 0.00).
# The body arrives parsed by strict_json: its fractions are Decimals already.


# steps: edit AddressOut


# steps: previous OrderLineOut
# steps: previous OrderOut
# steps: previous OrderTotalOut
# steps: previous OrdersTotalIn
# steps: previous NewOrderLine
# steps: previous NewOrderIn
# steps: delete storable
# steps: delete Name
# steps: previous ItemIn
# steps: previous ItemOut
# steps: previous StatsOut
# steps: previous QueryIn
# <<< exercise: validation
