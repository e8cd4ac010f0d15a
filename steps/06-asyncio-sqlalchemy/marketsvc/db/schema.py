# steps: main __doc__

# steps: main from pathlib

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# steps: main from marketsvc.config
# steps: main from marketsvc.db.models

# steps: main SCHEMA_FILE
# steps: main TABLES


# steps: main SchemaError


# steps: main sql_statements


# steps: main existing_tables


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
