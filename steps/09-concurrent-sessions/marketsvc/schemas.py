# steps: patch

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
# steps: after NewOrderOut


class ItemIn(BaseModel):
    name: str
    price: float
    description: str | None = None
# steps: main ItemOut
#-    price: Money
#+    price: float
# steps: main TopItemOut
# steps: main StatsOut
#-    revenue: Money
#+    revenue: float
