"""Which copy of one shard serves a read: a read replica when it has replayed the reader's own last write, else the
primary (read-your-writes for what this node wrote).

Each write a user makes through this node records the primary's WAL position after its commit (``commit_lsn``,
read before the write's future resolves).  A read for that user goes to a replica only if the replica's
``pg_last_wal_replay_lsn()`` is at or past that position; otherwise, when the replica is down, or when the replica
refuses the read (a membership it has not replayed yet), the primary answers.  Writes made through another node are
not known here: the guarantee is per node (see docs/imserver.md, "Read replicas").
"""
from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from .base import StoreError
from .postgres import PostgresStore

log = logging.getLogger("imserver.store")

DOWN_S = 2.0                # a replica that failed is skipped this long
MAX_TRACKED_USERS = 50_000  # above this, users whose last write every replica has replayed are forgotten


class ReplicaReads:
    def __init__(self, primary: PostgresStore, replicas: list[PostgresStore]):
        self.primary, self.replicas = primary, replicas
        self.written: dict[str, int] = {}                 # user -> WAL position after its last write here
        self._replayed = [0] * len(replicas)             # last replay position seen per replica
        self._down_until = [0.0] * len(replicas)
        self._next = 0

    async def open(self) -> None:
        await asyncio.gather(*(r.open_replica() for r in self.replicas))

    async def close(self) -> None:
        await asyncio.gather(*(r._close_backend() for r in self.replicas))

    def wrote(self, user: str) -> None:
        """Record that ``user``'s write just committed on the primary."""
        self.written[user] = self.primary.commit_lsn
        if len(self.written) > MAX_TRACKED_USERS:
            floor = min(self._replayed)
            self.written = {u: lsn for u, lsn in self.written.items() if lsn > floor}

    async def read(self, user: str, name: str, *args):
        """``PostgresStore.<name>(*args)`` on a replica that has replayed ``user``'s last write, else on the primary."""
        need = self.written.get(user, 0)
        n = len(self.replicas)
        self._next = (self._next + 1) % max(n, 1)
        for i in ((self._next + j) % n for j in range(n)):
            if self._down_until[i] > time.monotonic():
                continue
            replica = self.replicas[i]
            try:
                lsn = await replica.replay_lsn()
                if lsn is None or lsn < need:
                    continue
                self._replayed[i] = lsn
                return await getattr(replica, name)(*args)
            except StoreError:
                break       # e.g. a membership the replica has not replayed: the primary decides
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError) as exc:
                log.warning("replica read failed", extra={"error": type(exc).__name__})
                self._down_until[i] = time.monotonic() + DOWN_S
        return await getattr(self.primary, name)(*args)
