# steps: patch main

# steps: edit from marketsvc.db.models
# steps: edit seed
#-    async with write_transaction(engine) as conn:
#+    async with engine.begin() as conn:
#-        await sync_id_sequences(conn)
# steps: delete from marketsvc.db.engine, from marketsvc.db.schema
