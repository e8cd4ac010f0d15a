"""Database plumbing: the engine, ORM models, schema set-up."""
