"""Tests of what the pages say about the libraries, on the pinned versions.

Every branch has the same docs/ and the same claims/: a page that states how
asyncio, SQLAlchemy, FastAPI, uvicorn, Python's sqlite3, SQLite or
PostgreSQL behaves names the test here that shows it. They use the
libraries directly, not the service, so they hold on every branch. Run them
with `.venv/bin/python -m pytest claims`.
PostgreSQL's are skipped unless MARKETSVC_TEST_DATABASE_URL names a server.
"""

import os

import pytest


@pytest.fixture
def postgresql_url() -> str:
    url = os.environ.get("MARKETSVC_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL: set MARKETSVC_TEST_DATABASE_URL to a server's URL")
    return url
