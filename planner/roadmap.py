"""`implan roadmap`: per-period one-month plans -> one roadmap MILP per strategy -> the JSON contract
(docs/roadmap-json.md). The solved payments are evaluated here into NPV, cash by month, the schedule, capex and
opex per year and the break-even months; the renderers (planner.roadmap_render) read only this dict."""

from __future__ import annotations

import itertools

from planner import __version__
from planner.capacity import CapacityProfile
from planner.catalog.records import Catalog
from planner.errors import InfeasibleError, PlannerError
from planner.growth import PERIOD_MONTHS, mau_by_month, periods
from planner.optimize.periods import FLEETS, busiest_plan, period_plans
from planner.optimize.roadmap import CAPEX, ROADMAP_STRATEGIES, SIDES, RoadmapModel, build_roadmap, solve_roadmap
from planner.report import _ref
from planner.terms import solved
from planner.units import MONTHS_PER_YEAR
from planner.workload import Workload

ROADMAP_SCHEMA_VERSION = "1.1"  # 1.1: strategies hybrid and migration-hybrid (new names, no field changed)


def check_roadmap_strategies(names: list[str] | None) -> list[str]:
    for name in names or []:
        if name not in ROADMAP_STRATEGIES:
            raise PlannerError(f"--strategy {name}: unknown roadmap strategy, expected one of "
                               f"{', '.join(ROADMAP_STRATEGIES)}")
    return list(names or ROADMAP_STRATEGIES)


def _evaluate(model: RoadmapModel, horizon: int) -> dict:
    """The solved payments as cash by month, NPV, schedule and capex / opex per year."""
    cash = [0.0] * horizon
    after, npv = 0.0, 0.0
    years = [{"year": y + 1, "capex_usd": 0.0, "opex_usd": 0.0} for y in range(-(-horizon // MONTHS_PER_YEAR))]
    schedule = []
    for p in model.payments:
        qty = solved(p.quantity)
        if abs(qty) < 1e-9:
            continue
        npv += solved(p.term.objective())
        total = 0.0
        for month, usd in p.usd_by_month:
            amount = qty * usd
            total += amount
            if month < horizon:
                cash[month] += amount
                years[month // MONTHS_PER_YEAR]["capex_usd" if p.kind == CAPEX else "opex_usd"] += amount
            else:
                after += amount
        if p.action:
            schedule.append({"month": p.month + 1, "action": p.action, "item": p.item, "quantity": round(qty, 4),
                             "unit": p.unit, "usd": round(total, 2),
                             "present_value_usd": round(solved(p.term.objective()), 2), **_ref(p.ref)})
    schedule.sort(key=lambda e: (e["month"], e["action"], e["item"]))
    move = next((i for i, z in model.move.items() if solved(z) > 0.5), None)
    cumulative, running = [], 0.0
    for amount in cash:
        running += amount
        cumulative.append(round(running, 2))
    return {"npv_usd": round(npv, 2), "total_usd": round(sum(cash) + after, 2),
            "after_horizon_usd": round(after, 2),
            "schedule": schedule, "move_period": move,
            "years": [{k: round(v, 2) if k != "year" else v for k, v in y.items()} for y in years],
            "monthly_usd": [round(c, 2) for c in cash], "cumulative_usd": cumulative}


def break_even(strategies: list[dict]) -> list[dict]:
    """For each ordered pair, the first month from which a's cumulative cost stays below b's to the end of
    the horizon (None: never; 1: from the start)."""
    out = []
    solved_ = [s for s in strategies if s["npv_usd"] is not None]
    for a in solved_:
        for b in solved_:
            if a is b:
                continue
            from_month = None
            for m in range(len(a["cumulative_usd"]) - 1, -1, -1):
                if a["cumulative_usd"][m] >= b["cumulative_usd"][m]:
                    break
                from_month = m + 1
            out.append({"strategy": a["name"], "cheaper_than": b["name"], "from_month": from_month})
    return out


def _failed(name: str, status: str, message: str) -> dict:
    return {"name": name, "status": status, "npv_usd": None, "total_usd": None, "after_horizon_usd": None,
            "location": "", "move_month": None, "solver": None, "message": message, "schedule": [], "years": [],
            "monthly_usd": [], "cumulative_usd": []}


def _distinct(variants: list[tuple[str, list]]) -> list[tuple[str, list]]:
    """Fleet variants whose periods need different assets (the same needs solve to the same roadmap)."""
    out, seen = [], []
    for fleet, plans in variants:
        needs = [p.assets for p in plans]
        if needs not in seen:
            seen.append(needs)
            out.append((fleet, plans))
    return out


def _best(name: str, workload: Workload, catalog: Catalog, sides: list[list[tuple[str, list]]], horizon: int,
          solver_name: str) -> dict:
    """Solve the strategy's roadmap for every combination of the sides' fleet variants; the lowest NPV wins
    (a variant that does not solve only wins when none does: it then says why)."""
    best = None
    for combo in itertools.product(*sides):
        plans = {SIDES[name][i]: p for i, (_, p) in enumerate(combo)}
        fleet = {side: f for (f, _), side in zip(combo, SIDES[name])}
        model = build_roadmap(name, workload, catalog, plans.get("public"), plans.get("private"),
                              plans.get("hybrid"))
        info = solve_roadmap(model, workload, solver_name)
        result = _result(name, model, info, [plans[side] for side in SIDES[name]], fleet, horizon)
        if best is None or (result["npv_usd"] is not None and
                            (best["npv_usd"] is None or result["npv_usd"] < best["npv_usd"])):
            best = result
    return best


def _side_text(side: str, plans: list) -> str:
    """A side as the notes name it: a hybrid with its placement of the tiers (the same in every period)."""
    placement = plans[-1].plan.placement if side == "hybrid" and plans[-1].plan is not None else ""
    return f"hybrid ({placement})" if placement else side


def _result(name: str, model: RoadmapModel, info, sides: list[list], fleet: dict[str, str], horizon: int) -> dict:
    solver = {"name": info.name, "status": info.status, "gap": info.gap, "seconds": round(info.seconds, 3),
              "message": info.message}
    if info.objective_usd is None:
        return {**_failed(name, info.status, info.message), "solver": solver}
    evaluated = _evaluate(model, horizon)
    move = evaluated.pop("move_period")
    names = SIDES[name]
    first = sides[0]
    notes = []
    if len(names) == 2:
        notes.append("stays on public: no move month lowers the NPV" if move is None else
                     f"moves to {_side_text(names[1], sides[1])} in month {first[move].period.first_month + 1}")
    elif names[0] == "hybrid":
        notes.append(_side_text("hybrid", first))
    for side, f in fleet.items():
        if side == names[0] or move is not None:
            notes.append(f"{side}: {FLEETS[f]}")
    return {"name": name, "status": info.status, **evaluated, "location": model.location,
            "move_month": None if move is None else first[move].period.first_month + 1,
            "solver": solver, "message": "; ".join(notes)}


def roadmap(workload: Workload, profile: CapacityProfile, catalog: Catalog, strategies: list[str] | None = None,
            period: str = "month", solver_name: str = "highs") -> dict:
    """Solve the roadmap of each strategy; the JSON contract of docs/roadmap-json.md."""
    names = check_roadmap_strategies(strategies)
    cut = periods(workload, period)
    variants, failures = {}, {}
    for side in dict.fromkeys(s for n in names for s in SIDES[n]):
        try:
            busiest = busiest_plan(side, workload, profile, catalog, cut, solver_name)
            variants[side] = _distinct([(f, period_plans(side, workload, profile, catalog, cut, solver_name, f,
                                                         busiest)) for f in FLEETS])
        except InfeasibleError as exc:
            failures[side] = f"{side} side: {exc}"
    horizon = workload.growth.horizon_months
    results = []
    for name in names:
        missing = [failures[s] for s in SIDES[name] if s in failures]
        if missing:
            results.append(_failed(name, "infeasible", "; ".join(missing)))
            continue
        results.append(_best(name, workload, catalog, [variants[s] for s in SIDES[name]], horizon, solver_name))
    ordered = [{k: r[k] for k in ("name", "status", "npv_usd", "total_usd", "after_horizon_usd",
                                  "location", "move_month", "solver", "message", "schedule", "years",
                                  "monthly_usd", "cumulative_usd")} for r in results]
    rate = workload.growth.discount_rate_percent
    return {"schema_version": ROADMAP_SCHEMA_VERSION, "implan_version": __version__, "workload": workload.name,
            "horizon_months": horizon, "period": period, "period_months": PERIOD_MONTHS[period],
            "discount_rate_percent": rate, "mau_by_month": mau_by_month(workload),
            "strategies": ordered, "break_even": break_even(ordered)}
