# steps: main __doc__

# steps: main import asyncio

# steps: main from sqlalchemy.engine
# steps: main from sqlalchemy.exc

# steps: main from marketsvc.db.schema


# steps: main _safe_url


# steps: main describe_database_error


# steps: main settled


# steps: main check_database
