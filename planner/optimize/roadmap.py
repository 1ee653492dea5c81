"""`implan roadmap` as one multi-period MILP per strategy: when to buy servers, when to commit, when to move.

Data per period p (planner.optimize.periods): each side's one-month plan at p's MAU (public, private or
hybrid: SIDES), as running costs R_p (USD a month, every term without an asset), always-on nodes b[p,o] of
offering o, and own servers n[p,k] of model k. A hybrid plan has both.
Variables:
  c[p,o,T] in Z+  nodes of o committed for T months (12, 36: as purchase.max_commitment_years and the catalog
                  allow) from the start of p, paid every month of the term whether used or not;
  d[p,o] >= 0     always-on nodes of o run on demand in p;
  u[p,k] in Z+    servers of model k bought at the start of p, capex paid then, in service for their
                  amortization life (L_k periods); at the horizon's end a server still in service is credited
                  its residual value (the annuity payments not yet due, at private.cost_of_capital_percent);
  z[p] in {0,1}   migration only: move from public to the target (private, or the hybrid plan) at the start
                  of p (p >= 1; sum_p z[p] <= 1, none = stay on public).
With pub[p] = 1 - sum_{q<p} z[q] (public runs, the move period included: one period of double running) and
own[p] = sum_{q<=p} z[q] (a strategy without a move has one side, running in every period), summed over the
sides s with their activity a_s[p] (pub or own):
  sum_{T, q: p in term of q} c[q,o,T] + d[p,o] >= sum_s b_s[p,o] a_s[p]     cover-<o>-<p>
  sum_{q = p-L_k+1..p} u[q,k]                >= sum_s n_s[p,k] a_s[p]     stock-<k>-<p>
(a commitment made on public keeps serving the hybrid's cloud part when both run the same node type).
min NPV = sum of the payments below, each discounted at growth.discount_rate_percent from the month it is paid
  R_p a_s[p] every month of p; c at the commitment price; d at the on-demand price; u at capex;
  z[p] (the stored data the target keeps on own servers egressed at the public region's tiered internet price
  + migration engineering for the systems it runs on own servers, planner.labour).
Every payment is one Payment: the objective is their present values, the report evaluates the same payments
into cash by month, NPV, capex and opex (no second formula).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulp

from planner.catalog.records import Catalog, ComputeOffering, PriceRef
from planner.costs import tiered_term
from planner.growth import Period, discount_factor
from planner.labour import labour_rates, migration_labour_term
from planner.model import NETWORK, SolverInfo
from planner.optimize.candidates import lp_name
from planner.optimize.periods import PeriodPlan, server_sku
from planner.optimize.solver import solve
from planner.terms import CostTerm, solved
from planner.units import HOURS_PER_MONTH, MONTHS_PER_YEAR, amortized_per_month
from planner.workload import Workload

CAPEX, OPEX = "capex", "opex"
# the one-month plans (sides) each roadmap strategy runs on: one throughout, or a move from the first to the
# second (migration to private keeps its name from before hybrid had a roadmap)
SIDES = {"public": ("public",), "private": ("private",), "hybrid": ("hybrid",),
         "migration": ("public", "private"), "migration-hybrid": ("public", "hybrid")}
ROADMAP_STRATEGIES = tuple(SIDES)


@dataclass(frozen=True)
class Payment:
    """A priced quantity with the months it is paid in: `usd_by_month` is USD per unit of `quantity` by 0-based
    month (a commitment's months may run past the horizon). `term` is its present value as a CostTerm."""

    kind: str  # CAPEX or OPEX
    item: str
    unit: str
    quantity: Any
    usd_by_month: tuple[tuple[int, float], ...]
    ref: PriceRef | None
    term: CostTerm
    action: str = ""  # schedule entry: buy, commit, migrate; "" for running costs
    month: int = 0  # month the action happens (0-based)
    side: str = ""  # public, private or hybrid (a+b: a commitment both use): whose payment it is


def payment(kind: str, item: str, unit: str, quantity: Any, usd_by_month: dict[int, float], ref, rate: float,
            action: str = "", month: int = 0, side: str = "") -> Payment:
    months = tuple(sorted(usd_by_month.items()))
    pv_per_unit = sum(usd * discount_factor(m, rate) for m, usd in months)
    term = CostTerm(kind, item, unit, quantity, pv_per_unit, ref)
    return Payment(kind, item, unit, quantity, months, ref, term, action, month, side)


@dataclass
class RoadmapModel:
    name: str
    prob: pulp.LpProblem
    payments: list[Payment] = field(default_factory=list)
    move: dict[int, Any] = field(default_factory=dict)  # period index -> z (migration only)
    location: str = ""


def _monthly(period: Period, usd: float) -> dict[int, float]:
    return {m: usd for m in period.month_numbers}


def _running(model: RoadmapModel, side: str, plans: list[PeriodPlan], active: list, rate: float) -> None:
    for plan, on in zip(plans, active):
        for category, usd in sorted(plan.running_usd_by_category.items()):
            model.payments.append(payment(OPEX, f"{side} running costs: {category}", "periods", on,
                                          _monthly(plan.period, usd), None, rate, side=side))


def _offering(catalog: Catalog, key: str) -> ComputeOffering:
    return next(o for o in catalog.compute if o.key == key)


def _commit_options(workload: Workload, o: ComputeOffering) -> list[tuple[int, float]]:
    """(term in months, USD per node-hour) of the commitments the workload allows and the catalog prices."""
    years = workload.purchase.max_commitment_years
    options = [(12, o.usd_per_hour_commit_1y, 1), (36, o.usd_per_hour_commit_3y, 3)]
    return [(months, price) for months, price, y in options if price is not None and y <= years]


Side = tuple[str, list[PeriodPlan], list]  # side name, its period plans, whether it runs in each period


def _asset_keys(sides: list[Side], prefix: str) -> list[str]:
    return sorted({k for _, plans, _ in sides for p in plans for k in p.assets if k.startswith(prefix)})


def _need(sides: list[Side], key: str, i: int) -> list:
    """What period i needs of an asset, one expression per side that plans it (both run in a move's period)."""
    return [plans[i].assets[key] * on[i] for _, plans, on in sides if plans[i].assets.get(key)]


def _top(sides: list[Side], key: str) -> float:
    return sum(max(p.assets.get(key, 0.0) for p in plans) for _, plans, _ in sides)


def _commitments(model: RoadmapModel, sides: list[Side], workload: Workload, catalog: Catalog,
                 rate: float) -> None:
    """Always-on nodes: committed from a chosen period for the whole term, or on demand. A commitment serves
    every side that runs the offering (a move to a hybrid keeps a public node type running in the cloud)."""
    prob = model.prob
    plans = sides[0][1]
    names = "+".join(dict.fromkeys(side for side, _, _ in sides))
    for key in _asset_keys(sides, "commit:"):
        o = _offering(catalog, key.removeprefix("commit:"))
        tag = lp_name(o.key)
        top = _top(sides, key)
        owners = "+".join(side for side, ps, _ in sides if any(p.assets.get(key) for p in ps)) or names
        covering: dict[int, list] = {p.period.index: [] for p in plans}
        for months, price in _commit_options(workload, o):
            for plan in plans:
                start = plan.period.first_month
                c = prob.add_variable(f"c_{tag}_{months}_{plan.period.index}", lowBound=0, upBound=top,
                                      cat="Integer")
                model.payments.append(payment(
                    OPEX, f"commit {months // MONTHS_PER_YEAR}y: {o.type} ({o.provider} {o.region})", "nodes", c,
                    {m: price * HOURS_PER_MONTH for m in range(start, start + months)}, o.ref, rate,
                    action="commit", month=start, side=owners))
                for other in plans:
                    if start <= other.period.first_month < start + months:
                        covering[other.period.index].append(c)
        for i, plan in enumerate(plans):
            d = prob.add_variable(f"d_{tag}_{plan.period.index}", lowBound=0, upBound=top)
            prob += (pulp.lpSum(covering[plan.period.index]) + d >= pulp.lpSum(_need(sides, key, i)),
                     f"cover-{tag}-{plan.period.index}")
            model.payments.append(payment(OPEX, f"on demand, always on: {o.type} ({o.provider} {o.region})",
                                          "nodes", d, _monthly(plan.period, o.usd_per_hour * HOURS_PER_MONTH),
                                          o.ref, rate, side=owners))


def residual_value_usd(capex_usd: float, years: float, rate_percent: float, months_used: int) -> float:
    """What a server bought `months_used` months before the horizon's end is still worth then: the payments of
    its annuity (planner.units.amortized_per_month, the monthly price `implan plan` charges) not yet due,
    discounted at the same cost of capital. Buying up front minus this, discounted at that rate, is what the
    annuity costs within the horizon."""
    left = int(years * MONTHS_PER_YEAR) - months_used
    if left <= 0:
        return 0.0
    monthly = amortized_per_month(capex_usd, years, rate_percent)
    return sum(monthly * discount_factor(j, rate_percent) for j in range(1, left + 1))


def _servers(model: RoadmapModel, sides: list[Side], workload: Workload, catalog: Catalog, rate: float) -> None:
    """Own servers: bought in a period (capex then), in service for their amortization life."""
    prob = model.prob
    plans = sides[0][1]
    step = plans[0].period.months
    horizon = workload.growth.horizon_months
    for key in _asset_keys(sides, "server:"):
        side, owner, _ = next(s for s in sides if any(p.assets.get(key) for p in s[1]))
        sku = server_sku(catalog, key, owner[-1].site)
        tag = lp_name(sku.sku)
        years = workload.private.amortization_years or sku.amortization_years
        life = max(1, int(years * MONTHS_PER_YEAR // step))
        bought = []
        for plan in plans:
            u = prob.add_variable(f"u_{tag}_{plan.period.index}", lowBound=0, upBound=_top(sides, key),
                                  cat="Integer")
            bought.append(u)
            model.payments.append(payment(CAPEX, f"buy servers: {sku.sku}", "servers", u,
                                          {plan.period.first_month: sku.capex_usd}, sku.ref, rate,
                                          action="buy", month=plan.period.first_month, side=side))
            value = residual_value_usd(sku.capex_usd, years, workload.private.cost_of_capital_percent,
                                       horizon - plan.period.first_month)
            if value > 0:
                model.payments.append(payment(CAPEX, f"residual value at the horizon: {sku.sku}", "servers", u,
                                              {horizon: -value}, sku.ref, rate, side=side))
        for i, plan in enumerate(plans):
            need = _need(sides, key, i)
            if need:
                prob += (pulp.lpSum(bought[max(0, i - life + 1):i + 1]) >= pulp.lpSum(need),
                         f"stock-{tag}-{plan.period.index}")


def _migration_costs(model: RoadmapModel, public: list[PeriodPlan], target: list[PeriodPlan], move: dict,
                     workload: Workload, rate: float) -> None:
    """The one-off cost of a move in period p: the stored data the target keeps on own servers (all of it for
    private, what its placement keeps off the cloud for a hybrid) egressed at the public region's tiered
    internet price, and the engineering time of moving each self-run system it runs on own servers
    (planner.labour)."""
    rates = labour_rates(workload)
    for pub, own in zip(public, target):
        z = move.get(pub.period.index)
        if z is None:
            continue
        month = pub.period.first_month
        region = pub.region
        egress = tiered_term(NETWORK, "", own.own_stored_gb, region.internet_egress, region.internet_egress_ref)
        model.payments.append(payment(OPEX, f"migration: {own.own_stored_gb:,.0f} GB of stored data egressed "
                                      f"({region.provider} {region.region} internet price)", "moves", z,
                                      {month: egress.cost}, region.internet_egress_ref, rate, action="migrate",
                                      month=month))
        labour = migration_labour_term(rates, list(own.systems))
        model.payments.append(payment(OPEX, labour.item, "moves", z, {month: solved(labour.objective())},
                                      labour.ref, rate, action="migrate", month=month))


def build_roadmap(name: str, workload: Workload, catalog: Catalog, public: list[PeriodPlan] | None,
                  private: list[PeriodPlan] | None, hybrid: list[PeriodPlan] | None = None) -> RoadmapModel:
    """The model of one roadmap strategy over the period plans of its SIDES: one side runs throughout; a
    migration starts on the first (public) and may move to the second at a period the model chooses."""
    rate = workload.growth.discount_rate_percent
    model = RoadmapModel(name, pulp.LpProblem(f"roadmap_{lp_name(name)}", pulp.LpMinimize))
    prob = model.prob
    given = {"public": public, "private": private, "hybrid": hybrid}
    names = SIDES[name]
    side_plans = [given[side] for side in names]
    count = len(side_plans[0])
    if len(names) == 2:
        model.move = {i: prob.add_variable(f"z_{i}", cat="Binary") for i in range(1, count)}
        prob += pulp.lpSum(model.move.values()) <= 1, "move-once"
        active = [[1 - pulp.lpSum(model.move[q] for q in range(1, i)) for i in range(count)],
                  [pulp.lpSum(model.move[q] for q in range(1, i + 1)) for i in range(count)]]
    else:
        active = [[1] * count]
    sides = list(zip(names, side_plans, active))
    for side, plans, on in sides:
        _running(model, side, plans, on, rate)
    _commitments(model, sides, workload, catalog, rate)
    _servers(model, sides, workload, catalog, rate)
    if len(names) == 2:
        _migration_costs(model, side_plans[0], side_plans[1], model.move, workload, rate)
    locations = [p[-1].plan.location for p in side_plans if p[-1].plan is not None]
    model.location = " -> ".join(locations)
    prob += pulp.lpSum(p.term.objective() for p in model.payments)
    return model


def solve_roadmap(model: RoadmapModel, workload: Workload, solver_name: str) -> SolverInfo:
    return solve(model.prob, solver_name, workload.solver.time_limit_s, workload.solver.gap_rel)
