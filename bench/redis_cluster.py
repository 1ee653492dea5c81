"""Cross-node fan-out through one Redis vs a Redis Cluster: delivery rate and latency of the bus alone.

Usage: python bench/redis_cluster.py [--users 1000] [--frames 50000] [--paced-per-s 2000] [--masters 3]
Starts its own redis-server(s) on free loopback ports, two fan-outs in this process (node A publishes,
node B has every user subscribed), and prints one markdown row per bus: a burst of --frames frames
(delivered/s until the last arrives) and a paced phase (--paced-per-s for 5 s: latency p50/p99).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "imserver"))
from conftest import RedisProc  # noqa: E402  (the test suite's throwaway servers)
from rcluster import RedisCluster  # noqa: E402

from imserver.fanout import open_fanout  # noqa: E402


async def measure(users: int, frames: int, paced: float, **bus) -> dict:
    latencies: list[float] = []
    done = asyncio.Event()
    want = [0]

    def deliver(names, text, exclude):
        latencies.append(time.perf_counter() - float(text))
        if len(latencies) >= want[0]:
            done.set()

    a = open_fanout(node_id="A", deliver_local=lambda *_: None, **bus)
    b = open_fanout(node_id="B", deliver_local=deliver, **bus)
    await a.start()
    await b.start()
    names = [f"u{i}" for i in range(users)]
    for u in names:
        b.subscribe(u)
    await asyncio.sleep(2)                     # subscriptions in place
    want[0] = frames
    t0 = time.perf_counter()
    for i in range(frames):
        a.publish((names[i % users],), repr(time.perf_counter()))
        if i % 1000 == 999:
            await asyncio.sleep(0)
    await asyncio.wait_for(done.wait(), 120)
    burst = frames / (time.perf_counter() - t0)
    latencies.clear()
    done.clear()
    n = int(paced * 5)
    want[0] = n
    start = time.perf_counter()
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i / paced - time.perf_counter()))
        a.publish((names[i % users],), repr(time.perf_counter()))
    await asyncio.wait_for(done.wait(), 60)
    lat = sorted(latencies)
    await a.close()
    await b.close()
    return {"burst_per_s": burst, "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * lat[int(len(lat) * 0.99)]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=50000)
    ap.add_argument("--paced-per-s", type=float, default=2000)
    ap.add_argument("--masters", type=int, default=3)
    args = ap.parse_args()
    print("| bus | burst delivered frames/s | paced frames/s | latency p50 ms | latency p99 ms |")
    print("|---|---|---|---|---|")
    single = RedisProc().start()
    try:
        r = asyncio.run(measure(args.users, args.frames, args.paced_per_s, redis_url=single.url))
    finally:
        single.stop()
    print(f"| one Redis | {r['burst_per_s']:.0f} | {args.paced_per_s:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |",
          flush=True)
    cluster = RedisCluster(masters=args.masters).start()
    try:
        r = asyncio.run(measure(args.users, args.frames, args.paced_per_s, redis_url="",
                                cluster_nodes=cluster.nodes[:1]))
    finally:
        cluster.stop()
    print(f"| Redis Cluster, {args.masters} masters | {r['burst_per_s']:.0f} | {args.paced_per_s:.0f} | "
          f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
