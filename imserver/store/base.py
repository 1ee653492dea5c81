"""Storage interface, shared result types and the group-commit writer.

Group commit: every mutating operation is queued; one writer task takes everything queued
(up to ``max_batch``), runs it in ONE transaction, commits once (one fsync), then resolves each
operation's future.  An operation that is refused (not a member, group full...) raises
StoreError before its first write, so it leaves nothing behind and its neighbours commit.  An
operation the *database* refuses (a value the driver cannot encode, a constraint) aborts the
transaction; the batch is then split in halves and retried until that operation is alone, so
only it fails (``rejected``, not retryable) and everyone else's writes commit.  While a batch
commits, new operations queue up and form the next batch,
so durable throughput grows with concurrency instead of being one fsync per message.
Per-conversation ``seq`` is assigned inside that transaction (UPDATE ... last_seq + 1), so a
rolled-back batch leaves no hole and a committed one has no gap.
"""
from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..protocol import direct_conv_id, direct_pair

log = logging.getLogger("imserver.store")


class StoreError(Exception):
    """A refused operation (code is a protocol error code: forbidden, not_found, group_full, bad_frame)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class StoreUnavailable(Exception):
    """The database failed (commit error, connection lost); nothing of the batch is acknowledged."""


@dataclass(frozen=True)
class SendResult:
    conv: str
    seq: int
    ts: int
    sender: str
    client_msg_id: str
    body: str
    media: str | None
    members: tuple = ()
    duplicate: bool = False
    event: str | None = None        # "edit" or "recall": this row amends the message at target_seq
    target_seq: int | None = None


@dataclass(frozen=True)
class GroupResult:
    conv: str
    name: str
    members: tuple
    changed: tuple = ()   # users added or removed by this operation


@dataclass(frozen=True)
class ReceiptResult:
    conv: str
    user: str
    kind: str
    seq: int
    members: tuple
    moved: bool = True    # False: the marker was already there (nothing to tell the others)


@dataclass(frozen=True)
class EraseResult:
    """What erasing a user changed, for the pushes: tombstoned seqs and the members who still see them
    (group conversations), deleted 1:1 conversations with their peers, groups the user was removed from."""
    user: str
    tombstones: dict          # conv -> (seqs, members)
    deleted_convs: dict       # conv -> former members (1:1 conversations, deleted whole)
    left_groups: dict         # conv -> remaining members


@dataclass(frozen=True)
class DeleteMessageResult:
    conv: str
    seq: int
    members: tuple
    orphaned_media: tuple = ()   # object keys no remaining message carries (their objects can go)
    changed: bool = True         # False: it was a tombstone already


@dataclass(frozen=True)
class DeleteConversationResult:
    conv: str
    members: tuple
    messages: int
    orphaned_media: tuple = ()


def event_fields(event: str | None, target_seq: int | None) -> dict:
    """The field that marks an edit or recall event (``edit_of`` / ``recall_of``: the amended seq), in history rows,
    acks and ``msg`` pushes alike."""
    return {f"{event}_of": target_seq} if event else {}


# The message columns every backend selects for history_row, in this order.
HISTORY_COLUMNS = "seq, sender, client_msg_id, body, media, ts, deleted_ts, event, target_seq, edited_ts"
# The users who see ``user``'s presence: everyone sharing a conversation with them, except where either blocked the
# other (nothing reaches a blocker from the user they blocked; a blocked user does not learn when the blocker is
# online). ``:u`` is the user parameter (a named parameter on SQLite, $1 on PostgreSQL).
CONTACTS_SQL = ("SELECT DISTINCT o.user_id FROM members m JOIN members o ON o.conv=m.conv"
                " WHERE m.user_id=:u AND o.user_id<>:u AND NOT EXISTS (SELECT 1 FROM blocks b WHERE"
                " (b.user_id=:u AND b.blocked=o.user_id) OR (b.user_id=o.user_id AND b.blocked=:u))")


def history_row(conv: str, seq: int, sender: str, cmid: str, body: str, media, ts: int, deleted_ts,
                event=None, target_seq=None, edited_ts=None) -> dict:
    """A message as ``sync`` returns it; a tombstone keeps conv, seq and ts (and the sender unless the sender was
    erased) and says ``deleted``, so the cursor stays gapless.  Edit and recall events are rows of their own
    (``edit_of``/``recall_of``); an edited message also carries its new body and ``edited_ts``."""
    if deleted_ts is not None:
        return {"conv": conv, "seq": seq, **({"from": sender} if sender else {}), "body": "", "ts": ts,
                "deleted": True}
    return {"conv": conv, "seq": seq, "from": sender, "client_msg_id": cmid, "body": body,
            **({"media": media} if media else {}), "ts": ts, **event_fields(event, target_seq),
            **({"edited_ts": edited_ts} if edited_ts is not None else {})}


def inbox_row(device: str, conv, kind, name, last_seq, read_seq, delivered_seq, unread, device_read_seq,
              device_delivered_seq) -> dict:
    """One ``inbox`` entry; the device's own markers only when the connection has a device."""
    row = {"conv": conv, "kind": kind, "name": name, "last_seq": last_seq, "read_seq": read_seq,
           "delivered_seq": delivered_seq, "unread": unread}
    if device:
        row.update(device_read_seq=device_read_seq, device_delivered_seq=device_delivered_seq)
    return row


def check_amendable(row, sender: str, ts: int, window_ms: int) -> None:
    """Only the sender may edit or recall a message, only a plain message still there, and only within the window.
    ``row`` is the target's (sender, ts, event, deleted_ts) or None."""
    if row is None:
        raise StoreError("not_found", "no message with that seq in that conversation")
    if row[2] is not None:
        raise StoreError("bad_frame", "that seq is an edit or recall event: name the original message's seq")
    if row[0] != sender:
        raise StoreError("forbidden", "only the sender may edit or recall a message")
    if row[3] is not None:
        raise StoreError("bad_frame", "that message was recalled or deleted")
    if ts - row[1] > window_ms:
        raise StoreError("window_expired", f"messages can be edited or recalled for {window_ms // 1000} s")


def blocked_send() -> StoreError:
    return StoreError("blocked", "the recipient blocked you: your 1:1 messages are not accepted")


def blocked_add(user: str) -> StoreError:
    return StoreError("blocked", f"{user} blocked you: you cannot add them to a group")


def require_role(role: str | None, allowed: tuple, what: str) -> None:
    """The acting member's role must be one of ``allowed`` (None: not a member at all)."""
    if role is None:
        raise StoreError("forbidden", "not a member of that conversation")
    if role not in allowed:
        raise StoreError("forbidden", f"only the group's {' or '.join(allowed)} may {what}")


def check_remove(actor_role: str | None, target_role: str | None) -> None:
    """Owner and admins remove members; only the owner removes an admin; nobody removes the owner."""
    require_role(actor_role, ("owner", "admin"), "remove members")
    if target_role is None:
        raise StoreError("not_found", "that user is not a member of the group")
    if target_role == "owner" or (target_role == "admin" and actor_role != "owner"):
        raise StoreError("forbidden", f"an {actor_role} cannot remove the group's {target_role}")


def check_role_change(actor: str, actor_role: str | None, target: str, target_role: str | None) -> None:
    """Only the owner sets roles or transfers ownership, to another member."""
    require_role(actor_role, ("owner",), "change roles or transfer ownership")
    if target_role is None:
        raise StoreError("not_found", "that user is not a member of the group")
    if target == actor:
        raise StoreError("bad_frame", "the owner's own role changes only by group_transfer to another member")


def receipt_plan(kind: str, seq: int, user_markers: tuple, device_markers: tuple | None) -> tuple[bool, bool]:
    """(store the device's marker, move the user's marker).  Markers are (read_seq, delivered_seq).  Without a
    device the user's marker is the one that only moves forward (a receipt behind it is refused); with a device
    that device's marker is, and the user's marker (what other members see, what unread counts) takes the
    highest seq any device reported."""
    if device_markers is None:
        return False, receipt_marker_check(kind, seq, *user_markers)
    store_device = receipt_marker_check(kind, seq, *device_markers)
    return store_device, seq > (user_markers[0] if kind == "read" else user_markers[1])


def receipt_marker_check(kind: str, seq: int, read_seq: int, delivered_seq: int) -> bool:
    """Markers only move forward: a receipt behind the user's marker is refused (before any write);
    True when it moves the marker, False when it repeats it."""
    current = read_seq if kind == "read" else delivered_seq
    if seq < current:
        raise StoreError("bad_frame", f"receipt seq {seq} is behind your {kind} marker {current}; "
                                      "markers only move forward")
    return seq > current


def send_target(sender: str, conv: str | None, to: str | None) -> tuple[str, tuple | None]:
    """Where a send goes: its conversation (a 1:1 `to` names the direct conversation of the two users) and, for a
    direct conversation, its two members. Refuses, before any write, what no store may accept: a 1:1 message to
    yourself, or a direct conversation the sender is not one of."""
    if to is not None:
        if to == sender:
            raise StoreError("bad_frame", "cannot send a 1:1 message to yourself")
        conv = direct_conv_id(sender, to)
    pair = direct_pair(conv)
    if pair is not None and (sender not in pair or pair[0] == pair[1]):
        raise StoreError("forbidden", "not a member of that conversation")
    return conv, pair


def check_group(row):
    """The conversation row a group operation reads (kind first) must exist and be a group."""
    if row is None:
        raise StoreError("not_found", "no such conversation")
    if row[0] != "group":
        raise StoreError("bad_frame", "not a group conversation")
    return row


class WriteOp:
    __slots__ = ("name", "args", "future")

    def __init__(self, name: str, args: tuple, future: asyncio.Future):
        self.name, self.args, self.future = name, args, future


# 1: conversations, members, messages.  2: messages.deleted_ts (tombstones), bans (admin API).
# 3: messages.event/target_seq/edited_ts (edit, recall), members.role, blocks, device_markers (protocol 2).
SCHEMA_VERSION = 3


def migration_steps(current: int) -> range:
    """The schema versions to apply, in order, to a database at ``current`` (a newer database is left alone:
    every step only adds, so older code keeps working on it)."""
    return range(current + 1, SCHEMA_VERSION + 1)


class Store(ABC):
    """Backend-neutral API (server.py and admin.py use only this); implementations: sqlite.SQLiteStore and
    postgres.PostgresStore (one database each, group commit) and sharded.ShardedStore (routes to several)."""

    # ---- lifecycle -----------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def migrate(self) -> None: ...

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None:
        """Finish every queued operation (drain), then close connections."""

    @abstractmethod
    def submit(self, name: str, *args) -> asyncio.Future:
        """Queue a write; the future resolves after the commit that includes it."""

    # ---- writes (queued) -----------------------------------------------------------------
    def send(self, sender, client_msg_id, conv, to, body, media) -> asyncio.Future:
        return self.submit("send", sender, client_msg_id, conv, to, body, media)

    def group_create(self, user, conv, name, members, public, max_members) -> asyncio.Future:
        return self.submit("group_create", user, conv, name, tuple(members), public, max_members)

    def group_join(self, user, conv, max_members) -> asyncio.Future:
        return self.submit("group_join", user, conv, max_members)

    def group_add(self, user, conv, new_user, max_members) -> asyncio.Future:
        return self.submit("group_add", user, conv, new_user, max_members)

    def group_leave(self, user, conv) -> asyncio.Future:
        return self.submit("group_leave", user, conv)

    def group_remove(self, user, conv, target) -> asyncio.Future:
        return self.submit("group_remove", user, conv, target)

    def group_role(self, user, conv, target, role) -> asyncio.Future:
        """role "owner" transfers ownership (the old owner becomes an admin)."""
        return self.submit("group_role", user, conv, target, role)

    def receipt(self, user, conv, kind, seq, device: str = "") -> asyncio.Future:
        return self.submit("receipt", user, conv, kind, seq, device)

    def amend(self, event, sender, client_msg_id, conv, target_seq, body, window_ms) -> asyncio.Future:
        """An edit (new body) or recall of the sender's message ``target_seq``: a new row with its own seq, deduped
        by (sender, client_msg_id) like a send; resolves to a SendResult."""
        return self.submit("amend", sender, client_msg_id, conv, target_seq, body, window_ms, event)

    def block(self, user, target) -> asyncio.Future:
        return self.submit("block", user, target)

    def unblock(self, user, target) -> asyncio.Future:
        return self.submit("unblock", user, target)

    def purge_before(self, ts_ms: int) -> asyncio.Future:
        return self.submit("purge", ts_ms)

    # Admin operations go through the same writer: each is one transaction, ordered with the sends around it, and
    # a failing one is isolated like any other (it fails alone and leaves nothing behind).
    def erase_user(self, user) -> asyncio.Future:
        """Every table holding per-user rows must be covered by the backends' _op_erase_user (GDPR erasure):
        today memberships (with the read/delivered markers and roles), device_markers, blocks (theirs and others'
        naming them), messages, conversations' created_by."""
        return self.submit("erase_user", user)

    def delete_message(self, conv, seq) -> asyncio.Future:
        return self.submit("delete_message", conv, seq)

    def delete_conversation(self, conv) -> asyncio.Future:
        return self.submit("delete_conversation", conv)

    def ban(self, user) -> asyncio.Future:
        return self.submit("ban", user)

    def unban(self, user) -> asyncio.Future:
        return self.submit("unban", user)

    # ---- reads ---------------------------------------------------------------------------
    @abstractmethod
    async def history(self, user: str, conv: str, after_seq: int, limit: int) -> tuple[list[dict], int]: ...

    @abstractmethod
    async def inbox(self, user: str, device: str = "") -> list[dict]:
        """With a device, each conversation also carries that device's device_read_seq and device_delivered_seq."""

    @abstractmethod
    async def member_roles(self, user: str, conv: str) -> dict:
        """{member: role} of conv; StoreError(forbidden) when user is not one of them."""

    async def members(self, user: str, conv: str) -> list[str]:
        """Members of conv, sorted; StoreError(forbidden) when user is not one of them."""
        return sorted(await self.member_roles(user, conv))

    @abstractmethod
    async def device_cursor(self, user: str, device: str, conv: str) -> int:
        """The device's delivered marker in conv (0 when it reported none): where its sync resumes."""

    @abstractmethod
    async def blocks(self, user: str) -> list[str]:
        """The users ``user`` blocked, sorted."""

    @abstractmethod
    async def is_blocked(self, user: str, by: str) -> bool:
        """True when ``by`` blocked ``user`` (ephemeral 1:1 frames from ``user`` are not delivered to ``by``)."""

    @abstractmethod
    async def contacts(self, user: str) -> list[str]:
        """Who is told of ``user``'s presence (CONTACTS_SQL): sharing a conversation, neither blocking the other."""

    @abstractmethod
    async def can_read_media(self, user: str, key: str) -> bool:
        """True when a message carrying media ``key`` is in a conversation ``user`` belongs to."""

    @abstractmethod
    async def is_banned(self, user: str) -> bool: ...

    @abstractmethod
    async def user_known(self, user: str) -> bool:
        """True when anything is stored for ``user``: a membership, a message it sent, a ban, a block."""

    @abstractmethod
    async def ping(self) -> bool: ...


class GroupCommitStore(Store):
    """One database written through one group-commit writer (see the module docstring)."""

    def __init__(self, max_batch: int = 1024, on_commit=None, commit_delay_s: float = 0.0,
                 commit_delay_below: int = 64):
        self.max_batch = max_batch
        # Like PostgreSQL's commit_delay: when fewer than commit_delay_below operations are
        # queued, wait commit_delay_s for more before committing.  Every commit costs an fsync
        # (~0.2 ms of kernel CPU here) and a thread hand-off; at moderate load without the delay
        # batches hold 1-3 messages and those per-commit costs dominate CPU per message.
        self.commit_delay_s = commit_delay_s
        self.commit_delay_below = commit_delay_below
        self._queue: list[WriteOp] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task | None = None
        self._closing = False
        self.on_commit = on_commit   # callback(batch_size, commit_seconds) for metrics
        self.inflight = 0
        self.schema_change: tuple[int, int] | None = None   # (version before, after) once migrate() ran

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="imserver-writer")

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._wake.set()
            while self._queue or self.inflight:
                await asyncio.sleep(0.005)
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
            self._writer = None
        await self._close_backend()

    @abstractmethod
    async def _close_backend(self) -> None: ...

    # ---- group commit --------------------------------------------------------------------
    def submit(self, name: str, *args) -> asyncio.Future:
        fut = self._loop.create_future()
        self._queue.append(WriteOp(name, args, fut))
        self.inflight += 1
        self._wake.set()
        return fut

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.commit_delay_s and len(self._queue) < self.commit_delay_below and not self._closing:
                await asyncio.sleep(self.commit_delay_s)
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                t0 = time.perf_counter()
                results = await self._run_isolating(batch)
                elapsed = time.perf_counter() - t0
                if self.on_commit is not None:
                    self.on_commit(len(batch), elapsed)
                for op, res in zip(batch, results):
                    self.inflight -= 1
                    if op.future.done():
                        continue
                    if isinstance(res, BaseException):
                        op.future.set_exception(res)
                    else:
                        op.future.set_result(res)

    async def _run_isolating(self, batch: list[WriteOp]) -> list:
        """Run ``batch``; when one of its rows makes the database refuse the transaction, bisect
        so that row fails alone (``rejected``) and the rest commit.  A database failure (I/O,
        connection lost) fails the whole batch with StoreUnavailable: resending may succeed."""
        try:
            return await self._run_batch(batch)
        except Exception as exc:
            if not self._is_row_error(exc):
                log.error("commit failed", exc_info=exc,
                          extra={"ops": len(batch), "error": type(exc).__name__})
                await self._after_failure()
                return [StoreUnavailable(f"commit failed: {type(exc).__name__}")] * len(batch)
            if len(batch) == 1:
                op = batch[0]
                log.error("operation rejected by the database", exc_info=exc,
                          extra={"op": op.name, "user": op.args[0], "error": type(exc).__name__})
                return [StoreError("rejected", f"the database refused this {op.name} ({type(exc).__name__}); "
                                               "resending it unchanged fails again")]
        mid = len(batch) // 2   # halves in order: a sender's messages keep their order
        return await self._run_isolating(batch[:mid]) + await self._run_isolating(batch[mid:])

    @staticmethod
    def _is_row_error(exc: BaseException) -> bool:
        """True when ``exc`` comes from the values of an operation rather than from the database
        being unavailable (backends add their driver's data and integrity errors)."""
        return isinstance(exc, (ValueError, TypeError, OverflowError))

    async def _after_failure(self) -> None:
        """Hook: e.g. reconnect after a failed batch."""

    @abstractmethod
    async def _run_batch(self, batch: list[WriteOp]) -> list: ...


def now_ms() -> int:
    return int(time.time() * 1000)


def open_store(url: str, max_batch: int = 1024, commit_delay_s: float = 0.0) -> Store:
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteStore
        store = SQLiteStore(url[len("sqlite:///"):], max_batch=max_batch)
    elif url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore
        store = PostgresStore(url, max_batch=max_batch)
    else:
        raise ValueError(f"unsupported database_url {url.split('://')[0]}://")
    store.commit_delay_s = commit_delay_s
    return store


def open_stores(urls: list[str], replicas: dict[int, list[str]], max_batch: int = 1024,
                commit_delay_s: float = 0.0) -> Store:
    """The configured storage: one database, or conversations sharded over several PostgreSQL primaries (one shard
    with read replicas is sharded too: the replica routing lives in ShardedStore)."""
    if len(urls) == 1 and not replicas:
        return open_store(urls[0], max_batch=max_batch, commit_delay_s=commit_delay_s)
    from .sharded import open_sharded
    return open_sharded(urls, replicas, max_batch=max_batch, commit_delay_s=commit_delay_s)
