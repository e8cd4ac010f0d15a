"""PostgreSQL's own rules (page 8)."""

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


def test_a_read_only_transaction_does_not_stop_a_superuser(postgresql_url):
    # Why research queries need a login of their own: inside READ ONLY, a
    # superuser still reads the server's files and runs programs on it (the
    # program reads what COPY writes: one that exits first breaks the pipe).
    async def as_superuser() -> list:
        engine = create_async_engine(postgresql_url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SET TRANSACTION READ ONLY"))
                await conn.execute(text("COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'"))
                version = await conn.scalar(text("SELECT pg_read_file('PG_VERSION')"))
                read_only = await conn.scalar(text("SHOW transaction_read_only"))
                return [version.strip().isdigit(), read_only]
        finally:
            await engine.dispose()

    assert asyncio.run(as_superuser()) == [True, "on"]
