"""SQLite backend (embedded default): WAL, synchronous=FULL, one writer thread, one reader thread.

Each group-commit batch is one ``BEGIN IMMEDIATE ... COMMIT`` on the writer connection (one
fsync of the WAL per batch); the statements run on the loop thread, the COMMIT on a thread.  Reads run on a second
thread with its own connection; WAL lets them proceed while a batch commits.
"""
from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .base import (CONTACTS_SQL, HISTORY_COLUMNS, SCHEMA_VERSION, DeleteConversationResult, DeleteMessageResult,
                   EraseResult, GroupCommitStore, GroupResult, ReceiptResult, SendResult, StoreError, WriteOp,
                   blocked_add, blocked_send, check_amendable, check_group, check_remove, check_role_change,
                   history_row, inbox_row, migration_steps, now_ms, receipt_plan, require_role, send_target)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS conversations(
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
        public INTEGER NOT NULL DEFAULT 0, created_by TEXT NOT NULL, created_ts INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0, member_count INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS members(
        conv TEXT NOT NULL, user_id TEXT NOT NULL, joined_ts INTEGER NOT NULL,
        delivered_seq INTEGER NOT NULL DEFAULT 0, read_seq INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY(conv, user_id)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS members_by_user ON members(user_id, conv)",
    """CREATE TABLE IF NOT EXISTS messages(
        conv TEXT NOT NULL, seq INTEGER NOT NULL, sender TEXT NOT NULL, client_msg_id TEXT NOT NULL,
        body TEXT NOT NULL, media TEXT, ts INTEGER NOT NULL,
        PRIMARY KEY(conv, seq), UNIQUE(sender, client_msg_id))""",
    "CREATE INDEX IF NOT EXISTS messages_by_ts ON messages(ts)",
    "CREATE INDEX IF NOT EXISTS messages_by_media ON messages(media) WHERE media IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
]
# Applied in order after SCHEMA (the version-1 baseline), each once: existing databases keep their rows.
MIGRATIONS = {
    2: ["ALTER TABLE messages ADD COLUMN deleted_ts INTEGER",
        "CREATE TABLE IF NOT EXISTS bans(user_id TEXT PRIMARY KEY, banned_ts INTEGER NOT NULL) WITHOUT ROWID"],
    3: ["ALTER TABLE messages ADD COLUMN event TEXT",          # 'edit' | 'recall' | NULL (a message)
        "ALTER TABLE messages ADD COLUMN target_seq INTEGER",  # the seq an event amends
        "ALTER TABLE messages ADD COLUMN edited_ts INTEGER",
        "ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member'",
        # Before roles every member could add members: existing groups keep that (their members become admins),
        # with the creator, or else the earliest member, as owner.
        "UPDATE members SET role='admin' WHERE conv LIKE 'g:%'",
        "UPDATE members SET role='owner' WHERE conv LIKE 'g:%'"
        " AND user_id=(SELECT created_by FROM conversations c WHERE c.id=members.conv)",
        "UPDATE members SET role='owner' WHERE conv LIKE 'g:%'"
        " AND NOT EXISTS(SELECT 1 FROM members o WHERE o.conv=members.conv AND o.role='owner')"
        " AND user_id=(SELECT o.user_id FROM members o WHERE o.conv=members.conv ORDER BY o.joined_ts, o.user_id"
        " LIMIT 1)",
        """CREATE TABLE IF NOT EXISTS blocks(user_id TEXT NOT NULL, blocked TEXT NOT NULL,
            blocked_ts INTEGER NOT NULL, PRIMARY KEY(user_id, blocked)) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS blocks_by_blocked ON blocks(blocked)",
        """CREATE TABLE IF NOT EXISTS device_markers(user_id TEXT NOT NULL, device_id TEXT NOT NULL,
            conv TEXT NOT NULL, delivered_seq INTEGER NOT NULL DEFAULT 0, read_seq INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY(user_id, device_id, conv)) WITHOUT ROWID""",
        "CREATE INDEX IF NOT EXISTS device_markers_by_conv ON device_markers(conv, user_id)"],
}


def _connect(path: str) -> sqlite3.Connection:
    # check_same_thread=False: the writer connection runs statements on the loop thread and
    # COMMIT on the writer thread, never at the same time (the write loop awaits each batch).
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class SQLiteStore(GroupCommitStore):
    def __init__(self, path: str, max_batch: int = 1024):
        super().__init__(max_batch=max_batch)
        self.path = path
        self._wexec = ThreadPoolExecutor(1, thread_name_prefix="imserver-sqlite-w")
        self._rexec = ThreadPoolExecutor(1, thread_name_prefix="imserver-sqlite-r")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        # SQLite has exactly one writer (this process), so these caches are authoritative; they
        # are dropped whenever a batch fails.  last_seq changes are written back once per
        # conversation per batch, inside the same transaction as the messages.
        self._last_seq: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._members_cache: dict[str, frozenset] = {}
        # Users who blocked anyone: a superset (added on block, even if that batch rolls back; never removed), so
        # the common send, from someone nobody blocked, skips the lookup (it cost ~8% CPU per message otherwise).
        self._blockers: set[str] = set()

    # ---- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()

        def wopen():
            self._wconn = _connect(self.path)

        def ropen():
            self._rconn = _connect(self.path)
            self._rconn.execute("PRAGMA query_only=1")

        await loop.run_in_executor(self._wexec, wopen)
        await self.migrate()
        self._blockers = {r[0] for r in self._wconn.execute("SELECT DISTINCT user_id FROM blocks")}
        await loop.run_in_executor(self._rexec, ropen)

    async def migrate(self) -> None:
        def run():
            c = self._wconn
            c.execute("BEGIN IMMEDIATE")
            for stmt in SCHEMA:
                c.execute(stmt)
            row = c.execute("SELECT max(version) FROM schema_version").fetchone()
            before = row[0] or 0
            if row[0] is None:
                c.execute("INSERT INTO schema_version(version) VALUES (1)")
            for version in migration_steps(max(before, 1)):
                for stmt in MIGRATIONS[version]:
                    c.execute(stmt)
                c.execute("UPDATE schema_version SET version=?", (version,))
            c.execute("COMMIT")
            return before

        before = await asyncio.get_running_loop().run_in_executor(self._wexec, run)
        self.schema_change = (before, max(before, SCHEMA_VERSION))

    async def _close_backend(self) -> None:
        loop = asyncio.get_running_loop()

        def wclose():
            if self._wconn is not None:
                self._wconn.close()

        def rclose():
            if self._rconn is not None:
                self._rconn.close()

        await loop.run_in_executor(self._wexec, wclose)
        await loop.run_in_executor(self._rexec, rclose)
        self._wexec.shutdown(wait=True)
        self._rexec.shutdown(wait=True)

    # ---- group commit --------------------------------------------------------------------
    async def _run_batch(self, batch: list[WriteOp]) -> list:
        """Statements run on the event-loop thread (microseconds each); only COMMIT (the fsync)
        runs on the writer thread.  Running the statements on a second thread made every
        sqlite3 call hand the GIL back and forth with the busy loop thread (a convoy that
        stretched batches to tens of milliseconds)."""
        c = self._wconn
        ts = now_ms()
        results: list = []
        c.execute("BEGIN IMMEDIATE")
        try:
            for op in batch:
                # Every _op_* raises StoreError before its first write, so a refused operation
                # leaves nothing behind and needs no savepoint.
                try:
                    results.append(getattr(self, "_op_" + op.name)(c, ts, *op.args))
                except StoreError as exc:
                    results.append(exc)
            if self._dirty:
                c.executemany("UPDATE conversations SET last_seq=? WHERE id=?",
                              [(self._last_seq[conv], conv) for conv in self._dirty])
                self._dirty.clear()
        except BaseException:
            self._forget()
            c.execute("ROLLBACK")
            raise
        try:
            await asyncio.get_running_loop().run_in_executor(self._wexec, c.execute, "COMMIT")
        except BaseException:
            self._forget()
            if c.in_transaction:
                await asyncio.get_running_loop().run_in_executor(self._wexec, c.execute, "ROLLBACK")
            raise
        return results

    @staticmethod
    def _is_row_error(exc: BaseException) -> bool:
        return isinstance(exc, (ValueError, TypeError, OverflowError, sqlite3.DataError, sqlite3.IntegrityError,
                                sqlite3.InterfaceError))

    def _forget(self) -> None:
        self._last_seq.clear()
        self._dirty.clear()
        self._members_cache.clear()

    def _next_seq(self, c, conv) -> int | None:
        last = self._last_seq.get(conv)
        if last is None:
            row = c.execute("SELECT last_seq FROM conversations WHERE id=?", (conv,)).fetchone()
            if row is None:
                return None
            last = row[0]
        self._last_seq[conv] = last + 1
        self._dirty.add(conv)
        return last + 1

    def _member_set(self, c, conv) -> frozenset:
        members = self._members_cache.get(conv)
        if members is None:
            members = self._members_cache[conv] = frozenset(self._members(c, conv))
        return members

    # ---- write operations (run on the writer thread inside the batch transaction) ---------
    @staticmethod
    def _members(c, conv) -> tuple:
        return tuple(r[0] for r in c.execute("SELECT user_id FROM members WHERE conv=?", (conv,)))

    @staticmethod
    def _duplicate(c, sender, cmid) -> SendResult | None:
        """The stored row of (sender, client_msg_id), as a duplicate result (a resent send, edit or recall)."""
        row = c.execute("SELECT conv, seq, ts, body, media, event, target_seq FROM messages"
                        " WHERE sender=? AND client_msg_id=?", (sender, cmid)).fetchone()
        if row is None:
            return None
        return SendResult(row[0], row[1], row[2], sender, cmid, row[3], row[4], (), True, row[5], row[6])

    @staticmethod
    def _blocked(c, user, by) -> bool:
        """True when ``by`` blocked ``user``."""
        return c.execute("SELECT 1 FROM blocks WHERE user_id=? AND blocked=?", (by, user)).fetchone() is not None

    def _blocked_w(self, c, user, by) -> bool:
        """``_blocked`` on the writer, skipping users known to block nobody."""
        return by in self._blockers and self._blocked(c, user, by)

    def _op_send(self, c, ts, sender, cmid, conv, to, body, media):
        dup = self._duplicate(c, sender, cmid)
        if dup is not None:
            return dup
        conv, pair = send_target(sender, conv, to)
        if pair is not None:
            if self._blocked_w(c, sender, pair[0] if pair[1] == sender else pair[1]):
                raise blocked_send()
            seq = self._next_seq(c, conv)
            if seq is None:
                c.execute(
                    "INSERT INTO conversations(id, kind, created_by, created_ts, last_seq, member_count)"
                    " VALUES (?, 'direct', ?, ?, 0, 2)", (conv, sender, ts))
                c.executemany("INSERT INTO members(conv, user_id, joined_ts) VALUES (?, ?, ?)",
                              [(conv, pair[0], ts), (conv, pair[1], ts)])
                seq = self._next_seq(c, conv)
            members = pair
        else:
            members = self._member_set(c, conv)
            if sender not in members:
                raise StoreError("forbidden", "not a member of that conversation")
            seq = self._next_seq(c, conv)
        c.execute("INSERT INTO messages(conv, seq, sender, client_msg_id, body, media, ts) VALUES (?,?,?,?,?,?,?)",
                  (conv, seq, sender, cmid, body, media, ts))
        return SendResult(conv, seq, ts, sender, cmid, body, media, members, False)

    def _op_amend(self, c, ts, sender, cmid, conv, target, body, window_ms, event):
        dup = self._duplicate(c, sender, cmid)
        if dup is not None:
            return dup
        members = self._member_set(c, conv)
        if sender not in members:
            raise StoreError("forbidden", "not a member of that conversation")
        row = c.execute("SELECT sender, ts, event, deleted_ts FROM messages WHERE conv=? AND seq=?",
                        (conv, target)).fetchone()
        check_amendable(row, sender, ts, window_ms)
        if event == "edit":
            if conv.startswith("d:") and self._blocked_w(c, sender, next(m for m in members if m != sender)):
                raise blocked_send()
            c.execute("UPDATE messages SET body=?, edited_ts=? WHERE conv=? AND seq=?", (body, ts, conv, target))
        else:
            self._tombstone(c, ts, conv, target)
        seq = self._next_seq(c, conv)
        c.execute("INSERT INTO messages(conv, seq, sender, client_msg_id, body, media, ts, event, target_seq)"
                  " VALUES (?,?,?,?,?,NULL,?,?,?)", (conv, seq, sender, cmid, body, ts, event, target))
        return SendResult(conv, seq, ts, sender, cmid, body, None, tuple(members), False, event, target)

    @staticmethod
    def _tombstone(c, ts, conv, seq) -> None:
        """A message and the edit events that carry its text become tombstones (recall, admin delete)."""
        c.execute("UPDATE messages SET body='', media=NULL, deleted_ts=coalesce(deleted_ts, ?)"
                  " WHERE conv=? AND (seq=? OR (event='edit' AND target_seq=?))", (ts, conv, seq, seq))

    @staticmethod
    def _role(c, conv, user):
        row = c.execute("SELECT role FROM members WHERE conv=? AND user_id=?", (conv, user)).fetchone()
        return None if row is None else row[0]

    def _group(self, c, conv):
        row = c.execute("SELECT kind, name, public, member_count FROM conversations WHERE id=?", (conv,)).fetchone()
        return check_group(row)

    def _is_member(self, c, conv, user) -> bool:
        return c.execute("SELECT 1 FROM members WHERE conv=? AND user_id=?", (conv, user)).fetchone() is not None

    def _add_member(self, c, ts, conv, user, count, max_members) -> bool:
        if self._is_member(c, conv, user):
            return False
        if count + 1 > max_members:
            raise StoreError("group_full", f"group is limited to {max_members} members")
        last = self._last_seq.get(conv)
        if last is None:
            last = c.execute("SELECT last_seq FROM conversations WHERE id=?", (conv,)).fetchone()[0]
        # A newcomer starts unread-free at the current position but may sync earlier history.
        c.execute("INSERT INTO members(conv, user_id, joined_ts, delivered_seq, read_seq) VALUES (?,?,?,?,?)",
                  (conv, user, ts, last, last))
        c.execute("UPDATE conversations SET member_count=member_count+1 WHERE id=?", (conv,))
        self._members_cache.pop(conv, None)
        return True

    def _op_group_create(self, c, ts, user, conv, name, members, public, max_members):
        everyone = tuple(dict.fromkeys((user,) + tuple(members)))
        if len(everyone) > max_members:
            raise StoreError("group_full", f"group is limited to {max_members} members")
        for u in everyone[1:]:
            if self._blocked_w(c, user, u):
                raise blocked_add(u)
        c.execute("INSERT INTO conversations(id, kind, name, public, created_by, created_ts, member_count)"
                  " VALUES (?, 'group', ?, ?, ?, ?, ?)", (conv, name, int(public), user, ts, len(everyone)))
        c.executemany("INSERT INTO members(conv, user_id, joined_ts, role) VALUES (?,?,?,?)",
                      [(conv, u, ts, "owner" if u == user else "member") for u in everyone])
        return GroupResult(conv, name, everyone, everyone)

    def _op_group_join(self, c, ts, user, conv, max_members):
        kind, name, public, count = self._group(c, conv)
        if not public and not self._is_member(c, conv, user):
            raise StoreError("forbidden", "group is not public; ask a member to add you")
        added = self._add_member(c, ts, conv, user, count, max_members)
        return GroupResult(conv, name, self._members(c, conv), (user,) if added else ())

    def _op_group_add(self, c, ts, user, conv, new_user, max_members):
        kind, name, public, count = self._group(c, conv)
        require_role(self._role(c, conv, user), ("owner", "admin"), "add members")
        if self._blocked_w(c, user, new_user):
            raise blocked_add(new_user)
        added = self._add_member(c, ts, conv, new_user, count, max_members)
        return GroupResult(conv, name, self._members(c, conv), (new_user,) if added else ())

    def _op_group_leave(self, c, ts, user, conv):
        kind, name, public, count = self._group(c, conv)
        if not self._is_member(c, conv, user):
            raise StoreError("forbidden", "not a member of that conversation")
        self._remove_member(c, conv, user)
        return GroupResult(conv, name, self._members(c, conv), (user,))

    def _op_group_remove(self, c, ts, user, conv, target):
        kind, name, public, count = self._group(c, conv)
        check_remove(self._role(c, conv, user), self._role(c, conv, target))
        self._remove_member(c, conv, target)
        return GroupResult(conv, name, self._members(c, conv), (target,))

    def _op_group_role(self, c, ts, user, conv, target, role):
        kind, name, public, count = self._group(c, conv)
        old = self._role(c, conv, target)
        check_role_change(user, self._role(c, conv, user), target, old)
        if role == "owner":
            c.execute("UPDATE members SET role='admin' WHERE conv=? AND user_id=?", (conv, user))
        c.execute("UPDATE members SET role=? WHERE conv=? AND user_id=?", (role, conv, target))
        return GroupResult(conv, name, self._members(c, conv), (target,) if old != role else ())

    def _remove_member(self, c, conv, user) -> None:
        """A member leaves a group with its markers; when it was the owner, the earliest admin (else the earliest
        member) becomes the owner."""
        c.execute("DELETE FROM members WHERE conv=? AND user_id=?", (conv, user))
        c.execute("DELETE FROM device_markers WHERE conv=? AND user_id=?", (conv, user))
        c.execute("UPDATE conversations SET member_count=member_count-1 WHERE id=?", (conv,))
        self._members_cache.pop(conv, None)
        if c.execute("SELECT 1 FROM members WHERE conv=? AND role='owner'", (conv,)).fetchone() is None:
            c.execute("UPDATE members SET role='owner' WHERE conv=? AND user_id=(SELECT user_id FROM members"
                      " WHERE conv=? ORDER BY role<>'admin', joined_ts, user_id LIMIT 1)", (conv, conv))

    def _op_receipt(self, c, ts, user, conv, kind, seq, device):
        row = c.execute("SELECT c.last_seq, m.read_seq, m.delivered_seq FROM members m"
                        " JOIN conversations c ON c.id=m.conv WHERE m.conv=? AND m.user_id=?", (conv, user)).fetchone()
        if row is None:
            raise StoreError("forbidden", "not a member of that conversation")
        seq = min(seq, self._last_seq.get(conv, row[0]))
        dev = None
        if device:
            dev = c.execute("SELECT read_seq, delivered_seq FROM device_markers WHERE user_id=? AND device_id=?"
                            " AND conv=?", (user, device, conv)).fetchone() or (0, 0)
        store_device, moved = receipt_plan(kind, seq, (row[1], row[2]), dev)
        if store_device:
            read = seq if kind == "read" else dev[0]
            c.execute("INSERT INTO device_markers(user_id, device_id, conv, delivered_seq, read_seq)"
                      " VALUES (?,?,?,?,?) ON CONFLICT(user_id, device_id, conv) DO UPDATE SET"
                      " delivered_seq=max(delivered_seq, excluded.delivered_seq),"
                      " read_seq=max(read_seq, excluded.read_seq)", (user, device, conv, max(seq, dev[1]), read))
        if not moved:
            return ReceiptResult(conv, user, kind, seq, (), moved=False)
        if kind == "read":
            c.execute("UPDATE members SET read_seq=max(read_seq, ?), delivered_seq=max(delivered_seq, ?)"
                      " WHERE conv=? AND user_id=?", (seq, seq, conv, user))
        else:
            c.execute("UPDATE members SET delivered_seq=max(delivered_seq, ?) WHERE conv=? AND user_id=?",
                      (seq, conv, user))
        return ReceiptResult(conv, user, kind, seq, self._members(c, conv))

    def _op_purge(self, c, ts, before_ts):
        return c.execute("DELETE FROM messages WHERE ts < ?", (before_ts,)).rowcount

    # ---- admin operations (each raises StoreError before its first write) -----------------
    def _drop_conv(self, c, conv) -> tuple:
        """Delete a conversation with its messages and memberships; the media keys nothing else carries."""
        keys = [r[0] for r in c.execute("SELECT DISTINCT media FROM messages WHERE conv=? AND media IS NOT NULL",
                                        (conv,))]
        c.execute("DELETE FROM messages WHERE conv=?", (conv,))
        c.execute("DELETE FROM members WHERE conv=?", (conv,))
        c.execute("DELETE FROM device_markers WHERE conv=?", (conv,))
        c.execute("DELETE FROM conversations WHERE id=?", (conv,))
        self._last_seq.pop(conv, None)
        self._dirty.discard(conv)
        self._members_cache.pop(conv, None)
        return tuple(k for k in keys if c.execute("SELECT 1 FROM messages WHERE media=? LIMIT 1", (k,)).fetchone()
                     is None)

    def _op_erase_user(self, c, ts, user):
        convs = c.execute("SELECT c.id, c.kind FROM members m JOIN conversations c ON c.id=m.conv"
                          " WHERE m.user_id=?", (user,)).fetchall()
        sent = c.execute("SELECT conv, seq FROM messages WHERE sender=? ORDER BY conv, seq", (user,)).fetchall()
        blocks = c.execute("DELETE FROM blocks WHERE user_id=? OR blocked=?", (user, user)).rowcount
        if not convs and not sent and not blocks:
            raise StoreError("not_found", "no data is stored for that user")
        deleted, left, tombstones = {}, {}, {}
        for conv, kind in convs:
            if kind == "direct":
                deleted[conv] = self._members(c, conv)
                self._drop_conv(c, conv)
            else:
                self._remove_member(c, conv, user)
                left[conv] = self._members(c, conv)
        for conv, seq in sent:
            if conv not in deleted:
                tombstones.setdefault(conv, []).append(seq)
        # Tombstones keep conv, seq and ts; the sender and its client_msg_id go (conv:seq keeps the pair unique).
        c.execute("UPDATE messages SET body='', media=NULL, sender='', client_msg_id=conv || ':' || seq,"
                  " deleted_ts=coalesce(deleted_ts, ?) WHERE sender=?", (ts, user))
        c.execute("UPDATE conversations SET created_by='' WHERE created_by=?", (user,))
        c.execute("DELETE FROM device_markers WHERE user_id=?", (user,))
        return EraseResult(user, {conv: (tuple(seqs), left.get(conv) or self._members(c, conv))
                                  for conv, seqs in tombstones.items()}, deleted, left)

    def _op_delete_message(self, c, ts, conv, seq):
        row = c.execute("SELECT media, deleted_ts FROM messages WHERE conv=? AND seq=?", (conv, seq)).fetchone()
        if row is None:
            raise StoreError("not_found", "no message with that seq in that conversation")
        members = self._members(c, conv)
        if row[1] is not None:
            return DeleteMessageResult(conv, seq, members, changed=False)
        self._tombstone(c, ts, conv, seq)
        orphan = row[0] is not None and c.execute("SELECT 1 FROM messages WHERE media=? LIMIT 1",
                                                  (row[0],)).fetchone() is None
        return DeleteMessageResult(conv, seq, members, (row[0],) if orphan else ())

    def _op_delete_conversation(self, c, ts, conv):
        if c.execute("SELECT 1 FROM conversations WHERE id=?", (conv,)).fetchone() is None:
            raise StoreError("not_found", "no such conversation")
        members = self._members(c, conv)
        n = c.execute("SELECT count(*) FROM messages WHERE conv=?", (conv,)).fetchone()[0]
        return DeleteConversationResult(conv, members, n, self._drop_conv(c, conv))

    def _op_ban(self, c, ts, user):
        return c.execute("INSERT OR IGNORE INTO bans(user_id, banned_ts) VALUES (?, ?)", (user, ts)).rowcount == 1

    def _op_block(self, c, ts, user, target):
        if target == user:
            raise StoreError("bad_frame", "you cannot block yourself")
        self._blockers.add(user)
        return c.execute("INSERT OR IGNORE INTO blocks(user_id, blocked, blocked_ts) VALUES (?, ?, ?)",
                         (user, target, ts)).rowcount == 1

    def _op_unblock(self, c, ts, user, target):
        if c.execute("DELETE FROM blocks WHERE user_id=? AND blocked=?", (user, target)).rowcount == 0:
            raise StoreError("not_found", "that user is not blocked")
        return True

    def _op_unban(self, c, ts, user):
        if c.execute("SELECT 1 FROM bans WHERE user_id=?", (user,)).fetchone() is None:
            raise StoreError("not_found", "that user is not banned")
        c.execute("DELETE FROM bans WHERE user_id=?", (user,))
        return True

    # ---- reads (reader thread) -----------------------------------------------------------
    async def _read(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._rexec, fn, self._rconn, *args)

    async def history(self, user, conv, after_seq, limit):
        def run(c, user, conv, after_seq, limit):
            row = c.execute("SELECT c.last_seq FROM members m JOIN conversations c ON c.id=m.conv"
                            " WHERE m.conv=? AND m.user_id=?", (conv, user)).fetchone()
            if row is None:
                raise StoreError("forbidden", "not a member of that conversation")
            rows = c.execute(f"SELECT {HISTORY_COLUMNS} FROM messages"
                             " WHERE conv=? AND seq>? ORDER BY seq LIMIT ?", (conv, after_seq, limit)).fetchall()
            return [history_row(conv, *r) for r in rows], row[0]

        return await self._read(run, user, conv, after_seq, limit)

    async def inbox(self, user, device=""):
        def run(c, user, device):
            rows = c.execute(
                "SELECT c.id, c.kind, c.name, c.last_seq, m.read_seq, m.delivered_seq,"
                " (SELECT count(*) FROM messages g WHERE g.conv=m.conv AND g.seq>m.read_seq AND g.sender<>m.user_id"
                " AND g.deleted_ts IS NULL AND g.event IS NULL), coalesce(d.read_seq, 0), coalesce(d.delivered_seq, 0)"
                " FROM members m JOIN conversations c ON c.id=m.conv LEFT JOIN device_markers d"
                " ON d.user_id=m.user_id AND d.device_id=? AND d.conv=m.conv WHERE m.user_id=? ORDER BY c.id",
                (device, user)).fetchall()
            return [inbox_row(device, *r) for r in rows]

        return await self._read(run, user, device)

    async def member_roles(self, user, conv):
        def run(c, user, conv):
            roles = dict(c.execute("SELECT user_id, role FROM members WHERE conv=? ORDER BY user_id", (conv,)))
            if user not in roles:
                raise StoreError("forbidden", "not a member of that conversation")
            return roles

        return await self._read(run, user, conv)

    async def device_cursor(self, user, device, conv):
        def run(c, user, device, conv):
            row = c.execute("SELECT delivered_seq FROM device_markers WHERE user_id=? AND device_id=? AND conv=?",
                            (user, device, conv)).fetchone()
            return 0 if row is None else row[0]

        return await self._read(run, user, device, conv)

    async def blocks(self, user):
        def run(c, user):
            return [r[0] for r in c.execute("SELECT blocked FROM blocks WHERE user_id=? ORDER BY blocked", (user,))]

        return await self._read(run, user)

    async def can_read_media(self, user, key):
        def run(c, user, key):
            return c.execute("SELECT 1 FROM messages g JOIN members m ON m.conv=g.conv"
                             " WHERE g.media=? AND m.user_id=? LIMIT 1", (key, user)).fetchone() is not None

        return await self._read(run, user, key)

    async def contacts(self, user):
        def run(c, user):
            return [r[0] for r in c.execute(CONTACTS_SQL, {"u": user})]

        return await self._read(run, user)

    async def is_blocked(self, user, by):
        return await self._read(self._blocked, user, by)

    async def is_banned(self, user):
        def run(c, user):
            return c.execute("SELECT 1 FROM bans WHERE user_id=?", (user,)).fetchone() is not None

        return await self._read(run, user)

    async def user_known(self, user):
        def run(c, user):
            return c.execute("SELECT EXISTS(SELECT 1 FROM members WHERE user_id=?) OR EXISTS(SELECT 1 FROM bans"
                             " WHERE user_id=?) OR EXISTS(SELECT 1 FROM messages WHERE sender=?)"
                             " OR EXISTS(SELECT 1 FROM blocks WHERE user_id=?)",
                             (user, user, user, user)).fetchone()[0] == 1

        return await self._read(run, user)

    async def ping(self) -> bool:
        def run(c):
            return c.execute("SELECT 1").fetchone()[0] == 1

        try:
            return await self._read(run)
        except Exception:
            return False
