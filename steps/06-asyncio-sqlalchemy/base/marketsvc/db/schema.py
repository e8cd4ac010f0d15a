"""Create, check and reset the schema from marketdb.sql."""

from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from marketsvc.config import REPO_ROOT
from marketsvc.db.models import Base

SCHEMA_FILE: Path = REPO_ROOT / "marketdb.sql"
TABLES = [table.name for table in Base.metadata.sorted_tables]


class SchemaError(RuntimeError):
    """The database holds some of the service's tables but not all of them."""


def sql_statements(path: Path = SCHEMA_FILE) -> list[str]:
    """The statements of marketdb.sql: each ends with ';' at the end of a line."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";\n") if stmt.strip(" \n;")]


async def existing_tables(conn: AsyncConnection) -> set[str]:
    names = await conn.run_sync(lambda sync_conn: inspect(sync_conn).get_table_names())
    return set(names) & set(TABLES)


async def _load_schema_file(conn: AsyncConnection) -> None:
    for statement in sql_statements():
        await conn.exec_driver_sql(statement)


async def init_db(engine: AsyncEngine, *, reset: bool = False) -> bool:
    """Create the schema and sample data if the database is empty.

    Returns True when it loaded marketdb.sql. Existing data is never touched
    unless `reset` is true, which drops the service's tables first.
    """
    async with engine.begin() as conn:
        present = await existing_tables(conn)
        if reset and present:
            await conn.run_sync(Base.metadata.drop_all)
            present = set()
        if present == set(TABLES):
            return False
        if present:
            missing = ", ".join(sorted(set(TABLES) - present))
            raise SchemaError(
                f"the database has only part of the schema (missing: {missing}); "
                "reset it with ./run.sh reset"
            )
        await _load_schema_file(conn)
        return True
