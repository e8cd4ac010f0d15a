"""Marketplace: the workshop's service, here on Python's built-in sqlite3."""
