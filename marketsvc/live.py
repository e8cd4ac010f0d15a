"""GET /live: a page that watches the order feed, served as plain HTML.

The page (static/live.html) is HTML and JavaScript only: no build step, no
CDN. The one thing the server fills in is where the feed should start, so
that the page opens with the most recent orders instead of all of them.
"""

from functools import cache
from pathlib import Path

from marketsvc import db_accessor

PAGE = Path(__file__).parent / "static" / "live.html"
# Orders already stored that the page shows when it opens.
BACKLOG = 50


@cache
def page_template() -> str:
    return PAGE.read_text(encoding="utf-8")


async def live_page() -> str:
    start_after = max(0, await db_accessor.latest_order_id() - BACKLOG)
    return page_template().replace("__START_AFTER__", str(start_after))
