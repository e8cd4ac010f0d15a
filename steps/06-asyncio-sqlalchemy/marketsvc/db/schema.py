# steps: patch main

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def _load_schema_file(conn: AsyncConnection) -> None:
    for statement in sql_statements():
        await conn.exec_driver_sql(statement)
# steps: edit init_db
#-    async with write_transaction(engine) as conn:
#+    async with engine.begin() as conn:
# steps: delete from sqlalchemy.engine
# steps: delete from marketsvc.db.engine
# steps: delete TABLES_WITH_GENERATED_IDS
# steps: delete sync_id_sequences
# steps: delete create_database
