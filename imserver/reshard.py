"""``imserver reshard``: after the shard list changes, move each conversation to the shard the new list maps it to.

Run it with every imserver node stopped (it refuses while one is connected).  A database is identified by its URL
string: keep the old URLs verbatim in the new list and only conversations whose shard changes move.  Each move is
two transactions: copy the conversation (its row, members and roles, messages with their idempotency keys, device
markers) to the target, replacing any copy an interrupted run left there; then delete it from the source.  So an
interrupted run loses nothing and running it again finishes the job.  Blocks and bans, kept on every shard, are
copied to every new shard.
"""
from __future__ import annotations

import asyncpg

from .store.postgres import PostgresStore
from .store.sharded import shard_of

# Every table keyed by conversation, with its conversation column: copied in this order, deleted in reverse.
CONV_TABLES = (("conversations", "id"), ("members", "conv"), ("messages", "conv"), ("device_markers", "conv"))
REPLICATED = (("blocks", "(user_id, blocked)"), ("bans", "(user_id)"))


class ReshardError(Exception):
    """The move cannot proceed (one line; nothing of the conversation named was moved)."""


async def reshard(old: list[str], new: list[str]) -> dict:
    """Move what ``old`` holds to where ``new`` maps it; the counts of what moved and stayed."""
    for url in dict.fromkeys(old + new):
        store = PostgresStore(url)        # every database gets the current schema
        await store.open()
        await store._close_backend()
    conns = {url: await asyncpg.connect(url, server_settings={"application_name": "imserver-reshard"})
             for url in dict.fromkeys(old + new)}
    try:
        for url, c in conns.items():
            if await c.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname=current_database()"
                                " AND application_name LIKE 'imserver-%' AND application_name<>'imserver-reshard'"):
                raise ReshardError(f"{url.split('@')[-1]}: imserver nodes are connected; stop them first")
        await _copy_replicated([conns[u] for u in dict.fromkeys(old)], [conns[u] for u in dict.fromkeys(new)])
        counts = {"moved": 0, "kept": 0, "messages_moved": 0}
        for url in dict.fromkeys(old):
            for (conv,) in await conns[url].fetch("SELECT id FROM conversations ORDER BY id"):
                target = new[shard_of(conv, len(new))]
                if target == url:
                    counts["kept"] += 1
                    continue
                counts["messages_moved"] += await _move(conv, conns[url], conns[target])
                counts["moved"] += 1
        return counts
    finally:
        for c in conns.values():
            await c.close()


async def _copy_replicated(sources: list, targets: list) -> None:
    for table, key in REPLICATED:
        rows = {tuple(r): r for src in sources for r in await src.fetch(f"SELECT * FROM {table}")}
        if not rows:
            continue
        cols = list(next(iter(rows.values())).keys())
        for dst in targets:
            await dst.executemany(f"INSERT INTO {table}({', '.join(cols)}) VALUES"
                                  f" ({', '.join(f'${i + 1}' for i in range(len(cols)))}) ON CONFLICT {key} DO NOTHING",
                                  list(rows))


async def _move(conv: str, src, dst) -> int:
    """Copy ``conv`` to ``dst`` (replacing a partial copy), then delete it from ``src``; its message count."""
    tables = [(table, col, await src.fetch(f"SELECT * FROM {table} WHERE {col}=$1", conv))
              for table, col in CONV_TABLES]
    try:
        async with dst.transaction():
            for table, col, rows in tables:
                await dst.execute(f"DELETE FROM {table} WHERE {col}=$1", conv)
                if rows:
                    await dst.copy_records_to_table(table, records=rows, columns=list(rows[0].keys()))
    except asyncpg.UniqueViolationError:
        raise ReshardError(f"conversation {conv}: a sender's client_msg_id is already used by another conversation "
                           "on its new shard; it was not moved") from None
    async with src.transaction():
        for table, col, _ in reversed(tables):
            await src.execute(f"DELETE FROM {table} WHERE {col}=$1", conv)
    return len(tables[2][2])
