# steps: patch
# steps: after from sqlalchemy.dialects
# steps: main from sqlalchemy.ext.asyncio


# steps: main Base
