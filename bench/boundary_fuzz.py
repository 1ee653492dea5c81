"""The input-boundary fuzz of issue 9 at full size: the properties of tests/planner/test_boundary_fuzz.py (any
hostile value in any workload field, any catalog number, any plan-JSON field given to `diff`: exit 0/1/2 only,
one-line errors, no traceback, no NaN/Infinity in any output), with many more examples and a fresh seed.

    python bench/boundary_fuzz.py [--examples 1500] [--seed N]

Prints, per property, the examples run, the outcome (a failing case is shown by pytest/hypothesis, shrunk) and
the time. The test suite runs the same properties with 40 fixed examples each.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROPERTIES = ["test_any_value_in_any_workload_field", "test_any_value_in_any_catalog_number",
              "test_any_value_in_any_plan_field_given_to_diff"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1500, help="examples per property")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: a random one)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2 ** 32)
    env = dict(os.environ, IMPLAN_FUZZ_EXAMPLES=str(args.examples), IMPLAN_FUZZ_SEED=str(seed))
    print(f"boundary fuzz: {args.examples} examples per property, seed {seed}")
    failed = 0
    for name in PROPERTIES:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               f"tests/planner/test_boundary_fuzz.py::{name}"], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        seconds = time.monotonic() - started
        outcome = "no failure" if proc.returncode == 0 else "FAILED"
        print(f"  {name}: {args.examples} examples, {outcome}, {seconds:.0f} s")
        if proc.returncode != 0:
            failed += 1
            print(proc.stdout[-6000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
