# steps: patch
# steps: edit __doc__
#-write freely and never touch the real `marketdb`.
#+write freely and never touch the real `marketdb`. The service reaches it
#+through aiosqlite, as it does in production.

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Iterator

from marketsvc.config import Settings
from marketsvc.db.engine import close_database, get_engine, open_database
# steps: after db_path


@pytest.fixture
def database_url(db_path: Path) -> str:
    return f"sqlite+aiosqlite:///{db_path}"
# steps: edit client
#-def client(db_path: Path) -> Iterator[TestClient]:
#-    app = create_app(Settings(database_url=f"sqlite:///{db_path}"))
#+def client(database_url: str) -> Iterator[TestClient]:
#+    app = create_app(Settings(database_url=database_url))
# steps: after query


@pytest.fixture
def in_db(database_url: str) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    """in_db(fn) runs `await fn()` in an event loop of its own, database open.

    An AsyncEngine belongs to the event loop that uses it, so tests that call
    db_accessor directly open the database in their own loop (not in the one
    the TestClient runs the app in).
    """

    def run(fn: Callable[[], Awaitable[Any]]) -> Any:
        async def scenario() -> Any:
            open_database(database_url)
            try:
                return await fn()
            finally:
                await close_database()

        return asyncio.run(scenario())

    return run


@pytest.fixture
def checked_out() -> Callable[[], int]:
    """checked_out(): how many of the service's connections are out of its pool now."""
    return lambda: get_engine().pool.checkedout()
# steps: delete from sqlalchemy, from marketsvc, statements
