"""Durable acked msgs/s of one imserver node with its conversations over 1, 2 and 4 PostgreSQL primaries.

Usage (as root: the clusters run as the postgres user):
    python bench/shards.py [--shards 1,2,4] [--connections 200] [--duration-s 8]
Each row: fresh PostgreSQL 15 clusters of their own (tests/imserver/conftest.py's PgCluster, fsync and
synchronous_commit on), one `imserver serve` with database_shards, and `imserver bench --scenario durable --url`
closed loop against it.  Prints a markdown table (docs/performance.md, section 6).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "imserver"))
from conftest import PgCluster, free_port  # noqa: E402  (the test suite's throwaway clusters)

SECRET = "bench-secret-" + "x" * 20


def run(n: int, args, root: Path) -> dict:
    clusters = [PgCluster(root, f"n{n}-s{k}").init().start() for k in range(n)]
    port = free_port()
    cfg = root / f"n{n}.yaml"
    cfg.write_text(yaml.safe_dump({
        "listen_port": port, "media_backend": "none", "data_dir": str(root / f"data{n}"), "jwt_secret": SECRET,
        "database_shards": [c.dsn for c in clusters], "log_level": "warning", "conn_rate_msgs_per_s": 100000,
        "conn_rate_burst_msgs": 100000, "user_rate_msgs_per_s": 100000, "user_rate_burst_msgs": 100000}))
    server = subprocess.Popen([sys.executable, "-m", "imserver", "serve", "--config", str(cfg)])
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        out = subprocess.run([sys.executable, "-m", "imserver", "bench", "--scenario", "durable", "--url",
                              f"ws://127.0.0.1:{port}/ws", "--secret", SECRET, "--server-pid", str(server.pid),
                              "--connections", str(args.connections), "--duration-s", str(args.duration_s),
                              "--rate-msgs-per-s", "0", "--window", str(args.window), "--format", "json"],
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)["phases"][0]
    finally:
        server.terminate()
        server.wait(30)
        for c in clusters:
            c.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", default="1,2,4")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--duration-s", type=float, default=8)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="imserver-shards-bench-"))
    try:
        print("| primaries | acked msgs/s | ack p50 ms | ack p99 ms | server core util |")
        print("|---|---|---|---|---|")
        for n in [int(x) for x in args.shards.split(",")]:
            p = run(n, args, root)
            print(f"| {n} | {p['durable_msgs_per_s']:.0f} | {p['ack_p50_ms']} | {p['ack_p99_ms']} | "
                  f"{p['server_core_utilization']} |", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
