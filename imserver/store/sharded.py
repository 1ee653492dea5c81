"""Conversations sharded over several PostgreSQL primaries: ShardedStore routes each operation of the Store
interface to the PostgresStore that owns it, so server.py does not know about shards.

* A conversation and everything keyed by it (its row and seq counter, members with their roles and read markers,
  messages with their (sender, client_msg_id) idempotency keys, device markers) live on shard
  ``shard_of(conv id, N)``.  A send, edit or recall names its conversation (a 1:1 ``to`` names the direct
  conversation of the two users), so a retried write lands on the shard that deduplicates it.
* Blocks and bans are small, rarely written and checked inside other transactions (a 1:1 send checks the peer's
  blocks), so they are written to every shard and read from the user's home shard ``shard_of(user id, N)``, or the
  next shard answering when that one is down.
* A user's inbox, contacts and media access fan out to every shard (in parallel: one query per shard) and merge.
"""
from __future__ import annotations

import asyncio
import zlib

import asyncpg

from .base import EraseResult, Store, StoreError, StoreUnavailable, send_target
from .postgres import PostgresStore
from .replicas import ReplicaReads


def shard_of(key: str, n: int) -> int:
    """CRC-32 (zlib, IEEE) of the UTF-8 key modulo the number of shards: stable across processes and versions
    (unlike Python's randomized hash)."""
    return zlib.crc32(key.encode()) % n


# The conversation a routed write names: its position in the write's arguments (see Store's write methods).
_CONV_ARG = {"amend": 2, "group_create": 1, "group_join": 1, "group_add": 1, "group_leave": 1, "group_remove": 1,
             "group_role": 1, "receipt": 1, "delete_message": 0, "delete_conversation": 0}
_EVERYWHERE = ("block", "unblock", "ban", "unban", "purge", "erase_user")
_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)


class ShardedStore(Store):
    def __init__(self, shards: list[PostgresStore], replicas: dict[int, list[PostgresStore]]):
        self.shards = shards
        self.reads = [ReplicaReads(s, replicas.get(k, [])) for k, s in enumerate(shards)]
        self.schema_change = None

    def shard(self, key: str) -> int:
        return shard_of(key, len(self.shards))

    @property
    def inflight(self) -> int:
        return sum(s.inflight for s in self.shards)

    @property
    def on_commit(self):
        return self.shards[0].on_commit

    @on_commit.setter
    def on_commit(self, callback) -> None:
        for s in self.shards:
            s.on_commit = callback

    # ---- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        await asyncio.gather(*(s.open() for s in self.shards))
        await asyncio.gather(*(r.open() for r in self.reads))
        self.schema_change = self.shards[0].schema_change

    async def migrate(self) -> None:
        await asyncio.gather(*(s.migrate() for s in self.shards))

    async def start(self) -> None:
        for s in self.shards:
            await s.start()

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.shards))
        await asyncio.gather(*(r.close() for r in self.reads))

    # ---- writes --------------------------------------------------------------------------
    def submit(self, name: str, *args) -> asyncio.Future:
        if name in _EVERYWHERE:
            return asyncio.ensure_future(self._everywhere(name, args))
        if name == "send":
            try:
                conv, _ = send_target(args[0], args[2], args[3])
            except StoreError as refused:
                fut = asyncio.get_running_loop().create_future()
                fut.set_exception(refused)
                return fut
        else:
            conv = args[_CONV_ARG[name]]
        k = self.shard(conv)
        fut = self.shards[k].submit(name, *args)
        reads = self.reads[k]
        if reads.replicas and name not in ("delete_message", "delete_conversation"):
            # Registered before the caller's callbacks: recorded before the ack goes out.
            fut.add_done_callback(lambda f: f.cancelled() or f.exception() or reads.wrote(args[0]))
        return fut

    async def _everywhere(self, name: str, args: tuple):
        """A write applied on every shard (replicated tables, purge, erasure): unavailable unless every shard
        committed its part (each part is idempotent, so the retry completes it)."""
        results = await asyncio.gather(*(s.submit(name, *args) for s in self.shards), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException) and not isinstance(r, StoreError)]
        if failed:
            raise StoreUnavailable(f"{name} did not commit on every shard") from failed[0]
        if name == "purge":
            return sum(results)
        if name == "erase_user":
            return _merge_erasures(args[0], results)
        home = results[self.shard(args[0])]
        if isinstance(home, StoreError):
            raise home
        return home

    # ---- reads ---------------------------------------------------------------------------
    async def history(self, user, conv, after_seq, limit):
        return await self.reads[self.shard(conv)].read(user, "history", user, conv, after_seq, limit)

    async def inbox(self, user, device=""):
        parts = await asyncio.gather(*(r.read(user, "inbox", user, device) for r in self.reads))
        return sorted((row for part in parts for row in part), key=lambda row: row["conv"])

    async def device_cursor(self, user, device, conv):
        return await self.reads[self.shard(conv)].read(user, "device_cursor", user, device, conv)

    async def member_roles(self, user, conv):
        return await self.shards[self.shard(conv)].member_roles(user, conv)

    async def contacts(self, user):
        parts = await asyncio.gather(*(s.contacts(user) for s in self.shards))
        return sorted({c for part in parts for c in part})

    async def can_read_media(self, user, key):
        return any(await asyncio.gather(*(s.can_read_media(user, key) for s in self.shards)))

    async def user_known(self, user):
        return any(await asyncio.gather(*(s.user_known(user) for s in self.shards)))

    async def blocks(self, user):
        return await self._replicated(user, "blocks", user)

    async def is_blocked(self, user, by):
        return await self._replicated(by, "is_blocked", user, by)

    async def is_banned(self, user):
        return await self._replicated(user, "is_banned", user)

    async def _replicated(self, user: str, name: str, *args):
        """A read of a table every shard holds: the user's home shard, or the next one when it is down."""
        home, n = self.shard(user), len(self.shards)
        for j in range(n):
            try:
                return await getattr(self.shards[(home + j) % n], name)(*args)
            except _DOWN:
                if j == n - 1:
                    raise

    async def ping(self) -> bool:
        """Ready while any shard answers: a shard that is down fails only its own conversations' operations."""
        return any(await asyncio.gather(*(s.ping() for s in self.shards)))


def _merge_erasures(user: str, results: list) -> EraseResult:
    """One EraseResult from every shard's; not_found only when no shard held anything of the user."""
    found = [r for r in results if isinstance(r, EraseResult)]
    if not found:
        raise results[0]
    merged = EraseResult(user, {}, {}, {})
    for r in found:
        merged.tombstones.update(r.tombstones)
        merged.deleted_convs.update(r.deleted_convs)
        merged.left_groups.update(r.left_groups)
    return merged


def open_sharded(urls: list[str], replicas: dict[int, list[str]], max_batch: int = 1024,
                 commit_delay_s: float = 0.0) -> ShardedStore:
    shards = [PostgresStore(url, max_batch=max_batch, track_lsn=bool(replicas.get(k))) for k, url in enumerate(urls)]
    for s in shards:
        s.commit_delay_s = commit_delay_s
    return ShardedStore(shards, {k: [PostgresStore(url) for url in urls_k] for k, urls_k in replicas.items()})
