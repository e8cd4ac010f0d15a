# steps: patch
# >>> exercise: sqlite-writers
# --- stub


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")  # off by default in SQLite
        # TODO (exercise sqlite-writers): make SQLite safe for concurrent
        # writers, on every new connection:
        # - PRAGMA journal_mode = WAL, so that readers never block the writer;
        # - PRAGMA busy_timeout = SQLITE_BUSY_TIMEOUT_MS, so that a writer
        #   waits for the lock instead of failing at once;
        # - dbapi_connection.isolation_level = None (before the cursor), so
        #   that Python's sqlite3 stops opening transactions on its own and
        #   SQLAlchemy's "begin" event (below) decides how they start.
        cursor.close()

    # TODO (exercise sqlite-writers): add a listener for the "begin" event,
    # @event.listens_for(engine.sync_engine, "begin"), that runs
    # connection.exec_driver_sql("BEGIN IMMEDIATE") when
    # connection.get_execution_options().get("sqlite_write") is true (see
    # writer() below), nothing when "single_statement" is true (see
    # single_statement() below), and "BEGIN" otherwise. A writer then takes
    # the write lock up front and queues on busy_timeout, instead of failing
    # with "database is locked" when it upgrades from reading to writing.


# steps: edit single_statement
# <<< exercise: sqlite-writers
