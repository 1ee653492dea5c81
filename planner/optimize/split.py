"""Hybrid by tier: whole tiers in one cloud region, the others on own servers at one site.

Two placements besides the burst hybrid (planner.optimize.hybrid):
- `media-on-own-servers`: gateway, message, database and cache run in the cloud (always-on or autoscaled VMs,
  the region's load balancer and volumes), the bulky media store on own disk-dense servers at the site;
- `media-in-cloud`: the media objects live in the region's object storage and are delivered from it, every
  other tier runs on own servers.
The database always sits with the message tier (they exchange every write), so no placement splits them.
Clients fetch and upload media with signed URLs straight from the store, so the two sides exchange only
metadata: no site-to-site link is priced (docs/model.md says so).

The cloud side is built from the public model's terms (planner.optimize.public), the site from the private
model's (planner.optimize.private), labour by planner.labour over both; the region must share the site's
jurisdiction. Every cost is a planner.terms.CostTerm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulp

from planner.catalog.records import PublicRegion
from planner.costs import p95_of_slices, public_region_terms
from planner.labour import labour_rates, labour_terms
from planner.model import StrategyPlan
from planner.optimize.candidates import Group, ha_rule, lp_name, make_groups, public_candidates, usage
from planner.optimize.context import PlanContext, hybrid_locations
from planner.optimize.private import (POOL as PRIVATE_POOL, SiteVars, add_site, layout_text, media_group,
                                      server_usage)
from planner.optimize.public import POOL as PUBLIC_POOL, _compute_terms, self_run_systems
from planner.terms import CostTerm, objective, plan_lines, solved
from planner.units import HOURS_PER_MONTH

CLOUD_COMPUTE = ("gateway", "message", "database", "cache")
PLACEMENTS = ("media-on-own-servers", "media-in-cloud")


@dataclass
class CloudGroup:
    region_key: str
    group: Group
    candidate: object
    y: pulp.LpVariable


@dataclass
class SplitModel:
    prob: pulp.LpProblem
    placement: str
    sites: list[SiteVars]
    regions: dict[str, tuple[PublicRegion, pulp.LpVariable]]
    terms: list[CostTerm] = field(default_factory=list)
    cloud_groups: list[CloudGroup] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    pooled: bool = False


def _site_traffic_mbps(ctx: PlanContext, placement: str) -> float:
    """What the site sends out at the 95th percentile: media downloads, or everything but them."""
    if placement == "media-on-own-servers":
        return p95_of_slices([s.media_egress_mbps for s in ctx.demand.slices])
    return p95_of_slices([s.client_egress_mbps for s in ctx.demand.slices])


def build_split(ctx: PlanContext, pooled: bool, placement: str) -> SplitModel:
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown hybrid placement {placement!r}")
    sites, regions, excluded = hybrid_locations(ctx)
    prob = pulp.LpProblem(f"hybrid_{lp_name(placement)}_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    model = SplitModel(prob, placement, [], {}, excluded=excluded, pooled=pooled)
    media_here = placement == "media-on-own-servers"
    if media_here and ctx.demand.media_stored_gb <= 0:
        model.excluded.append("no media to keep on own servers")
        return model
    private_tiers = [] if media_here else ["gateway", "message", "database", "cache", "load_balancer"]
    private_groups = make_groups(ctx.requirements, ctx.profile, private_tiers, pooled, PRIVATE_POOL) \
        if private_tiers else []
    if media_here:
        private_groups.append(media_group(ctx))
    for site in sites:
        # a site holding only the media store needs no quorum witness: the database votes in the cloud
        sv = add_site(prob, ctx, site, private_groups, _site_traffic_mbps(ctx, placement), quorum=not media_here)
        if sv is None:
            model.excluded.append(f"{site.provider}/{site.region}: no server SKU can carry the tiers placed there")
            continue
        model.sites.append(sv)
        model.terms += sv.terms
    if not model.sites or not regions:
        prob += objective(model.terms)
        return model
    prob += pulp.lpSum(sv.x for sv in model.sites) == 1, "site-choice"

    cloud_nodes, cloud_systems = [], []
    for region in regions:
        key = f"{region.provider}/{region.region}"
        z = pulp.LpVariable(f"z_{lp_name(key)}", cat="Binary")
        model.regions[key] = (region, z)
        model.terms += public_region_terms(region, ctx.demand, ctx.workload, ctx.workload.availability.failure_domains,
                                           False, z, database=media_here, media=not media_here, client=media_here)
        if not media_here:
            continue
        tiers = list(CLOUD_COMPUTE) + ([] if region.load_balancer is not None else ["load_balancer"])
        groups = make_groups(ctx.requirements, ctx.profile, tiers, pooled, PUBLIC_POOL)
        offerings = [o for o in ctx.catalog.compute if o.provider == region.provider and o.region == region.region
                     and o.included_egress_gb_per_month == 0]
        for g in groups:
            ys = []
            for c in public_candidates(g, offerings, ctx.workload, ctx.reserved_gib):
                y = pulp.LpVariable(f"yc_{lp_name(f'{g.name}_{c.offering.key}')}", cat="Binary")
                terms, hours, _ = _compute_terms(prob, c, y)
                model.terms += terms
                cloud_nodes.append(hours / HOURS_PER_MONTH)
                model.cloud_groups.append(CloudGroup(key, g, c, y))
                ys.append(y)
            # a region whose instance types cannot carry a group cannot be chosen
            prob += pulp.lpSum(ys) == z, f"offering-{lp_name(key)}-{lp_name(g.name)}"
        cloud_systems.append((self_run_systems(tiers), z))
    prob += pulp.lpSum(z for _, z in model.regions.values()) == 1, "region-choice"
    for sv in model.sites:
        for key, (region, z) in model.regions.items():
            if region.jurisdiction != sv.site.jurisdiction:
                prob += z + sv.x <= 1, f"same-jurisdiction-{lp_name(key)}-{lp_name(sv.site.region)}"

    # labour: the systems each side runs, every self-run node, hardware operations for the own servers
    owned = pulp.lpSum(sv.owned for sv in model.sites)
    chosen_site = pulp.lpSum(sv.x for sv in model.sites)
    systems = {name: chosen_site for name in self_run_systems(t for g in private_groups for t in g.tiers)}
    for names, z in cloud_systems:
        for name in names:
            systems[name] = systems.get(name, 0) + z
    model.terms += labour_terms(prob, "hybrid", labour_rates(ctx.workload), sorted(systems.items()),
                                owned + pulp.lpSum(cloud_nodes), owned)
    prob += objective(model.terms)
    return model


def extract_split(ctx: PlanContext, m: SplitModel, solver_info) -> StrategyPlan:
    """The plan is the model's own cost terms evaluated at the solution."""
    sv = max(m.sites, key=lambda s: solved(s.x))
    key = max(m.regions, key=lambda k: solved(m.regions[k][1]))
    region = m.regions[key][0]
    lines, nodes = plan_lines(m.terms)
    usages = server_usage(ctx, [sv]) + [
        usage(cg.group, cg.candidate.counts, cg.candidate.offering.vcpu, cg.candidate.offering.memory_gib,
              ctx.reserved_gib, ha_rule(ctx.workload, cg.group))
        for cg in m.cloud_groups if cg.region_key == key and solved(cg.y) > 0.5]
    what = ("chat tiers in the cloud, media on own servers" if m.placement == "media-on-own-servers"
            else "media in the cloud's object storage, every other tier on own servers")
    layout = layout_text(sv).lstrip(", ")
    return StrategyPlan(name="hybrid", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines),
                        location=f"{sv.site.provider} {sv.site.region} + {region.provider} {region.region}",
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(usages), solver=solver_info, placement=m.placement,
                        message="; ".join(x for x in (what, layout) if x))

