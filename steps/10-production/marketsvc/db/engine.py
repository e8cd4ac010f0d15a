# steps: patch
# >>> exercise: sqlite-writers
# --- stub
# steps: previous _configure_sqlite
#=        cursor.execute("PRAGMA foreign_keys = ON")  # off by default in SQLite
#+        # TODO (exercise sqlite-writers): on every new connection, make readers
#+        # never block the writer, make a writer wait up to SQLITE_BUSY_TIMEOUT_MS
#+        # for the lock, and stop Python's sqlite3 from opening transactions.

    # TODO (exercise sqlite-writers): then begin each transaction yourself: a
    # writer (sqlite_write, see writer()) locks up front and queues instead of
    # failing with "database is locked"; a single_statement read gets none.


# steps: edit single_statement
# <<< exercise: sqlite-writers
