# steps: patch
# >>> exercise: sqlite-writers
# --- stub


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")  # off by default in SQLite
        # TODO (exercise sqlite-writers): on every new connection, make readers
        # never block the writer, make a writer wait up to SQLITE_BUSY_TIMEOUT_MS
        # for the lock, and stop Python's sqlite3 from opening transactions.
        cursor.close()

    # TODO (exercise sqlite-writers): then begin every transaction yourself.
    # A writer (the sqlite_write option, see writer()) takes the write lock up
    # front, so it queues on the busy timeout instead of failing with
    # "database is locked"; a single_statement read gets no transaction.


# steps: edit single_statement
# <<< exercise: sqlite-writers
