# steps: patch
# steps: main __doc__
# steps: main NewOrderIn
#-class NewOrderIn(Strict):
#+class NewOrderIn(BaseModel):
#-    items: list[NewOrderLine] = Field(min_length=1, max_length=MAX_IDS_PER_REQUEST)
#+    items: list[NewOrderLine] = Field(min_length=1)
