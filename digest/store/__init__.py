"""What digest remembers, behind one interface: SQLite files (the default) or PostgreSQL.

A URL picks the backend (``store.url``: ``[store] url`` or ``DIGEST_DATABASE_URL``). On
SQLite each store is the file it always was, beside the config; on PostgreSQL the tables
live in one database whose schema is versioned (``store.schema``, ``store.postgres``).
Only the send ledger is on PostgreSQL so far (``digest.delivery.ledger``).
"""

from __future__ import annotations

from digest.store.postgres import PostgresStore as PostgresStore
from digest.store.postgres import SchemaStatus as SchemaStatus
from digest.store.schema import MIGRATIONS as MIGRATIONS
from digest.store.schema import Migration as Migration
from digest.store.url import ENVIRONMENT as ENVIRONMENT
from digest.store.url import StoreSettings as StoreSettings
from digest.store.url import StoreURL as StoreURL
from digest.store.url import mask as mask
from digest.store.url import parse_store_url as parse_store_url
from digest.store.url import store_url as store_url

__all__ = [
    "ENVIRONMENT",
    "MIGRATIONS",
    "Migration",
    "PostgresStore",
    "SchemaStatus",
    "StoreSettings",
    "StoreURL",
    "mask",
    "parse_store_url",
    "store_url",
]
