# steps: patch
# steps: after from pathlib
from typing import Any
# steps: after from fastapi.testclient
from sqlalchemy import event

from marketsvc import db_accessor
from marketsvc.config import Settings
# steps: after query


@pytest.fixture
def statements(client: TestClient) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the service's engine sends, with its parameters.

    SQLAlchemy calls a `before_cursor_execute` listener just before it hands
    a statement to the driver, so this sees exactly what reaches SQLite.
    """
    sent: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        sent.append((statement, parameters))

    engine = db_accessor.get_engine()
    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)
