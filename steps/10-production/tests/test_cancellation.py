"""Shutdown in the middle of a query throws no connection away (page 10).

The finished service's test of it: a real uvicorn server in this process,
stopped as SIGTERM stops it, on SQLite and, with MARKETSVC_TEST_DATABASE_URL,
on PostgreSQL.
"""

import asyncio
import contextlib
import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import event

from marketsvc.config import Settings
from tests.conftest import free_port

TOKEN = "shutdown-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# steps: main POOL_EVENTS


# steps: main pool_events


@pytest.fixture
def settings(any_database_url: str) -> Settings:
    return Settings(database_url=any_database_url)


# steps: main test_shutdown_during_a_query_cuts_off_no_connection


# steps: main ask
