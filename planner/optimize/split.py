"""Hybrid by tier: whole tiers in one cloud region, the others on own servers at one site.

A placement names the blocks that run in the cloud (planner.placements): gateway (with the load balancer),
message, database, cache and media (the store and its delivery); the rest run on own servers. Every split is
a placement, e.g. `media-on-own-servers` (the chat tiers in the cloud, the bulky media on own disk-dense
servers) or `media-in-cloud`; the database stays with the message tier unless the workload relaxes it.

Traffic between the sides follows the tiers' flows (planner.demand.INTERNAL_FLOWS): what the cloud sends to
the site is billed as the region's internet egress, what crosses the site's ports counts in its transit (the
95th percentile of the busier direction per slice), and the link itself is a WireGuard tunnel the nodes of
both sides run (no managed VPN is priced). Clients fetch and upload media with signed URLs straight from the
store, so the media block adds no cross-side traffic.

The cloud side is built from the public model's terms (planner.optimize.public), the site from the private
model's (planner.optimize.private), labour by planner.labour over both; the region must share the site's
jurisdiction. Every cost is a planner.terms.CostTerm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulp

from planner.catalog.records import PublicRegion
from planner.costs import internet_egress_gb, p95_of_slices, public_region_terms
from planner.demand import INTERNAL_FLOWS, Demand
from planner.labour import labour_rates, labour_terms
from planner.model import NETWORK, StrategyPlan
from planner.optimize.candidates import Group, ha_rule, lp_name, make_groups, public_candidates, usage
from planner.optimize.context import PlanContext, hybrid_locations
from planner.optimize.private import (POOL as PRIVATE_POOL, SiteVars, add_site, layout_text, media_group,
                                      server_usage)
from planner.optimize.public import (POOL as PUBLIC_POOL, _compute_terms, egress_beyond_allowance, has_allowance,
                                     self_run_systems)
from planner.placements import BLOCKS, split_placements
from planner.terms import CostTerm, objective, plan_lines, solved
from planner.units import HOURS_PER_MONTH, mbps_to_gb_per_slice_month

COMPUTE_TIERS = ("gateway", "message", "database", "cache")
LINK_BASIS = ("the sides talk over a WireGuard tunnel between their nodes (no extra node, no fee); a managed "
              "VPN would add its hourly fee, e.g. AWS Site-to-Site VPN per connection-hour, not in the catalog")


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
    cloud_blocks: frozenset[str]
    sites: list[SiteVars]
    regions: dict[str, tuple[PublicRegion, pulp.LpVariable]]
    terms: list[CostTerm] = field(default_factory=list)
    cloud_groups: list[CloudGroup] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    pooled: bool = False
    own_systems: tuple[str, ...] = ()  # self-run systems on own servers: what a move from a cloud moves


def own_tiers(cloud: frozenset[str]) -> list[str]:
    """Compute tiers on own servers: the load balancer (HAProxy) goes with the gateway."""
    tiers = [t for t in COMPUTE_TIERS if t not in cloud]
    return tiers + (["load_balancer"] if "gateway" not in cloud else [])


def cloud_tiers(cloud: frozenset[str], region: PublicRegion) -> list[str]:
    """Compute tiers in the region; a region without a managed load balancer runs its own."""
    tiers = [t for t in COMPUTE_TIERS if t in cloud]
    return tiers + (["load_balancer"] if "gateway" in cloud and region.load_balancer is None else [])


def crossing_mbps(demand: Demand, cloud: frozenset[str]) -> list[tuple[float, float]]:
    """Per slice: Mbps the site sends to the cloud and the cloud sends to the site (the flows with one end on
    each side)."""
    out = []
    for s in demand.slices:
        up = sum(m for (a, b), m in zip(INTERNAL_FLOWS, s.flows_mbps) if a not in cloud and b in cloud)
        down = sum(m for (a, b), m in zip(INTERNAL_FLOWS, s.flows_mbps) if a in cloud and b not in cloud)
        out.append((up, down))
    return out


def site_p95_mbps(demand: Demand, cloud: frozenset[str], crossing: list[tuple[float, float]]) -> float:
    """The site's billed 95th percentile: per slice the busier direction of its ports (client and media traffic
    the own tiers send, as in the private model, plus what crosses to and from the cloud)."""
    per_slice = []
    for s, (up, down) in zip(demand.slices, crossing):
        out = (s.client_egress_mbps if "gateway" not in cloud else 0.0) + (
            s.media_egress_mbps if "media" not in cloud else 0.0) + up
        per_slice.append(max(out, down))
    return p95_of_slices(per_slice)


def build_split(ctx: PlanContext, pooled: bool, placement: str) -> SplitModel:
    placements = split_placements(ctx.workload.placement.colocate_database_and_message)
    if placement not in placements:
        raise ValueError(f"unknown hybrid placement {placement!r}")
    cloud = placements[placement]
    sites, regions, excluded = hybrid_locations(ctx)
    prob = pulp.LpProblem(f"hybrid_{lp_name(placement)}_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    model = SplitModel(prob, placement, cloud, [], {}, excluded=excluded, pooled=pooled)
    media_here = "media" not in cloud
    if ctx.demand.media_stored_gb <= 0 and not own_tiers(cloud):
        model.excluded.append("no media to keep on own servers")
        return model
    if ctx.demand.media_stored_gb <= 0 and not set(COMPUTE_TIERS) & cloud:
        model.excluded.append("no media to keep in the cloud: the cloud part would carry nothing")
        return model
    private_groups = make_groups(ctx.requirements, ctx.profile, own_tiers(cloud), pooled, PRIVATE_POOL)
    if media_here and ctx.demand.media_stored_gb > 0:
        private_groups.append(media_group(ctx))
    crossing = crossing_mbps(ctx.demand, cloud)
    linked = any(up or down for up, down in crossing)
    p95_mbps = site_p95_mbps(ctx.demand, cloud, crossing)
    for site in sites:
        # the site needs a quorum witness only when the replicated database votes there
        sv = add_site(prob, ctx, site, private_groups, p95_mbps, quorum="database" not in cloud)
        if sv is None:
            model.excluded.append(f"{site.provider}/{site.region}: no server SKU can carry the tiers placed there")
            continue
        model.sites.append(sv)
        model.terms += sv.terms
    if not model.sites or not regions:
        prob += objective(model.terms)
        return model
    prob += pulp.lpSum(sv.x for sv in model.sites) == 1, "site-choice"
    if linked:
        model.terms.append(CostTerm(NETWORK, "site-to-site link: WireGuard tunnel on the nodes of both sides",
                                    "links", pulp.lpSum(sv.x for sv in model.sites), 0.0, basis=LINK_BASIS))

    to_site_gb = mbps_to_gb_per_slice_month(sum(down for _, down in crossing))
    cloud_nodes, cloud_systems = [], []
    for region in regions:
        key = f"{region.provider}/{region.region}"
        z = prob.add_variable(f"z_{lp_name(key)}", cat="Binary")
        model.regions[key] = (region, z)
        tiers = cloud_tiers(cloud, region)
        offerings = [o for o in ctx.catalog.compute if o.provider == region.provider and o.region == region.region]
        # instances that bundle traffic pay for the region's egress only when the region runs some of them
        bundled = bool(tiers) and has_allowance(offerings)
        model.terms += public_region_terms(
            region, ctx.demand, ctx.workload, ctx.workload.availability.failure_domains, bundled, z,
            database="database" in cloud, media="media" in cloud, client="gateway" in cloud,
            internal_gb=ctx.demand.flows_within_gb_per_month(cloud), to_site_gb=to_site_gb)
        if not tiers:
            continue
        groups = make_groups(ctx.requirements, ctx.profile, tiers, pooled, PUBLIC_POOL)
        allowance_gb = []
        for g in groups:
            ys = []
            for c in public_candidates(g, offerings, ctx.workload, ctx.reserved_gib):
                y = prob.add_variable(f"yc_{lp_name(f'{g.name}_{c.offering.key}')}", cat="Binary")
                terms, hours, gb = _compute_terms(prob, c, y)
                model.terms += terms
                cloud_nodes.append(hours / HOURS_PER_MONTH)
                allowance_gb.append(gb)
                model.cloud_groups.append(CloudGroup(key, g, c, y))
                ys.append(y)
            # a region whose instance types cannot carry a group cannot be chosen
            prob += pulp.lpSum(ys) == z, f"offering-{lp_name(key)}-{lp_name(g.name)}"
        if bundled:
            model.terms.append(egress_beyond_allowance(prob, region, internet_egress_gb(
                region, ctx.demand, client="gateway" in cloud, media="media" in cloud, to_site_gb=to_site_gb), z,
                allowance_gb))
        cloud_systems.append((self_run_systems(tiers), z))
    prob += pulp.lpSum(z for _, z in model.regions.values()) == 1, "region-choice"
    for sv in model.sites:
        for key, (region, z) in model.regions.items():
            if region.jurisdiction != sv.site.jurisdiction:
                prob += z + sv.x <= 1, f"same-jurisdiction-{lp_name(key)}-{lp_name(sv.site.region)}"

    # labour: the distinct systems the two sides run, every self-run node, hardware operations for own servers
    owned = pulp.lpSum(sv.owned for sv in model.sites)
    chosen_site = pulp.lpSum(sv.x for sv in model.sites)
    own_systems = self_run_systems(t for g in private_groups for t in g.tiers)
    model.own_systems = tuple(own_systems)
    systems = {name: chosen_site for name in own_systems}
    for names, z in cloud_systems:  # a system both sides run (imserver on each) is still one system
        for name in set(names) - set(own_systems):
            systems[name] = systems.get(name, 0) + z
    model.terms += labour_terms(prob, "hybrid", labour_rates(ctx.workload), sorted(systems.items()),
                                owned + pulp.lpSum(cloud_nodes), owned)
    prob += objective(model.terms)
    return model


def link_crossings(cloud: frozenset[str]) -> list[tuple[str, str]]:
    """The hops of a message's path (planner.demand.INTERNAL_FLOWS: the write, the publish, the fan-out) that
    cross between the sides: each adds the site-region round trip to every message (not priced; the reader
    weighs it)."""
    return [(a, b) for a, b in INTERNAL_FLOWS if (a in cloud) != (b in cloud)]


def describe(cloud: frozenset[str]) -> str:
    """'media in the cloud, gateway, message, database, cache on own servers; each message crosses the link
    0 times' — in the blocks' order."""
    ins = [b for b in BLOCKS if b in cloud]
    outs = [b for b in BLOCKS if b not in cloud]
    hops = link_crossings(cloud)
    crossing = f"each message crosses the site-region link {len(hops)} time{'s' if len(hops) != 1 else ''}" + (
        f" ({', '.join(f'{a}->{b}' for a, b in hops)})" if hops else "")
    return f"{', '.join(ins)} in the cloud, {', '.join(outs)} on own servers; {crossing}"


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
    layout = layout_text(sv).lstrip(", ")
    return StrategyPlan(name="hybrid", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines),
                        location=f"{sv.site.provider} {sv.site.region} + {region.provider} {region.region}",
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(usages), solver=solver_info, placement=m.placement,
                        message="; ".join(x for x in (describe(m.cloud_blocks), layout) if x))
