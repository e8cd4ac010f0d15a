# steps: patch main

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


async def _load_schema_file(conn: AsyncConnection) -> None:
    for statement in sql_statements():
        await conn.exec_driver_sql(statement)
# steps: edit init_db
#-    unless `reset` is true, which drops the service's tables first. Any
#-    number of processes may call it at once: each looks and loads under the
#-    start-up lock, so exactly one of them loads the schema.
#+    unless `reset` is true, which drops the service's tables first.
#-    async with write_transaction(engine) as conn:
#-        await take_startup_lock(conn)
#+    async with engine.begin() as conn:
# steps: delete STARTUP_LOCK_KEY, take_startup_lock, from sqlalchemy.engine
# steps: delete from marketsvc.db.engine, TABLES_WITH_GENERATED_IDS, sync_id_sequences
# steps: delete create_database
