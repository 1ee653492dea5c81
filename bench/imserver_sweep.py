"""Sweep the offered send rate of `imserver bench --scenario durable` and print one row per rate.

Usage: python bench/imserver_sweep.py [--rates 1000,2000,3000,0] [--connections 200] [--duration-s 10]
(rate 0 = closed loop with --window 2).  Each row is a fresh server; prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="1000,2000,3000,0")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--duration-s", type=float, default=10)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    print("| offered msgs/s | acked msgs/s | ack p50 ms | ack p99 ms | server core util | msgs per server core-s | load avg | fsync p50/p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in [float(r) for r in args.rates.split(",")]:
        cmd = [sys.executable, "-m", "imserver", "bench", "--scenario", "durable", "--connections",
               str(args.connections), "--duration-s", str(args.duration_s), "--rate-msgs-per-s", str(rate),
               "--format", "json"]
        if rate == 0:
            cmd += ["--window", "2"]
        if args.database_url:
            cmd += ["--database-url", args.database_url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out)
        p = r["phases"][0]
        fs = r["fsync_ms_at_start"]
        print(f"| {'closed loop (window 2)' if rate == 0 else int(rate)} | {p['durable_msgs_per_s']:.0f} | "
              f"{p['ack_p50_ms']} | {p['ack_p99_ms']} | {p['server_core_utilization']} | "
              f"{p['msgs_per_server_core_s']:.0f} | {r['loadavg_1m_at_start']} | {fs['p50']}/{fs['p99']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
