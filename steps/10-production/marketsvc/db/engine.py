# steps: patch
# >>> exercise: sqlite-writers
# --- stub


# steps: edit create_engine
#-    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
#-    if not in_memory and "poolclass" not in options:
#+    if not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")):


# steps: edit _configure_sqlite
#-        # Python's sqlite3 driver opens transactions lazily and in its own
#-        # way; switch that off and let SQLAlchemy say BEGIN (see on_begin).
#-        dbapi_connection.isolation_level = None
#=        cursor.execute("PRAGMA foreign_keys = ON")  # off by default in SQLite
#-        cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer
#-        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
#+        # TODO (exercise sqlite-writers): make SQLite safe for concurrent
#+        # writers, on every new connection:
#+        # - PRAGMA journal_mode = WAL, so that readers never block the writer;
#+        # - PRAGMA busy_timeout = SQLITE_BUSY_TIMEOUT_MS, so that a writer
#+        #   waits for the lock instead of failing at once;
#+        # - dbapi_connection.isolation_level = None (before the cursor), so
#+        #   that Python's sqlite3 stops opening transactions on its own and
#+        #   SQLAlchemy's "begin" event (below) decides how they start.
#-
#-    @event.listens_for(engine.sync_engine, "begin")
#-    def on_begin(connection):
#-        # A transaction that will write takes the write lock up front
#-        # (BEGIN IMMEDIATE), so it waits its turn on busy_timeout instead of
#-        # failing with "database is locked" when it upgrades from reading.
#-        options = connection.get_execution_options()
#-        if options.get("sqlite_write"):
#-            connection.exec_driver_sql("BEGIN IMMEDIATE")
#-        elif not options.get("single_statement"):
#-            connection.exec_driver_sql("BEGIN")

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
