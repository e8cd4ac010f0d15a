# steps: patch
# steps: main __doc__

# steps: main from sqlalchemy

# steps: main Money

# steps: main Timestamp


# steps: main Customer


# steps: main Order


# steps: main OrderItem
# steps: delete from sqlalchemy.ext.hybrid
