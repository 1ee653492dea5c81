"""Benchmark: `implan uncertainty` wall time on the default workload with the example distributions (prints
figures; not a test).

  python bench/uncertainty_bench.py                     # 100 samples, --jobs 2, then the 500-sample estimate
  python bench/uncertainty_bench.py --samples 500       # the issue's figure measured directly (minutes)
  python bench/uncertainty_bench.py --strategy public --strategy private   # without the hybrid's variants

Runs the real command in a subprocess (start-up, catalog load, worker spawn, every solve, rendering), with
docs/examples/uncertain-chat.yaml: the embedded default workload with five inputs given as distributions, so
`--samples N` is N solves of every strategy plus 1 at the point values and 2 per input for the tornado. The
500-sample figure is extrapolated from the measured time per solved case when fewer samples are run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "uncertain-chat.yaml"


def run(samples: int, seed: int, strategies: list[str], where: list[str]) -> tuple[float, dict]:
    """Wall time and JSON of one `implan uncertainty` process; `where`: --jobs J, or --executor dask --address A."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "u.json"
        command = [sys.executable, "-m", "planner", "uncertainty", str(EXAMPLE), "--samples", str(samples),
                   "--seed", str(seed), "--format", "json", "--out", str(out), *where]
        command += [arg for name in strategies for arg in ("--strategy", name)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        subprocess.run(command, check=True, env=env, cwd=ROOT)
        wall = time.perf_counter() - t0
        return wall, json.loads(out.read_text(encoding="utf-8"))


def parse_args(doc: str, samples: int, workers: str) -> argparse.Namespace:
    """The options of this bench and bench/executor_bench.py: --samples, --seed, --strategy and the number of
    workers (`workers` names the flag; 2 by default)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--samples", type=int, default=samples)
    parser.add_argument(workers, type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", action="append", default=[], help="repeatable; default: the workload's")
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__, 100, "--jobs")
    wall, data = run(args.samples, args.seed, args.strategy, ["--jobs", str(args.jobs)])
    cases = data["solves"]["cases"]
    flags = "".join(f" -s {name}" for name in args.strategy)
    print(f"implan uncertainty {EXAMPLE.relative_to(ROOT)} --samples {args.samples} --jobs {args.jobs}{flags}: "
          f"{wall:.1f} s wall, {cases} cases ({len(data['strategies'])} strategies each), "
          f"{wall / cases:.2f} s per case, {len(data['solves']['not_optimal'])} solves not proven optimal; "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.samples != 500:
        estimate = wall / cases * (500 + cases - args.samples)
        print(f"  --samples 500 estimated from the time per case: {estimate:.0f} s")
    for r in data["results"]:
        s = r["monthly_cost_usd"]
        print(f"  {r['name']:8s} P10 {s['p10']:>10,.0f}  P50 {s['p50']:>10,.0f}  P90 {s['p90']:>10,.0f}  "
              f"P(cheapest) {r['probability_cheapest']:.0%}")


if __name__ == "__main__":
    main()
