"""Durable message storage: SQLite (embedded default) and PostgreSQL (asyncpg)."""
from .base import GroupResult, ReceiptResult, SendResult, Store, StoreError, StoreUnavailable, open_store

__all__ = ["GroupResult", "ReceiptResult", "SendResult", "Store", "StoreError", "StoreUnavailable", "open_store"]
