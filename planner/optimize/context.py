"""What every strategy's model needs, computed once: demand, tier requirements, allowed locations."""

from __future__ import annotations

from dataclasses import dataclass

from planner.capacity import CapacityProfile
from planner.catalog.records import Catalog, PrivateSite, PublicRegion
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
        demand = compute_demand(workload, profile)
        return cls(workload, profile, catalog, demand, tier_requirements(workload, demand, profile),
                   profile.value("node", "os_reserved_memory_gib"), solver_name)


def _residency_ok(workload: Workload, jurisdiction: str) -> bool:
    allowed = workload.placement.residency
    return not allowed or jurisdiction in allowed


def _residency_reason(workload: Workload, kind: str, jurisdictions: list[str]) -> list[str]:
    """One reason for every location residency leaves out (listing each would repeat the rule)."""
    if not jurisdictions:
        return []
    return [f"{len(jurisdictions)} {kind} in jurisdictions {', '.join(sorted(set(jurisdictions)))} are outside "
            f"placement.residency {workload.placement.residency}"]


def public_regions(ctx: PlanContext) -> tuple[list[PublicRegion], list[str]]:
    """Regions the workload allows, and the reasons for those left out."""
    p, needed = ctx.workload.placement, ctx.workload.availability.failure_domains
    kept, reasons, outside = [], [], []
    for region in ctx.catalog.public_regions:
        key = f"{region.provider}/{region.region}"
        if p.providers and region.provider not in p.providers:
            continue
        if p.public_regions and key not in p.public_regions and region.region not in p.public_regions:
            continue
        if not _residency_ok(ctx.workload, region.jurisdiction):
            outside.append(region.jurisdiction)
            continue
        if region.failure_domains < needed:
            reasons.append(f"{key}: {region.failure_domains} failure domain(s), availability "
                           f"{ctx.workload.availability.target_percent}% needs {needed}")
            continue
        kept.append(region)
    return kept, _residency_reason(ctx.workload, "public regions", outside) + reasons


def private_sites(ctx: PlanContext) -> tuple[list[PrivateSite], list[str]]:
    p, needed = ctx.workload.placement, ctx.workload.availability.failure_domains
    kept, reasons, outside = [], [], []
    for site in ctx.catalog.private_sites:
        key = f"{site.provider}/{site.region}"
        if p.private_sites and key not in p.private_sites and site.region not in p.private_sites:
            continue
        if not _residency_ok(ctx.workload, site.jurisdiction):
            outside.append(site.jurisdiction)
            continue
        if site.failure_domains < needed:
            reasons.append(f"{key}: {site.failure_domains} failure domain(s), availability needs {needed}")
            continue
        kept.append(site)
    return kept, _residency_reason(ctx.workload, "private sites", outside) + reasons
