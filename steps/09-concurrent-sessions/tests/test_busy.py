"""A database that cannot serve right now: 503 with Retry-After, never a 500.

The pool is exhausted for real: the test checks the pool's only connection
out itself, on the app's own event loop, and holds it while it calls.
"""

from fastapi.testclient import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from marketsvc.config import Settings
from marketsvc.db.engine import get_engine
from marketsvc.db.unavailable import DatabaseUnavailable
from marketsvc.db_accessor import NotFound, one_error
from marketsvc.server import create_app


def test_an_exhausted_pool_is_a_503_with_retry_after_also_through_a_task_group(database_url):
    settings = Settings(database_url=database_url, pool_size=1, pool_overflow=0, pool_timeout=0.1)

    async def take_a_connection():
        return await get_engine().connect()

    with TestClient(create_app(settings)) as client:
        held = client.portal.call(take_a_connection)  # the pool's only connection
        alone = client.get("/api/order_total/2")
        # A TaskGroup whose tasks all find no connection: one_error picks the 503.
        fanned_out = client.post("/api/orders_total", json={"orders": [1, 2, 3]})
        client.portal.call(held.close)
        after = client.get("/api/order_total/2")
    for response in (alone, fanned_out):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.json() == {
            "detail": "all database connections are in use; try again shortly"
        }
    assert after.status_code == 200


# steps: main tests/test_faults.py::test_a_taskgroup_answers_for_the_error_a_retry_cannot_fix
