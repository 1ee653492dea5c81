"""plan(): solve every requested strategy (dedicated and pooled variants), price the SaaS offers."""

from __future__ import annotations

import math
from pathlib import Path

from planner.capacity import CapacityProfile
from planner.catalog.records import Catalog
from planner.saas import saas_quote
from planner.model import PlanResult, SolverInfo, StrategyPlan
from planner.optimize.context import PlanContext
from planner.optimize.hybrid import build_hybrid, extract_hybrid
from planner.optimize.private import build_private, extract_private
from planner.optimize.public import build_public, extract_public
from planner.optimize.serverless import build_serverless, extract_serverless, offer_keys
from planner.optimize.solver import export_mps, lp_bound, solve
from planner.shards import plan_topology
from planner.optimize.split import build_split, extract_split
from planner.placements import BURST, hybrid_placement_names
from planner.workload import Workload, workload_to_dict

BUILDERS = {
    "public": (build_public, extract_public, lambda m: bool(m.region_vars)),
    "private": (build_private, extract_private, lambda m: bool(m.sites)),
    "hybrid": (build_hybrid, extract_hybrid, lambda m: bool(m.sites) and bool(m.regions)),
    # one model per offer location (the placement); there are no nodes to pool
    "serverless": (None, extract_serverless, lambda m: bool(m.offer_vars)),
}

# a variant is skipped only when its LP bound is above the cheapest cost found by more than this (rounding)
BOUND_TOLERANCE_USD = 0.01

FIXES = {
    "public": "allow more regions (placement.residency, placement.public_regions, placement.providers), more "
              "instance types (purchase.allowed_arch) or lower availability.target_percent",
    "private": "add a site to the private catalog, widen placement.residency / placement.private_sites, or lower "
               "availability.target_percent",
    "hybrid": "the hybrid strategy needs both an allowed private site and an allowed public region",
    "serverless": "allow the offer's jurisdiction in placement.residency, or price the offer in another region "
                  "(pricing/*.yaml, serverless:)",
}


def _not_solved(name: str, status: str, message: str, pooling: str = "dedicated") -> StrategyPlan:
    return StrategyPlan(name=name, status=status, monthly_cost_usd=None, location="", pooling=pooling, lines=(),
                        nodes=(), usage=(), solver=SolverInfo("none", status, None, 0.0, None, message),
                        message=message)


def placements(ctx: PlanContext, name: str) -> list[str | None]:
    """The variants of a strategy's placement: for hybrid the burst hybrid and every split of whole tiers
    (planner.optimize.split), or those the workload names; for serverless every offer location; None for the
    other strategies."""
    if name == "serverless":
        return offer_keys(ctx) or [None]
    if name != "hybrid":
        return [None]
    p = ctx.workload.placement
    return list(p.hybrid_placements) or hybrid_placement_names(p.colocate_database_and_message)


def _builder(name: str, placement: str | None):
    if name == "serverless":
        return (lambda ctx, pooled: build_serverless(ctx, placement or ""), *BUILDERS[name][1:])
    if placement is None or placement == BURST:
        return BUILDERS[name]
    return (lambda ctx, pooled: build_split(ctx, pooled, placement), extract_split,
            lambda m: bool(m.sites) and bool(m.regions))


def plan_strategy(ctx: PlanContext, name: str, export_dir: Path | None = None) -> StrategyPlan:
    """Solve every variant of a strategy (pooling, and for hybrid the placement of the tiers); keep the cheapest."""
    return solve_strategy(ctx, name, export_dir)[0]


def solve_strategy(ctx: PlanContext, name: str, export_dir: Path | None = None) -> tuple[StrategyPlan, object]:
    """plan_strategy, and the solved model of the cheapest variant (None when none is feasible): `implan roadmap`
    reads that model's cost terms.

    Variants are solved in the order of their LP-relaxation bounds; a variant whose bound is above the cheapest
    cost found so far cannot beat it and is not solved (its bound is reported in `skipped`). Exact: a MILP's
    optimum is never below its relaxation's."""
    pooling = ctx.workload.placement.pooling
    poolings = ["dedicated", "pooled"] if pooling == "auto" else [pooling]
    if name == "serverless":
        poolings = ["serverless"]  # no nodes to pool: one variant per offer location
    solver = ctx.workload.solver
    built, order = [], []
    solved: dict[str, tuple[StrategyPlan, object]] = {}
    for placement, variant in [(p, v) for p in placements(ctx, name) for v in poolings]:
        key = variant if placement is None else f"{placement}, {variant}"
        order.append(key)
        build, extract, has_location = _builder(name, placement)
        model = build(ctx, variant == "pooled")
        if not has_location(model):
            why = "; ".join(model.excluded) or "the catalogs offer no location for it"
            solved[key] = (_not_solved(name, "infeasible", f"no allowed location ({why}); to fix: {FIXES[name]}",
                                       variant), model)
            continue
        built.append((key, placement, variant, extract, model))
    bounds = {key: lp_bound(model.prob, ctx.solver_name, solver.time_limit_s) if len(built) > 1 else None
              for key, *_, model in built}
    best_objective = math.inf
    skipped: dict[str, float] = {}
    for key, placement, variant, extract, model in sorted(
            built, key=lambda b: math.inf if bounds[b[0]] is None else bounds[b[0]]):
        bound = bounds[key]
        if bound is not None and bound > best_objective + BOUND_TOLERANCE_USD:
            skipped[key] = bound
            continue
        info = solve(model.prob, ctx.solver_name, solver.time_limit_s, solver.gap_rel)
        if info.objective_usd is None:
            hint = FIXES[name] if info.status == "infeasible" else "raise solver.time_limit_s"
            solved[key] = (_not_solved(name, info.status, f"{info.message}; to fix: {hint}", variant), model)
            continue
        best_objective = min(best_objective, info.objective_usd)
        plan_ = extract(ctx, model, info)
        solved[key] = (plan_ if plan_.placement or placement is None else
                       StrategyPlan(**{**plan_.__dict__, "placement": placement}), model)
    solved = {k: solved[k] for k in order if k in solved}     # the variants' own order, not the solve order
    costs = {k: p.monthly_cost_usd for k, (p, _) in solved.items()}
    priced = [k for k in costs if costs[k] is not None]
    if not priced:
        # the burst hybrid (or the only variant) says best why nothing was feasible
        return next(iter(solved.values()))[0], None
    best = min(priced, key=lambda k: costs[k])
    plan, model = solved[best]
    if export_dir is not None:
        export_mps(model.prob, export_dir, name)
    notes = [plan.message] if plan.message else []
    if getattr(model, "excluded", None):
        notes.append("locations left out: " + "; ".join(model.excluded))
    return StrategyPlan(**{**plan.__dict__, "alternatives": costs, "skipped": skipped,
                           "message": " | ".join(notes),
                           "topology": plan_topology(plan.nodes, plan.usage, ctx.requirements, ctx.workload)}), model


def plan(workload: Workload, profile: CapacityProfile, catalog: Catalog, strategies: list[str] | None = None,
         solver_name: str = "highs", export_dir: Path | None = None) -> PlanResult:
    ctx = PlanContext.build(workload, profile, catalog, solver_name)
    names = strategies or list(workload.strategies)
    results = tuple(plan_strategy(ctx, n, export_dir) for n in names)
    quotes = tuple(saas_quote(o, ctx.demand, workload) for o in catalog.saas) if workload.saas.compare else ()
    d = ctx.demand
    summary = {
        "dau": d.dau, "peak_concurrent_connections": d.peak_connections,
        "messages_per_month": d.messages_per_month, "deliveries_per_month": d.deliveries_per_month,
        "peak_msgs_per_s": d.peak.msgs_per_s, "peak_deliveries_per_s": d.peak.deliveries_per_s,
        "peak_durable_writes_per_s": d.peak.durable_writes_per_s, "peak_pubsub_ops_per_s": d.peak.pubsub_ops_per_s,
        "peak_client_egress_mbps": d.peak.client_egress_mbps, "peak_media_egress_mbps": d.peak.media_egress_mbps,
        "database_storage_gib": d.database_storage_gib, "media_stored_gb": d.media_stored_gb,
        "client_egress_gb_per_month": d.client_egress_gb_per_month,
        "media_egress_gb_per_month": d.media_egress_gb_per_month,
    }
    return PlanResult(workload_name=workload.name, workload=workload_to_dict(workload), demand_summary=summary,
                      profile_names=profile.names, catalogs=catalog.infos, strategies=results, saas=quotes,
                      mau=workload.users.mau, dau=d.dau)
