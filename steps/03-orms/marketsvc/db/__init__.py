"""Database plumbing: the ORM models."""
