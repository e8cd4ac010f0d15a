# steps: patch
# steps: after from collections.abc
from contextlib import aclosing
# steps: after import anyio
import anyio.lowlevel
# steps: after NotFound


# --- the workshop's three helpers ------------------------------------------


# steps: main uncancelled


# steps: edit execute_query
# steps: main stream_query
# steps: main stream_orders_between
