"""Benchmark: model build and solve time of the planner (prints figures; not a test).

  python bench/planner_bench.py                 # default workload, all strategies
  python bench/planner_bench.py --large         # every catalog offering and region, 24 slices, all strategies

Reports wall time per strategy split into model building (cost table, pruning, PuLP model), solver
time, and extraction; and the share of time spent outside the solver.
"""

from __future__ import annotations

import argparse
import time

from planner.capacity import load_profile
from planner.catalog.loader import load_catalog
from planner.optimize import BUILDERS
from planner.optimize.context import PlanContext
from planner.optimize.solver import solve
from planner.workload import load_workload


def run(overrides: list[str], label: str) -> None:
    t0 = time.perf_counter()
    workload = load_workload(None, overrides)
    catalog = load_catalog()
    profile = load_profile()
    ctx = PlanContext.build(workload, profile, catalog)
    load_s = time.perf_counter() - t0
    total_build = total_solve = total_extract = 0.0
    print(f"\n{label}: {len(catalog.compute)} compute offerings, {len(catalog.public_regions)} public regions, "
          f"{len(catalog.private_sites)} private sites; load {load_s:.3f} s")
    for name, (build, extract, has_location) in BUILDERS.items():
        for pooled in (False, True):
            t1 = time.perf_counter()
            model = build(ctx, pooled)
            t2 = time.perf_counter()
            if not has_location(model):
                print(f"  {name:8s} {'pooled' if pooled else 'dedicated':9s} no location")
                continue
            info = solve(model.prob, "highs", workload.solver.time_limit_s, workload.solver.gap_rel)
            t3 = time.perf_counter()
            plan = extract(ctx, model, info) if info.objective_usd is not None else None
            t4 = time.perf_counter()
            total_build += t2 - t1
            total_solve += info.seconds
            total_extract += (t3 - t2 - info.seconds) + (t4 - t3)
            n_int = sum(1 for v in model.prob.variables() if v.cat == "Integer")
            print(f"  {name:8s} {'pooled' if pooled else 'dedicated':9s} vars {len(model.prob.variables()):6d} "
                  f"(integer {n_int:5d}) constraints {len(model.prob.constraints):6d}  build {t2 - t1:6.3f} s  "
                  f"solve {info.seconds:6.3f} s  {info.status} gap {info.gap}  "
                  f"cost {plan.monthly_cost_usd if plan else None}")
    total = load_s + total_build + total_solve + total_extract
    print(f"  total {total:.3f} s: load {load_s:.3f}, build {total_build:.3f}, solve {total_solve:.3f}, "
          f"other {total_extract:.3f}; outside the solver {(total - total_solve) / total:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="every offering and region (no residency), gap 0.5%")
    args = parser.parse_args()
    if args.large:
        run(["users.mau=50000000", "solver.gap_rel=0.005", "solver.time_limit_s=60"],
            "large case (50M MAU, all offerings, all regions, 24 slices)")
    else:
        run([], "default workload (1M MAU)")


if __name__ == "__main__":
    main()
