# steps: patch
# steps: main __doc__
# steps: main from sqlalchemy.ext.asyncio
#-    AsyncConnection,
# steps: after _engine
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def open_database(url: str, **engine_options) -> AsyncEngine:
    """Create the process's engine and session factory (options: see create_engine)."""
    global _engine, _sessionmaker
    _engine = create_engine(url, **engine_options)
    # >>> exercise: expire-on-commit
    # expire_on_commit=False: objects stay readable after commit without a
    # new round trip, which async code cannot do implicitly.
    _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    # --- stub
    # TODO (exercise expire-on-commit): a commit expires the session's objects,
    # and reloading item.name is IO that async code cannot do implicitly
    # (MissingGreenlet). Keep them readable after commit, no statement sent.
    _sessionmaker = async_sessionmaker(_engine)
    # <<< exercise: expire-on-commit
    return _engine
# steps: main close_database
# steps: after get_engine
# steps: main get_sessionmaker
