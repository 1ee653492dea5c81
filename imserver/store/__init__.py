"""Durable message storage: SQLite (embedded default), PostgreSQL (asyncpg), and PostgreSQL shards."""
from .base import (GroupResult, ReceiptResult, SendResult, Store, StoreError, StoreUnavailable, open_store,
                   open_stores)

__all__ = ["GroupResult", "ReceiptResult", "SendResult", "Store", "StoreError", "StoreUnavailable", "open_store",
           "open_stores"]
