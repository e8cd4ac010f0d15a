"""Database plumbing: engine and sessions, ORM models, schema set-up."""
