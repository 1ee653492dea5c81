"""PostgreSQL CPU per operation of imserver's store: durable sends (group commit), history pages and inbox queries.

Usage (as root: the cluster runs as the postgres user):
    python bench/db_cpu.py [--users 2000] [--convs-per-user 10] [--msgs-per-conv 60] [--write-rates 2000,0]
                           [--pages 5,50] [--duration-s 8]

One fresh PostgreSQL 15 cluster (tests/imserver/conftest.py's PgCluster: fsync and synchronous_commit on), seeded
through imserver's own store (PostgresStore) with 1:1 conversations. Then, per phase, for `--duration-s`:

- writes: sends through the store's group-commit writer, offered at each of `--write-rates` sends/s (0: closed
  loop, `--workers` x 8 in flight), each to a random seeded conversation;
- history: `--workers` concurrent readers call `history` (a page of each of `--pages` messages after a random
  sequence number) for random members;
- inbox: `--workers` concurrent readers call `inbox` for random users (each in about 2 x `--convs-per-user`
  conversations);
- inbox-elsewhere: the same for users with no conversation in this database (what every other shard of a
  sharded deployment answers for each inbox).

PostgreSQL's CPU is the user+system time of the postmaster's processes (/proc) over the phase, so the bench
client's own CPU (imserver's store code runs in it) is not counted. Prints JSON per phase: operations/s and
operations per PostgreSQL CPU-second — the figures behind `database.durable_writes_per_s_per_vcpu`,
`database.history_rows_per_s_per_vcpu` and `database.inbox_queries_per_s_per_vcpu` in
planner/data/capacity-profile.yaml (docs/performance.md).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "imserver"))
from conftest import PgCluster  # noqa: E402  (the test suite's throwaway clusters)

from imserver.store.postgres import PostgresStore  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
BODY = "x" * 200


def cluster_cpu_s(postmaster_pid: int) -> float:
    """User + system CPU seconds of the postmaster and its live children (backends, WAL writer, checkpointer),
    plus those of its children that have exited (autovacuum workers come and go), which the kernel adds to the
    postmaster's cutime/cstime when it reaps them."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == postmaster_pid:
            total += sum(int(f) for f in fields[11:15]) / TICKS     # utime stime cutime cstime
        elif int(fields[1]) == postmaster_pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


async def seed(store: PostgresStore, users: int, convs: int, msgs: int) -> list[tuple[str, str, str, int]]:
    """1:1 conversations of u{i} with u{(i + k) % users}; returns (sender, peer, conv, last_seq) per conversation."""
    made = []
    for i in range(users):
        for k in range(1, convs + 1):
            j = (i + k) % users
            if j == i:
                continue
            results = await asyncio.gather(*(store.send(f"u{i}", f"seed-{i}-{k}-{n}", None, f"u{j}", BODY, None)
                                             for n in range(msgs)))
            made.append((f"u{i}", f"u{j}", results[-1].conv, results[-1].seq))
    return made


async def measure(pid: int, run) -> tuple[float, float]:
    """(PostgreSQL CPU seconds, wall seconds) of `await run()`."""
    cpu0, t0 = cluster_cpu_s(pid), time.monotonic()
    await run()
    return cluster_cpu_s(pid) - cpu0, time.monotonic() - t0


async def writes_phase(store: PostgresStore, convs, args, pid: int, rate: int) -> dict:
    """Sends offered at `rate` per second (0: closed loop); counts acked (committed) sends."""
    rng = random.Random(rate)
    acked = {"n": 0}
    deadline = time.monotonic() + args.duration_s

    async def one(n: int) -> None:
        sender, peer, _, _ = rng.choice(convs)
        await store.send(sender, f"w{rate}-{n}", None, peer, BODY, None)
        acked["n"] += 1

    async def open_loop() -> None:
        pending, n, start = set(), 0, time.monotonic()
        while time.monotonic() < deadline:
            due = int((time.monotonic() - start) * rate)
            while n < due:
                pending.add(asyncio.ensure_future(one(n)))
                n += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*pending)

    async def closed_loop() -> None:
        counter = iter(range(10**9))

        async def sender() -> None:
            while time.monotonic() < deadline:
                await one(next(counter))

        await asyncio.gather(*(sender() for _ in range(args.workers * 8)))

    cpu_s, wall_s = await measure(pid, open_loop if rate else closed_loop)
    return {"phase": "writes", "offered_per_s": rate or "closed loop", "acked_per_s": round(acked["n"] / wall_s),
            "postgres_cpu_s": round(cpu_s, 2),
            "writes_per_postgres_cpu_s": round(acked["n"] / cpu_s) if cpu_s else None}


async def reads_phase(name: str, store: PostgresStore, convs, args, pid: int, page: int = 0) -> dict:
    """History pages of `page` rows, or inbox queries, from `--workers` concurrent readers."""
    deadline = time.monotonic() + args.duration_s
    counts = {"reads": 0, "rows": 0}
    users = sorted({u for u, _, _, _ in convs})

    async def reader(rng: random.Random) -> None:
        while time.monotonic() < deadline:
            if name == "history":
                user, _, conv, last = rng.choice(convs)
                rows, _ = await store.history(user, conv, rng.randrange(0, max(1, last - page)), page)
            elif name == "inbox":
                rows = await store.inbox(rng.choice(users))
            else:                       # a user none of whose conversations is on this shard
                rows = await store.inbox(f"elsewhere{rng.randrange(10**6)}")
            counts["rows"] += len(rows)     # after the await: `+=` around an await would lose other readers' counts
            counts["reads"] += 1

    cpu_s, wall_s = await measure(pid, lambda: asyncio.gather(*(reader(random.Random(n))
                                                                 for n in range(args.workers))))
    per = "rows" if name == "history" else "reads"
    return {"phase": name, **({"page": page} if page else {}), "reads_per_s": round(counts["reads"] / wall_s),
            "rows_per_read": round(counts["rows"] / max(counts["reads"], 1), 1), "postgres_cpu_s": round(cpu_s, 2),
            f"{per}_per_postgres_cpu_s": round(counts[per] / cpu_s) if cpu_s else None}


async def main_async(args) -> dict:
    root = Path(tempfile.mkdtemp(prefix="implan-bench-dbcpu-"))
    pg = PgCluster(root, "dbcpu").init().start()
    try:
        pid = int((pg.data / "postmaster.pid").read_text().split()[0])
        store = PostgresStore(pg.dsn)
        await store.open()
        await store.migrate()
        await store.start()
        convs = await seed(store, args.users, args.convs_per_user, args.msgs_per_conv)
        async with store._pool.acquire() as c:
            await c.execute("VACUUM ANALYZE")
        out = {"users": args.users, "conversations": len(convs), "messages": len(convs) * args.msgs_per_conv,
               "workers": args.workers, "phases": []}
        for rate in args.write_rates:
            out["phases"].append(await writes_phase(store, convs, args, pid, rate))
        for page in args.pages:
            out["phases"].append(await reads_phase("history", store, convs, args, pid, page))
        out["phases"].append(await reads_phase("inbox", store, convs, args, pid))
        out["phases"].append(await reads_phase("inbox-elsewhere", store, convs, args, pid))
        await store.close()
        return out
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--convs-per-user", type=int, default=10)
    ap.add_argument("--msgs-per-conv", type=int, default=60)
    ap.add_argument("--write-rates", type=_ints, default=[2000, 0],
                    help="offered sends/s, one writes phase each (0: closed loop); comma-separated")
    ap.add_argument("--pages", type=_ints, default=[5, 50],
                    help="messages per history read, one phase each; comma-separated")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--duration-s", type=float, default=8)
    print(json.dumps(asyncio.run(main_async(ap.parse_args())), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
