# steps: patch

from pydantic import BaseModel, Field, StringConstraints, field_validator
# steps: after NewOrderOut
# steps: main QueryIn
#-class QueryIn(Strict):
#+class QueryIn(BaseModel):
