"""The roadmap's per-period data: for each period, the one-month plan (the same builders and cost terms as
`implan plan`) at that period's MAU, split into what the roadmap schedules and the rest.

The terms marked with an `asset` (planner.terms.CostTerm) are the lumps the roadmap decides over time: own
servers (bought up front, in place of the plan's annuity) and always-on cloud nodes (committed for 1 or 3 years,
or run on demand, in place of the plan's cheapest-commitment price). Every other term is a running cost of that
period, taken as the one-month plan evaluates it.

So that what is bought or committed early serves later periods, every period keeps the location of the busiest
period's plan (a hybrid: its site, its cloud region and its placement of the tiers, so the same tiers and data
are on own servers throughout), and either its pooling and server models too or each period's own (FLEETS: the
roadmap solves both and keeps the cheaper; re-solved without the server-model pin only where a period is
infeasible with it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from planner.capacity import CapacityProfile
from planner.catalog.records import Catalog, PrivateSite, PublicRegion, ServerSku
from planner.errors import InfeasibleError
from planner.growth import Period
from planner.model import StrategyPlan
from planner.optimize import solve_strategy
from planner.optimize.context import PlanContext
from planner.terms import solved
from planner.units import gib_to_gb
from planner.workload import Workload


@dataclass(frozen=True)
class PeriodPlan:
    """One strategy's one-month plan at one period's demand."""

    period: Period
    plan: StrategyPlan
    running_usd_by_category: dict[str, float]  # USD a month of every term without an asset
    assets: dict[str, float]  # asset key -> count a month needs (servers, or always-on nodes)
    asset_plan_usd: float  # what the one-month plan charges a month for the assets (its annuity / commit price)
    own_stored_gb: float  # database and media this plan keeps on own servers: what a move to it egresses
    region: PublicRegion | None  # the public plan's region (its egress tiers price a move)
    systems: tuple[str, ...]  # self-run systems on own servers (what a move to this plan has to move)
    site: PrivateSite | None = None  # the private or hybrid plan's site (its server models and their capex)


def _with_mau(workload: Workload, mau: int, pins: dict) -> Workload:
    users = workload.users.model_copy(update={"mau": mau})
    placement = workload.placement.model_copy(update=pins)
    return workload.model_copy(update={"users": users, "placement": placement})


def _split(ctx: PlanContext, period: Period, plan: StrategyPlan, model) -> PeriodPlan:
    running: dict[str, float] = {}
    assets: dict[str, float] = {}
    asset_usd = 0.0
    for term in model.terms:
        cost = solved(term.objective())
        if term.asset:
            # always-on nodes: the base count (the term's quantity is node-hours); servers: the count itself
            count = solved(term.node.counts[0]) if term.asset.startswith("commit:") else solved(term.quantity)
            if count > 1e-9:
                assets[term.asset] = assets.get(term.asset, 0.0) + round(count)
            asset_usd += cost
        elif abs(cost) > 1e-9:
            running[term.category] = running.get(term.category, 0.0) + cost
    region = None
    if getattr(model, "region_vars", None):
        key = max(model.region_vars, key=lambda k: solved(model.region_vars[k]))
        region = next(r for r in model.regions if f"{r.provider}/{r.region}" == key)
    site = max(model.sites, key=lambda s: solved(s.x)).site if getattr(model, "sites", None) else None
    return PeriodPlan(period, plan, running, assets, asset_usd, _own_stored_gb(ctx, model), region,
                      tuple(getattr(model, "own_systems", ())), site)


def _own_stored_gb(ctx: PlanContext, model) -> float:
    """The stored data a plan keeps on own servers: none on public; all on private and the burst hybrid (its
    data tiers stay private); a hybrid by tier the database and media blocks it does not place in the cloud."""
    if not getattr(model, "sites", None):
        return 0.0
    cloud = getattr(model, "cloud_blocks", frozenset())
    d = ctx.demand
    return ((gib_to_gb(d.database_storage_gib) if "database" not in cloud else 0.0)
            + (d.media_stored_gb if "media" not in cloud else 0.0))


def _hybrid_region(model) -> str | None:
    """The region a hybrid's cloud part runs in (None: the burst hybrid chose no cloud)."""
    chosen = [key for key, value in getattr(model, "regions", {}).items()
              if isinstance(value, tuple) and solved(value[1]) > 0.5]
    return chosen[0] if chosen else None


def _pins(plan: StrategyPlan, model) -> dict:
    """Placement fields that keep later periods where the busiest period's plan is (a hybrid: its region and
    its placement of the tiers too, so that what moves to own servers is the same every period)."""
    pins = {"pooling": "pooled" if model.pooled else "dedicated"}
    if getattr(model, "region_vars", None):
        pins["public_regions"] = [max(model.region_vars, key=lambda k: solved(model.region_vars[k]))]
    if getattr(model, "sites", None):
        site = max(model.sites, key=lambda s: solved(s.x)).site
        pins["private_sites"] = [f"{site.provider}/{site.region}"]
    if plan.name == "hybrid":
        pins["hybrid_placements"] = [plan.placement]
        if _hybrid_region(model):
            pins["public_regions"] = [_hybrid_region(model)]
    return pins


def _pinned_catalog(catalog: Catalog, assets: dict[str, float]) -> Catalog:
    """The catalog with each private site's servers cut to the models the busiest period's plan uses."""
    used = {key.removeprefix("server:") for key in assets if key.startswith("server:")}
    if not used:
        return catalog
    sites = tuple(dataclasses.replace(s, servers=tuple(k for k in s.servers if k.sku in used))
                  for s in catalog.private_sites)
    return dataclasses.replace(catalog, private_sites=sites)


# what every period keeps of the busiest period's plan besides its location: its pooling and its server models
# (servers bought early serve later), or nothing (each period's own pooling, instance types and server models:
# smaller servers early, bought again as demand grows)
FLEETS = {"busiest": "the busiest month's pooling and server models throughout",
          "per_period": "each period's own pooling and instance or server models"}


@dataclass(frozen=True)
class Busiest:
    """The busiest period's one-month plan, every variant solved: what each fleet's periods are pinned to.
    Solved once per side and shared by its fleets (at high MAU it is most of a side's time)."""

    period: Period
    ctx: PlanContext
    plan: StrategyPlan
    model: object


def busiest_plan(strategy: str, workload: Workload, profile: CapacityProfile, catalog: Catalog,
                 periods: list[Period], solver_name: str = "highs") -> Busiest:
    """Raises InfeasibleError when the busiest period has no feasible plan, saying why."""
    busiest = max(periods, key=lambda p: p.mau)
    ctx = PlanContext.build(_with_mau(workload, busiest.mau, {}), profile, catalog, solver_name)
    plan, model = solve_strategy(ctx, strategy)
    if model is None:
        raise InfeasibleError(f"no feasible one-month plan at the busiest period's {busiest.mau:,} MAU: "
                              f"{plan.message}")
    return Busiest(busiest, ctx, plan, model)


def period_plans(strategy: str, workload: Workload, profile: CapacityProfile, catalog: Catalog,
                 periods: list[Period], solver_name: str = "highs", fleet: str = "busiest",
                 busiest: Busiest | None = None) -> list[PeriodPlan]:
    """The one-month plan of every period (identical MAU solved once), at the busiest period's location, with
    the pooling and server models of `fleet` (FLEETS); `busiest` from busiest_plan (solved here if not given).
    Raises InfeasibleError when a period has no feasible plan, naming the period and why."""
    if busiest is None:
        busiest = busiest_plan(strategy, workload, profile, catalog, periods, solver_name)
    ctx, plan, model = busiest.ctx, busiest.plan, busiest.model
    pins = _pins(plan, model)
    if fleet == "busiest":
        pinned = _pinned_catalog(catalog, _split(ctx, busiest.period, plan, model).assets)
    else:
        pins.pop("pooling")
        pinned = catalog
    cache: dict[int, tuple] = {}
    out = []
    for period in periods:
        if period.mau not in cache:
            ctx = PlanContext.build(_with_mau(workload, period.mau, pins), profile, pinned, solver_name)
            plan, model = solve_strategy(ctx, strategy)
            if model is None:  # the busiest period's server models may not fit a smaller period's rules
                ctx = PlanContext.build(_with_mau(workload, period.mau, pins), profile, catalog, solver_name)
                plan, model = solve_strategy(ctx, strategy)
            if model is None:
                raise InfeasibleError(f"no feasible one-month plan in month {period.first_month + 1} "
                                      f"({period.mau:,} MAU): {plan.message}")
            cache[period.mau] = (ctx, plan, model)
        ctx, plan, model = cache[period.mau]
        out.append(_split(ctx, period, plan, model))
    return out


def server_sku(catalog: Catalog, asset: str, site: PrivateSite | None = None) -> ServerSku:
    """The server model an asset key names, from the plan's site (any site's when none is given)."""
    name = asset.removeprefix("server:")
    for candidate in [site] if site is not None else catalog.private_sites:
        for sku in candidate.servers:
            if sku.sku == name:
                return sku
    raise KeyError(asset)
