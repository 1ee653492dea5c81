"""Benchmark: `implan roadmap` time for the default workload, 36 monthly periods, all strategies (public, private, hybrid and the two migrations; prints
figures; not a test). Splits the time into the per-period one-month plans and each strategy's roadmap MILP (for
the busiest-month fleet), then times the whole `implan roadmap` computation (both fleets of each side).

  python bench/roadmap.py                                   # growth.monthly_growth_percent=8 (36 distinct months)
  python bench/roadmap.py --set growth.monthly_growth_percent=0 --period quarter
"""

from __future__ import annotations

import argparse
import time

from planner.capacity import load_profile
from planner.catalog.loader import load_catalog
from planner.growth import periods
from planner.optimize.periods import busiest_plan, period_plans
from planner.optimize.roadmap import ROADMAP_STRATEGIES, SIDES, build_roadmap, solve_roadmap
from planner.roadmap import roadmap
from planner.workload import load_workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=None, help="workload override path=value")
    parser.add_argument("--period", default="month", choices=("month", "quarter"))
    args = parser.parse_args()
    overrides = args.set if args.set is not None else ["growth.monthly_growth_percent=8"]
    started = time.perf_counter()
    workload = load_workload(None, overrides)
    catalog, profile = load_catalog(), load_profile()
    cut = periods(workload, args.period)
    load_s = time.perf_counter() - started
    print(f"overrides {overrides}: {len(cut)} periods of {args.period}, {len({p.mau for p in cut})} distinct MAU; "
          f"load {load_s:.3f} s")
    plans = {}
    for side in ("public", "private", "hybrid"):
        t0 = time.perf_counter()
        busiest = busiest_plan(side, workload, profile, catalog, cut)
        t1 = time.perf_counter()
        plans[side] = period_plans(side, workload, profile, catalog, cut, busiest=busiest)
        print(f"  one-month plans  {side:16s} {time.perf_counter() - t0:7.3f} s (busiest month, every variant: "
              f"{t1 - t0:.3f} s; the other months, pinned: {time.perf_counter() - t1:.3f} s)")
    for name in ROADMAP_STRATEGIES:
        t0 = time.perf_counter()
        given = {side: plans[side] if side in SIDES[name] else None for side in plans}
        model = build_roadmap(name, workload, catalog, given["public"], given["private"], given["hybrid"])
        built = time.perf_counter() - t0
        info = solve_roadmap(model, workload, "highs")
        gap = "n/a" if info.gap is None else f"{info.gap:.4%}"
        print(f"  roadmap MILP     {name:16s} build {built:6.3f} s, solve {info.seconds:6.3f} s, "
              f"{len(model.prob.variables())} variables, {len(model.prob.constraints)} constraints, "
              f"{info.status}, gap {gap}, NPV {info.objective_usd:,.0f} USD")
    print(f"total {time.perf_counter() - started:.3f} s")
    t0 = time.perf_counter()
    data = roadmap(workload, profile, catalog, None, args.period)
    print(f"implan roadmap (both fleet variants of each side, every combination solved): "
          f"{time.perf_counter() - t0:.3f} s; " + ", ".join(
              f"{s['name']} {s['status']} gap {s['solver']['gap']}" for s in data["strategies"]))


if __name__ == "__main__":
    main()
