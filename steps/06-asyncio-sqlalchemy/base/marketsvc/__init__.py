"""Marketplace: the workshop's service, grown from raw sqlite3 to async SQLAlchemy."""
