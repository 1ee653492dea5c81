"""What every strategy's model needs, computed once: demand, tier requirements, allowed locations."""

from __future__ import annotations

from dataclasses import dataclass

from planner.capacity import CapacityProfile
from planner.catalog.records import Catalog, PrivateSite, PublicRegion
from planner.price_change import apply_price_change
from planner.demand import Demand, TierRequirement, compute_demand, tier_requirements
from planner.workload import Workload


@dataclass(frozen=True)
class PlanContext:
    workload: Workload
    profile: CapacityProfile
    catalog: Catalog
    demand: Demand
    requirements: dict[str, TierRequirement]
    reserved_gib: float  # per-node OS reserve
    solver_name: str = "highs"

    @classmethod
    def build(cls, workload: Workload, profile: CapacityProfile, catalog: Catalog,
              solver_name: str = "highs") -> "PlanContext":
        catalog = apply_price_change(catalog, workload.uncertainty.price_change)  # the one place prices change
        demand = compute_demand(workload, profile)
        return cls(workload, profile, catalog, demand, tier_requirements(workload, demand, profile),
                   profile.value("node", "os_reserved_memory_gib"), solver_name)


def residency_ok(workload: Workload, jurisdiction: str) -> bool:
    allowed = workload.placement.residency
    return not allowed or jurisdiction in allowed


def residency_reason(workload: Workload, kind: str, jurisdictions: list[str]) -> list[str]:
    """One reason for every location residency leaves out (listing each would repeat the rule)."""
    if not jurisdictions:
        return []
    return [f"{len(jurisdictions)} {kind} in jurisdictions {', '.join(sorted(set(jurisdictions)))} are outside "
            f"placement.residency {workload.placement.residency}"]


def _allowed(ctx: PlanContext, locations, allowlist: list[str], providers: list[str], kind: str, needed: int):
    """Locations (public regions or private sites) the workload allows, and the reasons for those left out."""
    kept, reasons, outside = [], [], []
    for location in locations:
        key = f"{location.provider}/{location.region}"
        if providers and location.provider not in providers:
            continue
        if allowlist and key not in allowlist and location.region not in allowlist:
            continue
        if not residency_ok(ctx.workload, location.jurisdiction):
            outside.append(location.jurisdiction)
            continue
        if location.failure_domains < needed:
            reasons.append(f"{key}: {location.failure_domains} failure domain(s), availability "
                           f"{ctx.workload.availability.target_percent}% needs {needed}")
            continue
        kept.append(location)
    return kept, residency_reason(ctx.workload, kind, outside) + reasons


def public_regions(ctx: PlanContext) -> tuple[list[PublicRegion], list[str]]:
    p = ctx.workload.placement
    return _allowed(ctx, ctx.catalog.public_regions, p.public_regions, p.providers, "public regions",
                    ctx.workload.availability.failure_domains)


def private_sites(ctx: PlanContext) -> tuple[list[PrivateSite], list[str]]:
    p = ctx.workload.placement
    # own servers survive a rack loss with two cabinets and a quorum witness (planner.optimize.private.layouts)
    needed = min(2, ctx.workload.availability.failure_domains)
    return _allowed(ctx, ctx.catalog.private_sites, p.private_sites, [], "private sites", needed)


def hybrid_locations(ctx: PlanContext) -> tuple[list[PrivateSite], list[PublicRegion], list[str]]:
    """Sites and regions a hybrid may pair: the cloud part must sit in a site's jurisdiction (latency, and the
    residency of the users' data). Returns the sites, the regions and the reasons for those left out."""
    sites, excluded = private_sites(ctx)
    regions, reasons = public_regions(ctx)
    excluded += reasons
    jurisdictions = {site.jurisdiction for site in sites}
    excluded += [f"{r.provider}/{r.region}: no allowed private site in its jurisdiction {r.jurisdiction}"
                 for r in regions if r.jurisdiction not in jurisdictions]
    return sites, [r for r in regions if r.jurisdiction in jurisdictions], excluded
