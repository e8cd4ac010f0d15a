# steps: patch main
# steps: edit Base
#-class Base(AsyncAttrs, DeclarativeBase):
#+class Base(DeclarativeBase):
# steps: delete from sqlalchemy.ext.asyncio
