"""PostgreSQL backend (asyncpg): one writer connection for group commit, a small read pool.

synchronous_commit is forced on for the writer session, so a commit returns only after the WAL
is flushed.  ``seq`` comes from ``UPDATE conversations SET last_seq = last_seq + 1 ... RETURNING``
inside the batch transaction: the row lock serializes concurrent nodes on the same conversation
and a rolled-back transaction also rolls back the counter, so seqs stay gapless.
"""
from __future__ import annotations

import asyncio

import asyncpg

from .base import (CONTACTS_SQL, HISTORY_COLUMNS, SCHEMA_VERSION, DeleteConversationResult, DeleteMessageResult,
                   EraseResult, GroupCommitStore, GroupResult, ReceiptResult, SendResult, StoreError, WriteOp,
                   blocked_add, blocked_send, check_amendable, check_group, check_remove, check_role_change,
                   history_row, inbox_row, migration_steps, now_ms, receipt_plan, require_role, send_target)

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations(
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
    public BOOLEAN NOT NULL DEFAULT FALSE, created_by TEXT NOT NULL, created_ts BIGINT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0, member_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS members(
    conv TEXT NOT NULL, user_id TEXT NOT NULL, joined_ts BIGINT NOT NULL,
    delivered_seq BIGINT NOT NULL DEFAULT 0, read_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY(conv, user_id));
CREATE INDEX IF NOT EXISTS members_by_user ON members(user_id, conv);
CREATE TABLE IF NOT EXISTS messages(
    conv TEXT NOT NULL, seq BIGINT NOT NULL, sender TEXT NOT NULL, client_msg_id TEXT NOT NULL,
    body TEXT NOT NULL, media TEXT, ts BIGINT NOT NULL,
    PRIMARY KEY(conv, seq), UNIQUE(sender, client_msg_id));
CREATE INDEX IF NOT EXISTS messages_by_ts ON messages(ts);
CREATE INDEX IF NOT EXISTS messages_by_media ON messages(media) WHERE media IS NOT NULL;
CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);
"""
# Applied in order after SCHEMA (the version-1 baseline), each once: existing databases keep their rows.
MIGRATIONS = {
    2: """ALTER TABLE messages ADD COLUMN IF NOT EXISTS deleted_ts BIGINT;
          CREATE TABLE IF NOT EXISTS bans(user_id TEXT PRIMARY KEY, banned_ts BIGINT NOT NULL);""",
    # messages.event: 'edit' | 'recall' | NULL (a message); target_seq: the seq an event amends.  Before roles every
    # member could add members: existing groups keep that (their members become admins), with the creator, or else
    # the earliest member, as owner.
    3: """ALTER TABLE messages ADD COLUMN IF NOT EXISTS event TEXT;
          ALTER TABLE messages ADD COLUMN IF NOT EXISTS target_seq BIGINT;
          ALTER TABLE messages ADD COLUMN IF NOT EXISTS edited_ts BIGINT;
          ALTER TABLE members ADD COLUMN IF NOT EXISTS role TEXT NOT NULL DEFAULT 'member';
          UPDATE members SET role='admin' WHERE conv LIKE 'g:%';
          UPDATE members m SET role='owner' FROM conversations c WHERE c.id=m.conv AND c.kind='group'
            AND c.created_by=m.user_id;
          UPDATE members m SET role='owner' FROM (SELECT DISTINCT ON (conv) conv, user_id FROM members
            WHERE conv LIKE 'g:%' ORDER BY conv, joined_ts, user_id) f
            WHERE m.conv=f.conv AND m.user_id=f.user_id
            AND NOT EXISTS(SELECT 1 FROM members o WHERE o.conv=m.conv AND o.role='owner');
          CREATE TABLE IF NOT EXISTS blocks(user_id TEXT NOT NULL, blocked TEXT NOT NULL, blocked_ts BIGINT NOT NULL,
            PRIMARY KEY(user_id, blocked));
          CREATE INDEX IF NOT EXISTS blocks_by_blocked ON blocks(blocked);
          CREATE TABLE IF NOT EXISTS device_markers(user_id TEXT NOT NULL, device_id TEXT NOT NULL, conv TEXT NOT NULL,
            delivered_seq BIGINT NOT NULL DEFAULT 0, read_seq BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY(user_id, device_id, conv));
          CREATE INDEX IF NOT EXISTS device_markers_by_conv ON device_markers(conv, user_id);""",
}


def _peer(pair: tuple, user: str) -> str:
    return pair[0] if pair[1] == user else pair[1]


# A WAL position as a number (bytes since 0/0), comparable between a primary and its replicas.
_LSN_SQL = "SELECT pg_wal_lsn_diff({}, '0/0')::bigint"
COMMIT_LSN_SQL = _LSN_SQL.format("pg_current_wal_lsn()")
REPLAY_LSN_SQL = _LSN_SQL.format("pg_last_wal_replay_lsn()")


_CONTACTS_SQL = CONTACTS_SQL.replace(":u", "$1")   # one positional parameter, used three times

class PostgresStore(GroupCommitStore):
    def __init__(self, dsn: str, max_batch: int = 1024, track_lsn: bool = False):
        super().__init__(max_batch=max_batch)
        self.dsn = dsn
        self._wconn: asyncpg.Connection | None = None
        self._pool: asyncpg.Pool | None = None
        # With read replicas: the WAL position after the last commit, read before that commit's futures resolve
        # (so a write is never recorded behind its commit; see replicas.py).
        self.track_lsn = track_lsn
        self.commit_lsn = 0

    async def _connect_writer(self) -> None:
        self._wconn = await asyncpg.connect(self.dsn, timeout=10,
                                            server_settings={"synchronous_commit": "on",
                                                             "application_name": "imserver-writer"})

    async def open(self) -> None:
        await self._connect_writer()
        await self.migrate()
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4, timeout=10,
                                               server_settings={"application_name": "imserver-reader"})

    async def open_replica(self) -> None:
        """Only a read pool, connecting on first use (a read replica: no writer, no migration, may be down)."""
        self._pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=4, timeout=2,
                                               server_settings={"application_name": "imserver-replica-reader"})

    async def replay_lsn(self) -> int | None:
        """How far this replica has replayed its primary's WAL (None on a primary)."""
        async with self._pool.acquire(timeout=2) as c:
            return await c.fetchval(REPLAY_LSN_SQL)

    async def migrate(self) -> None:
        async with self._wconn.transaction():
            await self._wconn.execute("SELECT pg_advisory_xact_lock(727274)")   # nodes may start together
            await self._wconn.execute(SCHEMA)
            before = await self._wconn.fetchval("SELECT max(version) FROM schema_version")
            if before is None:
                await self._wconn.execute("INSERT INTO schema_version(version) VALUES (1)")
            for version in migration_steps(max(before or 0, 1)):
                await self._wconn.execute(MIGRATIONS[version])
                await self._wconn.execute("UPDATE schema_version SET version=$1", version)
        self.schema_change = (before or 0, max(before or 0, SCHEMA_VERSION))

    async def _close_backend(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._wconn is not None and not self._wconn.is_closed():
            await self._wconn.close()

    @staticmethod
    def _is_row_error(exc: BaseException) -> bool:
        # asyncpg's client-side DataError (a value it cannot encode) is a ValueError; server-side
        # class 22 (data exception: NUL in text, bad encoding) and 23 (integrity) are row errors.
        return isinstance(exc, (ValueError, TypeError, OverflowError, asyncpg.DataError,
                                asyncpg.IntegrityConstraintViolationError))

    async def _after_failure(self) -> None:
        if self._wconn is None or self._wconn.is_closed():
            try:
                await self._connect_writer()
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(0.5)

    # ---- group commit --------------------------------------------------------------------
    async def _run_batch(self, batch: list[WriteOp]) -> list:
        if self._wconn is None or self._wconn.is_closed():
            await self._connect_writer()
        c = self._wconn
        ts = now_ms()
        results: list = []
        async with c.transaction():
            i = 0
            while i < len(batch):
                if batch[i].name == "send":
                    # A run of consecutive sends is stored with a fixed number of round trips
                    # (set-based SQL) instead of ~4 per message.
                    j = i
                    while j < len(batch) and batch[j].name == "send":
                        j += 1
                    results += await self._bulk_send(c, ts, [op.args for op in batch[i:j]])
                    i = j
                    continue
                # Every _op_* raises StoreError before its first write (no savepoint needed).
                try:
                    results.append(await getattr(self, "_op_" + batch[i].name)(c, ts, *batch[i].args))
                except StoreError as exc:
                    results.append(exc)
                i += 1
        if self.track_lsn:
            self.commit_lsn = await c.fetchval(COMMIT_LSN_SQL)
        return results

    async def _bulk_send(self, c, ts, ops: list[tuple]) -> list:
        """Store a run of sends: dedupe, authorize, number and insert them in 4-6 statements."""
        results: list = [None] * len(ops)
        items = []       # (index, sender, cmid, conv, body, media, pair)
        for i, (sender, cmid, conv, to, body, media) in enumerate(ops):
            try:
                conv, pair = send_target(sender, conv, to)
            except StoreError as refused:
                results[i] = refused
                continue
            items.append((i, sender, cmid, conv, body, media, pair))
        if not items:
            return results
        rows = await c.fetch(
            "SELECT m.sender, m.client_msg_id, m.conv, m.seq, m.ts, m.body, m.media, m.event, m.target_seq"
            " FROM messages m"
            " JOIN unnest($1::text[], $2::text[]) AS k(s, c) ON m.sender = k.s AND m.client_msg_id = k.c",
            [it[1] for it in items], [it[2] for it in items])
        existing = {(r[0], r[1]): r for r in rows}
        direct_pairs = [(it[1], _peer(it[6], it[1])) for it in items if it[6] is not None]
        blocked = set()
        if direct_pairs:
            blocked = {(r[0], r[1]) for r in await c.fetch(
                "SELECT b.blocked, b.user_id FROM blocks b JOIN unnest($1::text[], $2::text[]) AS k(s, p)"
                " ON b.blocked = k.s AND b.user_id = k.p", [p[0] for p in direct_pairs], [p[1] for p in direct_pairs])}
        group_convs = sorted({it[3] for it in items if it[6] is None})
        members: dict[str, list] = {}
        if group_convs:
            for conv, user in await c.fetch("SELECT conv, user_id FROM members WHERE conv = ANY($1::text[])",
                                            group_convs):
                members.setdefault(conv, []).append(user)
        fresh, first_of, repeats = [], {}, []
        for it in items:
            i, sender, cmid, conv, body, media, pair = it
            key = (sender, cmid)
            r = existing.get(key)
            if r is not None:
                results[i] = SendResult(r[2], r[3], r[4], sender, cmid, r[5], r[6], (), True, r[7], r[8])
            elif key in first_of:
                repeats.append((i, first_of[key]))
            elif pair is None and sender not in members.get(conv, ()):
                results[i] = StoreError("forbidden", "not a member of that conversation")
            elif pair is not None and (sender, _peer(pair, sender)) in blocked:
                results[i] = blocked_send()
            else:
                first_of[key] = i
                fresh.append(it)
        if fresh:
            direct = {it[3]: it for it in fresh if it[6] is not None}
            if direct:
                ids = sorted(direct)
                await c.execute(
                    "INSERT INTO conversations(id, kind, created_by, created_ts, member_count)"
                    " SELECT id, 'direct', cb, $3, 2 FROM unnest($1::text[], $2::text[]) AS t(id, cb)"
                    " ON CONFLICT DO NOTHING", ids, [direct[d][1] for d in ids], ts)
                await c.execute(
                    "INSERT INTO members(conv, user_id, joined_ts)"
                    " SELECT conv, u, $3 FROM unnest($1::text[], $2::text[]) AS t(conv, u) ON CONFLICT DO NOTHING",
                    [d for d in ids for _ in (0, 1)], [u for d in ids for u in direct[d][6]], ts)
            counts: dict[str, int] = {}
            for it in fresh:
                counts[it[3]] = counts.get(it[3], 0) + 1
            convs = sorted(counts)
            # Lock the counters in a fixed order (no deadlock between nodes), then advance each
            # by the number of messages it gets in this batch.
            await c.execute("SELECT 1 FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", convs)
            rows = await c.fetch(
                "UPDATE conversations c SET last_seq = c.last_seq + k.n FROM unnest($1::text[], $2::bigint[]) AS k(id, n)"
                " WHERE c.id = k.id RETURNING c.id, c.last_seq", convs, [counts[x] for x in convs])
            next_seq = {r[0]: r[1] - counts[r[0]] + 1 for r in rows}
            cols = ([], [], [], [], [], [])
            for it in fresh:
                i, sender, cmid, conv, body, media, pair = it
                seq = next_seq[conv]
                next_seq[conv] = seq + 1
                for col, v in zip(cols, (conv, seq, sender, cmid, body, media)):
                    col.append(v)
                results[i] = SendResult(conv, seq, ts, sender, cmid, body, media,
                                        pair if pair is not None else tuple(members[conv]), False)
            await c.execute(
                "INSERT INTO messages(conv, seq, sender, client_msg_id, body, media, ts)"
                " SELECT c, s, f, m, b, md, $7 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],"
                " $5::text[], $6::text[]) AS t(c, s, f, m, b, md)", *cols, ts)
        for i, first in repeats:
            r = results[first]
            results[i] = (SendResult(r.conv, r.seq, r.ts, r.sender, r.client_msg_id, r.body, r.media, (), True)
                          if isinstance(r, SendResult) else r)
        return results

    @staticmethod
    async def _members(c, conv) -> tuple:
        return tuple(r[0] for r in await c.fetch("SELECT user_id FROM members WHERE conv=$1", conv))

    @staticmethod
    async def _duplicate(c, sender, cmid) -> SendResult | None:
        """The stored row of (sender, client_msg_id), as a duplicate result (a resent send, edit or recall)."""
        row = await c.fetchrow("SELECT conv, seq, ts, body, media, event, target_seq FROM messages"
                               " WHERE sender=$1 AND client_msg_id=$2", sender, cmid)
        if row is None:
            return None
        return SendResult(row[0], row[1], row[2], sender, cmid, row[3], row[4], (), True, row[5], row[6])

    @staticmethod
    async def _blocked(c, user, by) -> bool:
        """True when ``by`` blocked ``user``."""
        return await c.fetchval("SELECT 1 FROM blocks WHERE user_id=$1 AND blocked=$2", by, user) is not None

    async def _op_send(self, c, ts, sender, cmid, conv, to, body, media):
        dup = await self._duplicate(c, sender, cmid)
        if dup is not None:
            return dup
        conv, pair = send_target(sender, conv, to)
        if pair is not None and await self._blocked(c, sender, _peer(pair, sender)):
            raise blocked_send()
        bump = "UPDATE conversations SET last_seq=last_seq+1 WHERE id=$1 RETURNING last_seq"
        if pair is not None:
            seq = await c.fetchval(bump, conv)
            if seq is None:
                await c.execute("INSERT INTO conversations(id, kind, created_by, created_ts, member_count)"
                                " VALUES ($1, 'direct', $2, $3, 2) ON CONFLICT DO NOTHING", conv, sender, ts)
                await c.executemany("INSERT INTO members(conv, user_id, joined_ts) VALUES ($1, $2, $3)"
                                    " ON CONFLICT DO NOTHING", [(conv, pair[0], ts), (conv, pair[1], ts)])
                seq = await c.fetchval(bump, conv)
            members = pair
        else:
            if await c.fetchval("SELECT 1 FROM members WHERE conv=$1 AND user_id=$2", conv, sender) is None:
                raise StoreError("forbidden", "not a member of that conversation")
            seq = await c.fetchval(bump, conv)
            members = await self._members(c, conv)
        await c.execute("INSERT INTO messages(conv, seq, sender, client_msg_id, body, media, ts)"
                        " VALUES ($1,$2,$3,$4,$5,$6,$7)", conv, seq, sender, cmid, body, media, ts)
        return SendResult(conv, seq, ts, sender, cmid, body, media, members, False)

    async def _op_amend(self, c, ts, sender, cmid, conv, target, body, window_ms, event):
        dup = await self._duplicate(c, sender, cmid)
        if dup is not None:
            return dup
        await self._lock_convs(c, [conv])
        members = await self._members(c, conv)
        if sender not in members:
            raise StoreError("forbidden", "not a member of that conversation")
        row = await c.fetchrow("SELECT sender, ts, event, deleted_ts FROM messages WHERE conv=$1 AND seq=$2",
                               conv, target)
        check_amendable(row, sender, ts, window_ms)
        if event == "edit":
            if conv.startswith("d:") and await self._blocked(c, sender, next(m for m in members if m != sender)):
                raise blocked_send()
            await c.execute("UPDATE messages SET body=$1, edited_ts=$2 WHERE conv=$3 AND seq=$4", body, ts, conv,
                            target)
        else:
            await self._tombstone(c, ts, conv, target)
        seq = await c.fetchval("UPDATE conversations SET last_seq=last_seq+1 WHERE id=$1 RETURNING last_seq", conv)
        await c.execute("INSERT INTO messages(conv, seq, sender, client_msg_id, body, media, ts, event, target_seq)"
                        " VALUES ($1,$2,$3,$4,$5,NULL,$6,$7,$8)", conv, seq, sender, cmid, body, ts, event, target)
        return SendResult(conv, seq, ts, sender, cmid, body, None, members, False, event, target)

    @staticmethod
    async def _tombstone(c, ts, conv, seq) -> None:
        """A message and the edit events that carry its text become tombstones (recall, admin delete)."""
        await c.execute("UPDATE messages SET body='', media=NULL, deleted_ts=coalesce(deleted_ts, $1)"
                        " WHERE conv=$2 AND (seq=$3 OR (event='edit' AND target_seq=$3))", ts, conv, seq)

    @staticmethod
    async def _role(c, conv, user):
        return await c.fetchval("SELECT role FROM members WHERE conv=$1 AND user_id=$2", conv, user)

    async def _group(self, c, conv):
        row = await c.fetchrow("SELECT kind, name, public, member_count FROM conversations WHERE id=$1 FOR UPDATE",
                               conv)
        return tuple(check_group(row))

    @staticmethod
    async def _is_member(c, conv, user) -> bool:
        return await c.fetchval("SELECT 1 FROM members WHERE conv=$1 AND user_id=$2", conv, user) is not None

    async def _add_member(self, c, ts, conv, user, count, max_members) -> bool:
        if await self._is_member(c, conv, user):
            return False
        if count + 1 > max_members:
            raise StoreError("group_full", f"group is limited to {max_members} members")
        last = await c.fetchval("SELECT last_seq FROM conversations WHERE id=$1", conv)
        await c.execute("INSERT INTO members(conv, user_id, joined_ts, delivered_seq, read_seq)"
                        " VALUES ($1,$2,$3,$4,$4)", conv, user, ts, last)
        await c.execute("UPDATE conversations SET member_count=member_count+1 WHERE id=$1", conv)
        return True

    async def _op_group_create(self, c, ts, user, conv, name, members, public, max_members):
        everyone = tuple(dict.fromkeys((user,) + tuple(members)))
        if len(everyone) > max_members:
            raise StoreError("group_full", f"group is limited to {max_members} members")
        for u in everyone[1:]:
            if await self._blocked(c, user, u):
                raise blocked_add(u)
        await c.execute("INSERT INTO conversations(id, kind, name, public, created_by, created_ts, member_count)"
                        " VALUES ($1, 'group', $2, $3, $4, $5, $6)", conv, name, public, user, ts, len(everyone))
        await c.executemany("INSERT INTO members(conv, user_id, joined_ts, role) VALUES ($1,$2,$3,$4)",
                            [(conv, u, ts, "owner" if u == user else "member") for u in everyone])
        return GroupResult(conv, name, everyone, everyone)

    async def _op_group_join(self, c, ts, user, conv, max_members):
        kind, name, public, count = await self._group(c, conv)
        if not public and not await self._is_member(c, conv, user):
            raise StoreError("forbidden", "group is not public; ask a member to add you")
        added = await self._add_member(c, ts, conv, user, count, max_members)
        return GroupResult(conv, name, await self._members(c, conv), (user,) if added else ())

    async def _op_group_add(self, c, ts, user, conv, new_user, max_members):
        kind, name, public, count = await self._group(c, conv)
        require_role(await self._role(c, conv, user), ("owner", "admin"), "add members")
        if await self._blocked(c, user, new_user):
            raise blocked_add(new_user)
        added = await self._add_member(c, ts, conv, new_user, count, max_members)
        return GroupResult(conv, name, await self._members(c, conv), (new_user,) if added else ())

    async def _op_group_leave(self, c, ts, user, conv):
        kind, name, public, count = await self._group(c, conv)
        if not await self._is_member(c, conv, user):
            raise StoreError("forbidden", "not a member of that conversation")
        await self._remove_member(c, conv, user)
        return GroupResult(conv, name, await self._members(c, conv), (user,))

    async def _op_group_remove(self, c, ts, user, conv, target):
        kind, name, public, count = await self._group(c, conv)
        check_remove(await self._role(c, conv, user), await self._role(c, conv, target))
        await self._remove_member(c, conv, target)
        return GroupResult(conv, name, await self._members(c, conv), (target,))

    async def _op_group_role(self, c, ts, user, conv, target, role):
        kind, name, public, count = await self._group(c, conv)
        old = await self._role(c, conv, target)
        check_role_change(user, await self._role(c, conv, user), target, old)
        if role == "owner":
            await c.execute("UPDATE members SET role='admin' WHERE conv=$1 AND user_id=$2", conv, user)
        await c.execute("UPDATE members SET role=$1 WHERE conv=$2 AND user_id=$3", role, conv, target)
        return GroupResult(conv, name, await self._members(c, conv), (target,) if old != role else ())

    @staticmethod
    async def _remove_member(c, conv, user) -> None:
        """A member leaves a group with its markers; when it was the owner, the earliest admin (else the earliest
        member) becomes the owner."""
        await c.execute("DELETE FROM members WHERE conv=$1 AND user_id=$2", conv, user)
        await c.execute("DELETE FROM device_markers WHERE conv=$1 AND user_id=$2", conv, user)
        await c.execute("UPDATE conversations SET member_count=member_count-1 WHERE id=$1", conv)
        if await c.fetchval("SELECT 1 FROM members WHERE conv=$1 AND role='owner'", conv) is None:
            await c.execute("UPDATE members SET role='owner' WHERE conv=$1 AND user_id=(SELECT user_id FROM members"
                            " WHERE conv=$1 ORDER BY role<>'admin', joined_ts, user_id LIMIT 1)", conv)

    async def _op_receipt(self, c, ts, user, conv, kind, seq, device):
        row = await c.fetchrow("SELECT c.last_seq, m.read_seq, m.delivered_seq FROM members m"
                               " JOIN conversations c ON c.id=m.conv WHERE m.conv=$1 AND m.user_id=$2"
                               " FOR UPDATE OF m", conv, user)
        if row is None:
            raise StoreError("forbidden", "not a member of that conversation")
        seq = min(seq, row[0])
        dev = None
        if device:
            dev = tuple(await c.fetchrow("SELECT read_seq, delivered_seq FROM device_markers WHERE user_id=$1"
                                         " AND device_id=$2 AND conv=$3", user, device, conv) or (0, 0))
        store_device, moved = receipt_plan(kind, seq, (row[1], row[2]), dev)
        if store_device:
            await c.execute("INSERT INTO device_markers(user_id, device_id, conv, delivered_seq, read_seq)"
                            " VALUES ($1,$2,$3,$4,$5) ON CONFLICT(user_id, device_id, conv) DO UPDATE SET"
                            " delivered_seq=GREATEST(device_markers.delivered_seq, excluded.delivered_seq),"
                            " read_seq=GREATEST(device_markers.read_seq, excluded.read_seq)",
                            user, device, conv, max(seq, dev[1]), seq if kind == "read" else dev[0])
        if not moved:
            return ReceiptResult(conv, user, kind, seq, (), moved=False)
        if kind == "read":
            await c.execute("UPDATE members SET read_seq=GREATEST(read_seq, $1), delivered_seq=GREATEST(delivered_seq, $1)"
                            " WHERE conv=$2 AND user_id=$3", seq, conv, user)
        else:
            await c.execute("UPDATE members SET delivered_seq=GREATEST(delivered_seq, $1) WHERE conv=$2 AND user_id=$3",
                            seq, conv, user)
        return ReceiptResult(conv, user, kind, seq, await self._members(c, conv))

    async def _op_purge(self, c, ts, before_ts):
        status = await c.execute("DELETE FROM messages WHERE ts < $1", before_ts)
        return int(status.split()[-1])

    # ---- admin operations (each raises StoreError before its first write) -----------------
    @staticmethod
    async def _lock_convs(c, convs) -> set:
        """Lock conversation rows in id order, as sends do (no deadlock with another node); the ids that exist."""
        rows = await c.fetch("SELECT id FROM conversations WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                             sorted(convs))
        return {r[0] for r in rows}

    @staticmethod
    async def _drop_conv(c, conv) -> tuple:
        """Delete a conversation with its messages and memberships; the media keys nothing else carries."""
        keys = [r[0] for r in await c.fetch("SELECT DISTINCT media FROM messages WHERE conv=$1 AND media IS NOT NULL",
                                            conv)]
        await c.execute("DELETE FROM messages WHERE conv=$1", conv)
        await c.execute("DELETE FROM members WHERE conv=$1", conv)
        await c.execute("DELETE FROM device_markers WHERE conv=$1", conv)
        await c.execute("DELETE FROM conversations WHERE id=$1", conv)
        kept = {r[0] for r in await c.fetch("SELECT DISTINCT media FROM messages WHERE media = ANY($1::text[])", keys)}
        return tuple(k for k in keys if k not in kept)

    async def _op_erase_user(self, c, ts, user):
        sent_convs = [r[0] for r in await c.fetch("SELECT DISTINCT conv FROM messages WHERE sender=$1", user)]
        member_convs = [r[0] for r in await c.fetch("SELECT conv FROM members WHERE user_id=$1", user)]
        blocks = await c.execute("DELETE FROM blocks WHERE user_id=$1 OR blocked=$1", user)
        if not sent_convs and not member_convs and blocks.endswith(" 0"):
            raise StoreError("not_found", "no data is stored for that user")
        await self._lock_convs(c, set(sent_convs) | set(member_convs))
        convs = await c.fetch("SELECT c.id, c.kind FROM members m JOIN conversations c ON c.id=m.conv"
                              " WHERE m.user_id=$1", user)
        deleted, left, tombstones = {}, {}, {}
        for conv, kind in convs:
            if kind == "direct":
                deleted[conv] = await self._members(c, conv)
                await self._drop_conv(c, conv)
            else:
                await self._remove_member(c, conv, user)
                left[conv] = await self._members(c, conv)
        # Tombstones keep conv, seq and ts; the sender and its client_msg_id go (conv:seq keeps the pair unique).
        rows = await c.fetch("UPDATE messages SET body='', media=NULL, sender='', client_msg_id=conv || ':' || seq,"
                             " deleted_ts=coalesce(deleted_ts, $2) WHERE sender=$1 RETURNING conv, seq", user, ts)
        for conv, seq in sorted((r[0], r[1]) for r in rows):
            tombstones.setdefault(conv, []).append(seq)
        await c.execute("UPDATE conversations SET created_by='' WHERE created_by=$1", user)
        await c.execute("DELETE FROM device_markers WHERE user_id=$1", user)
        return EraseResult(user, {conv: (tuple(seqs), left.get(conv) or await self._members(c, conv))
                                  for conv, seqs in tombstones.items()}, deleted, left)

    async def _op_delete_message(self, c, ts, conv, seq):
        await self._lock_convs(c, [conv])
        row = await c.fetchrow("SELECT media, deleted_ts FROM messages WHERE conv=$1 AND seq=$2", conv, seq)
        if row is None:
            raise StoreError("not_found", "no message with that seq in that conversation")
        members = await self._members(c, conv)
        if row[1] is not None:
            return DeleteMessageResult(conv, seq, members, changed=False)
        await self._tombstone(c, ts, conv, seq)
        orphan = row[0] is not None and await c.fetchval("SELECT 1 FROM messages WHERE media=$1 LIMIT 1",
                                                         row[0]) is None
        return DeleteMessageResult(conv, seq, members, (row[0],) if orphan else ())

    async def _op_delete_conversation(self, c, ts, conv):
        if not await self._lock_convs(c, [conv]):
            raise StoreError("not_found", "no such conversation")
        members = await self._members(c, conv)
        n = await c.fetchval("SELECT count(*) FROM messages WHERE conv=$1", conv)
        return DeleteConversationResult(conv, members, n, await self._drop_conv(c, conv))

    async def _op_ban(self, c, ts, user):
        status = await c.execute("INSERT INTO bans(user_id, banned_ts) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                 user, ts)
        return status.endswith(" 1")

    async def _op_block(self, c, ts, user, target):
        if target == user:
            raise StoreError("bad_frame", "you cannot block yourself")
        status = await c.execute("INSERT INTO blocks(user_id, blocked, blocked_ts) VALUES ($1, $2, $3)"
                                 " ON CONFLICT DO NOTHING", user, target, ts)
        return status.endswith(" 1")

    async def _op_unblock(self, c, ts, user, target):
        status = await c.execute("DELETE FROM blocks WHERE user_id=$1 AND blocked=$2", user, target)
        if status.endswith(" 0"):
            raise StoreError("not_found", "that user is not blocked")
        return True

    async def _op_unban(self, c, ts, user):
        status = await c.execute("DELETE FROM bans WHERE user_id=$1", user)
        if status.endswith(" 0"):
            raise StoreError("not_found", "that user is not banned")
        return True

    # ---- reads ---------------------------------------------------------------------------
    async def history(self, user, conv, after_seq, limit):
        async with self._pool.acquire() as c:
            last = await c.fetchval("SELECT c.last_seq FROM members m JOIN conversations c ON c.id=m.conv"
                                    " WHERE m.conv=$1 AND m.user_id=$2", conv, user)
            if last is None:
                raise StoreError("forbidden", "not a member of that conversation")
            rows = await c.fetch(f"SELECT {HISTORY_COLUMNS} FROM messages WHERE conv=$1 AND seq>$2 ORDER BY seq"
                                 " LIMIT $3", conv, after_seq, limit)
        return [history_row(conv, *r) for r in rows], last

    async def inbox(self, user, device=""):
        async with self._pool.acquire() as c:
            rows = await c.fetch(
                "SELECT c.id, c.kind, c.name, c.last_seq, m.read_seq, m.delivered_seq,"
                " (SELECT count(*) FROM messages g WHERE g.conv=m.conv AND g.seq>m.read_seq AND g.sender<>m.user_id"
                " AND g.deleted_ts IS NULL AND g.event IS NULL), coalesce(d.read_seq, 0), coalesce(d.delivered_seq, 0)"
                " FROM members m JOIN conversations c ON c.id=m.conv LEFT JOIN device_markers d"
                " ON d.user_id=m.user_id AND d.device_id=$2 AND d.conv=m.conv WHERE m.user_id=$1 ORDER BY c.id",
                user, device)
        return [inbox_row(device, *r) for r in rows]

    async def member_roles(self, user, conv):
        async with self._pool.acquire() as c:
            roles = {r[0]: r[1] for r in await c.fetch("SELECT user_id, role FROM members WHERE conv=$1"
                                                       " ORDER BY user_id", conv)}
        if user not in roles:
            raise StoreError("forbidden", "not a member of that conversation")
        return roles

    async def device_cursor(self, user, device, conv):
        async with self._pool.acquire() as c:
            seq = await c.fetchval("SELECT delivered_seq FROM device_markers WHERE user_id=$1 AND device_id=$2"
                                   " AND conv=$3", user, device, conv)
        return seq or 0

    async def blocks(self, user):
        async with self._pool.acquire() as c:
            return [r[0] for r in await c.fetch("SELECT blocked FROM blocks WHERE user_id=$1 ORDER BY blocked", user)]

    async def can_read_media(self, user, key):
        async with self._pool.acquire() as c:
            return await c.fetchval("SELECT 1 FROM messages g JOIN members m ON m.conv=g.conv"
                                    " WHERE g.media=$1 AND m.user_id=$2 LIMIT 1", key, user) is not None

    async def contacts(self, user):
        async with self._pool.acquire() as c:
            return [r[0] for r in await c.fetch(_CONTACTS_SQL, user)]

    async def is_blocked(self, user, by):
        async with self._pool.acquire() as c:
            return await self._blocked(c, user, by)

    async def is_banned(self, user):
        async with self._pool.acquire() as c:
            return await c.fetchval("SELECT 1 FROM bans WHERE user_id=$1", user) is not None

    async def user_known(self, user):
        async with self._pool.acquire() as c:
            return await c.fetchval("SELECT EXISTS(SELECT 1 FROM members WHERE user_id=$1) OR EXISTS(SELECT 1 FROM"
                                    " bans WHERE user_id=$1) OR EXISTS(SELECT 1 FROM messages WHERE sender=$1)"
                                    " OR EXISTS(SELECT 1 FROM blocks WHERE user_id=$1)", user)

    async def ping(self) -> bool:
        try:
            async with self._pool.acquire(timeout=2) as c:
                return await c.fetchval("SELECT 1") == 1
        except Exception:
            return False
