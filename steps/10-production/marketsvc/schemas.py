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

# TODO (exercise validation): lax pydantic turns "3", 3.0 and true into the
# id 3 and drops unknown fields. Make every incoming body refuse them (422),
# and more than 1000 ids or lines, an ItemIn name not 1 to 100 characters
# once stripped, or a description over 500.

# TODO (exercise exact-money): keep money an exact Decimal in the service,
# a JSON number outside (25.5, not "25.50"): every price, total and revenue.
# An ItemIn price is a JSON number (not "3.20", not true) that NUMERIC(10,2)
# holds exactly (0.105 is refused, not rounded), with two places (-0.0 is
# 0.00). Bodies arrive parsed by strict_json: fractions are Decimals already.


# steps: edit AddressOut
# steps: previous OrderLineOut
# steps: previous OrderOut
# steps: previous OrderTotalOut
# steps: previous OrdersTotalIn
# steps: previous NewOrderLine
# steps: previous NewOrderIn
# steps: delete storable, Name
# steps: previous ItemIn
# steps: previous ItemOut
# steps: previous StatsOut
# steps: previous QueryIn
# <<< exercise: validation
# >>> exercise: capstone-cancel
# --- stub
# steps: delete CancelledOrderOut
# <<< exercise: capstone-cancel
