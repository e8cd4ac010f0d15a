# steps: patch main
# steps: edit __doc__
#-  statement_timeout, on a fresh connection. A superuser is lowered to the
#-  role marketsvc_reader (SELECT on the service's tables, nothing else) for
#-  the transaction, because a read-only transaction alone still lets a
#-  superuser run COPY ... TO PROGRAM. Better still, give the route a user
#-  that can only SELECT (MARKETSVC_QUERY_DATABASE_URL).
#+  statement_timeout. Give it a database user that can only SELECT
#+  (MARKETSVC_QUERY_DATABASE_URL): a superuser can still read server files.
from marketsvc.db_accessor import uncancelled

STREAM_BATCH_ROWS = 2000
# steps: edit create_query_engine
#-    # NullPool: every research query gets a fresh session, so nothing it
#-    # leaves behind (a SET, an advisory lock) reaches the next one.
#-    engine = create_engine(url, poolclass=NullPool)
#+    engine = create_engine(url, pool_size=pool_size)


async def _prepare(engine: AsyncEngine, conn) -> None:
    timeout = engine.get_execution_options()["research_timeout"]
    if engine.dialect.name == "sqlite":
        raw = await conn.get_raw_connection()
        await raw.driver_connection.set_authorizer(_sqlite_authorizer)
        # SQLite has no statement timeout; a progress handler that gives up
        # once `timeout` seconds have passed plays that part until the first
        # rows arrive (see run_query).
        deadline = time.monotonic() + timeout
        await raw.driver_connection.set_progress_handler(
            lambda: time.monotonic() > deadline, 10_000
        )
    else:
        await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
# steps: edit run_query
#-            deadline = await _prepare(engine, conn)
#+            await _prepare(engine, conn)
#-            deadline.renew()
#-            batch = await uncancelled(anext(batches, []))
#+            first = await uncancelled(anext(batches, []))
#=            raise QueryFailed(_database_message(exc)) from None
#+        if engine.dialect.name == "sqlite":
#+            # Rows are flowing: from here the client's reading sets the pace.
#+            raw = await conn.get_raw_connection()
#+            await raw.driver_connection.set_progress_handler(None, 0)
#+        batch = first
#-            deadline.renew()
# steps: delete from sqlalchemy.pool
# steps: delete from marketsvc.db.schema
# steps: delete READER_ROLE
# steps: delete create_reader_role
# steps: delete _Deadline
