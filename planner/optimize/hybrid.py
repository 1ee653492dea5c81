"""Hybrid strategy as a MILP: own servers carry the base, public cloud carries the daily peak.

Placement rule: the data tiers (database, cache, object storage) and the load balancer stay private;
the cloud region must be in the private site's jurisdiction (latency and data residency);
the burst tiers form one burst cell (co-located) in both pooling variants;
the burst tiers (placement.hybrid_burst_tiers, default gateway and message) may run on both sites.
One share f_h in [0, 1] of the burst tiers' load is served from the cloud in slice h.

On top of the private model (planner.optimize.private, whose site, rack, power and labour
constraints it reuses) and for every burst group g:
  P[g,k] in Z+ private servers, S[g,k] in Z+ of them surviving a failure (S <= P - y, D S <= (D-1) P);
  Q[g,o,h] in Z+ on-demand cloud nodes per slice, R[g,o,h] in Z+ surviving (D R <= (D-1) Q, or R <= Q - a_h);
  capacity in every dimension d:  sum_k S cap_kd >= (1 - f_h) L_ghd,   sum_o R cap_od >= f_h L_ghd.
Cloud egress G = sum_h f_h (client_h + internal_h) H (GB/month) priced with exact graduated tiers
(tier-fill binaries: a tier is used only once every cheaper-numbered tier is full);
transit at the 95th percentile: T >= (1 - f_h) client_h + media_h + f_h internal_h - M v_h, sum_h v_h <= 1
(dropping the busiest slice, see planner.costs.p95_of_slices); the cloud load balancer bills hours plus
capacity units in proportion to f_h.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulp

from planner.catalog.records import PublicRegion, TransferTier
from planner.costs import graduated_cost, load_balancer_units, p95_of_slices
from planner.model import COMPUTE, LOAD_BALANCING, NETWORK, CostLine, Node, StrategyPlan
from planner.optimize.candidates import (Candidate, Group, ha_rule, lp_name, make_groups, node_counts,
                                          prune_dominated, solved_value)
from planner.optimize.context import PlanContext, private_sites, public_regions
from planner.optimize.private import (SiteVars, add_site, media_group, server_monthly_usd,
                                      site_lines)
from planner.units import HOURS_PER_MONTH, HOURS_PER_SLICE_PER_MONTH, mbps_to_gb_per_slice_month

PRIVATE_ONLY = ["database", "cache", "load_balancer"]


@dataclass
class BurstPrivate:
    site_key: str
    group: Group
    sku: object
    y: pulp.LpVariable
    servers: pulp.LpVariable
    surviving: pulp.LpVariable


@dataclass
class BurstPublic:
    region_key: str
    group: Group
    offering: object
    y: pulp.LpVariable
    nodes: list[pulp.LpVariable]


@dataclass
class HybridModel:
    prob: pulp.LpProblem
    sites: list[SiteVars]
    regions: dict[str, tuple[PublicRegion, pulp.LpVariable, pulp.LpVariable]]  # region, chosen, egress GB
    share: list[pulp.LpVariable]
    burst_private: list[BurstPrivate] = field(default_factory=list)
    burst_public: list[BurstPublic] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    pooled: bool = False


def _capacities(vcpu: float, memory_gib: float, reserved: float) -> tuple[float, float]:
    return vcpu, memory_gib - reserved


def _add_tiered_egress(prob, name: str, amount, tiers: tuple[TransferTier, ...], active, big_m: float) -> list:
    """Exact graduated cost of `amount` GB with decreasing per-GB prices (a concave cost): a tier may hold
    GB only when its fill binary is on, and it may be on only when the tier before it is full."""
    cost, parts, previous, lower = [], [], None, 0.0
    for i, tier in enumerate(tiers):
        width = (tier.up_to_gb - lower) if tier.up_to_gb is not None else big_m
        q = pulp.LpVariable(f"egress_{name}_{i}", lowBound=0, upBound=width)
        on = pulp.LpVariable(f"egress_fill_{name}_{i}", cat="Binary")
        prob += q <= width * on, f"egress-tier-{name}-{i}"
        prob += on <= active, f"egress-active-{name}-{i}"
        if previous is not None:
            prob += previous[0] >= previous[1] * on, f"egress-order-{name}-{i}"
        cost.append(tier.usd_per_gb * q)
        parts.append(q)
        previous = (q, width)
        lower = tier.up_to_gb if tier.up_to_gb is not None else lower
    prob += pulp.lpSum(parts) == amount, f"egress-total-{name}"
    return cost


def _load_chain(group: Group) -> list[tuple[int, int]]:
    """Pairs (a, b) of consecutive slices, ordered by load, where slice b needs at least as much as a in
    every dimension."""
    order = sorted(range(len(group.vcpu)), key=lambda h: (group.vcpu[h], group.memory_gib[h], h))
    return [(a, b) for a, b in zip(order, order[1:])
            if group.vcpu[a] <= group.vcpu[b] and group.memory_gib[a] <= group.memory_gib[b]]


def burst_candidates(group: Group, offerings: list, ctx: PlanContext) -> list[Candidate]:
    """Offerings that can carry the burst group, on-demand only, dominated ones pruned."""
    ha = ha_rule(ctx.workload, group)
    out = []
    for o in offerings:
        if o.arch not in ctx.workload.purchase.allowed_arch:
            continue
        counts = node_counts(group, o.vcpu, o.memory_gib, ctx.reserved_gib, ha)
        if counts is not None:
            out.append(Candidate(group, o, counts, o.usd_per_hour, "on_demand", (0,) * len(counts)))
    return prune_dominated(out)


def build_hybrid(ctx: PlanContext, pooled: bool) -> HybridModel:
    w = ctx.workload
    sites, excluded = private_sites(ctx)
    regions, region_reasons = public_regions(ctx)
    excluded += region_reasons
    # the cloud burst must sit near the private site: same jurisdiction (latency, and residency of the users' data)
    site_jurisdictions = {s.jurisdiction for s in sites}
    excluded += [f"{r.provider}/{r.region}: no allowed private site in its jurisdiction {r.jurisdiction}"
                 for r in regions if r.jurisdiction not in site_jurisdictions]
    regions = [r for r in regions if r.jurisdiction in site_jurisdictions]
    prob = pulp.LpProblem(f"hybrid_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    objective: list = []
    burst_tiers = [t for t in ("gateway", "message") if t in w.placement.hybrid_burst_tiers]
    private_tiers = PRIVATE_ONLY + [t for t in ("gateway", "message") if t not in burst_tiers]
    private_pool = ("cache", "load_balancer", *[t for t in ("gateway", "message") if t not in burst_tiers])
    private_groups = make_groups(ctx.requirements, ctx.profile, private_tiers, pooled, private_pool)
    private_groups.append(media_group(ctx))
    # the burst tiers always form one burst cell (co-located on the same nodes, private and cloud alike):
    # the cloud part is one autoscaling group, and one group per tier would double the per-slice integers
    burst_groups = make_groups(ctx.requirements, ctx.profile, burst_tiers, True, tuple(burst_tiers))
    slices = ctx.demand.slices
    n_slices = len(slices)
    share = [pulp.LpVariable(f"f_{h}", lowBound=0, upBound=1) for h in range(n_slices)]
    model = HybridModel(prob, [], {}, share, excluded=excluded, pooled=pooled)
    a = w.availability
    domains = a.failure_domains

    # --- private site(s): data tiers via the private model, plus burst tiers' private base
    for site in sites:
        skey = lp_name(f"{site.provider}_{site.region}")
        compute_skus = [k for k in site.servers if k.role == "compute"]
        burst_vars = []
        for g in burst_groups:
            ha = ha_rule(w, g)
            for sku in compute_skus:
                peak_full = max(node_counts(g, sku.vcpu, sku.memory_gib, ctx.reserved_gib, ha) or (0,))
                if peak_full == 0:
                    continue
                tag = f"{skey}_{lp_name(g.name)}_{lp_name(sku.sku)}"
                y = pulp.LpVariable(f"yp_{tag}", cat="Binary")
                servers = pulp.LpVariable(f"P_{tag}", lowBound=0, upBound=peak_full, cat="Integer")
                surviving = pulp.LpVariable(f"S_{tag}", lowBound=0, upBound=peak_full, cat="Integer")
                prob += servers <= peak_full * y, f"burst-private-use-{tag}"
                prob += servers >= g.min_nodes * y, f"burst-private-min-{tag}"
                if a.tolerate_node_loss or a.tolerate_domain_loss:
                    prob += surviving <= servers - y, f"burst-private-node-ha-{tag}"
                else:
                    prob += surviving <= servers, f"burst-private-all-{tag}"
                if a.tolerate_domain_loss and domains >= 2:
                    prob += domains * surviving <= (domains - 1) * servers, f"burst-private-domain-ha-{tag}"
                amort, energy = server_monthly_usd(ctx, site, sku)
                objective.append((amort + energy) * servers)
                bp = BurstPrivate(f"{site.provider}/{site.region}", g, sku, y, servers, surviving)
                burst_vars.append(bp)
        extra = (pulp.lpSum(b.servers for b in burst_vars),
                 pulp.lpSum(b.sku.rack_units * b.servers for b in burst_vars),
                 pulp.lpSum(b.sku.watts * b.servers for b in burst_vars))
        sv = add_site(prob, ctx, site, private_groups, objective, 0.0, extra_servers=extra)
        if sv is None:
            excluded.append(f"{site.provider}/{site.region}: no server SKU can carry every private tier")
            continue
        for b in burst_vars:
            tag = lp_name(f"{b.site_key}_{b.group.name}_{b.sku.sku}")
            prob += b.y <= sv.x, f"burst-private-site-{tag}"
        model.sites.append(sv)
        model.burst_private.extend(burst_vars)
    if not model.sites or not regions:
        prob += pulp.lpSum(objective)
        return model
    prob += pulp.lpSum(sv.x for sv in model.sites) == 1, "site-choice"

    # --- public region(s) for the burst share
    for region in regions:
        rkey = f"{region.provider}/{region.region}"
        z = pulp.LpVariable(f"z_{lp_name(rkey)}", cat="Binary")
        offerings = [o for o in ctx.catalog.compute if o.provider == region.provider and o.region == region.region
                     and o.included_egress_gb_per_month == 0]
        for g in burst_groups:
            ys = []
            for c in burst_candidates(g, offerings, ctx):
                o, counts = c.offering, c.counts
                tag = f"{lp_name(rkey)}_{lp_name(g.name)}_{lp_name(o.type)}"
                y = pulp.LpVariable(f"yq_{tag}", cat="Binary")
                nodes = []
                for h, full in enumerate(counts):
                    q = pulp.LpVariable(f"Q_{tag}_{h}", lowBound=0, upBound=full, cat="Integer")
                    r = pulp.LpVariable(f"R_{tag}_{h}", lowBound=0, upBound=full, cat="Integer")
                    prob += q <= full * y, f"burst-public-use-{tag}-{h}"
                    if a.tolerate_domain_loss and domains >= 2:
                        prob += domains * r <= (domains - 1) * q, f"burst-public-domain-ha-{tag}-{h}"
                    elif a.tolerate_node_loss:
                        active = pulp.LpVariable(f"A_{tag}_{h}", cat="Binary")
                        prob += q <= full * active, f"burst-public-active-{tag}-{h}"
                        prob += r <= q - active, f"burst-public-node-ha-{tag}-{h}"
                    else:
                        prob += r <= q, f"burst-public-all-{tag}-{h}"
                    objective.append(HOURS_PER_SLICE_PER_MONTH * o.usd_per_hour * q)
                    nodes.append((q, r))
                # symmetry breaking (valid): with the private capacity fixed, the cheapest cloud share is
                # max(0, 1 - private/load), monotone in the load, so some optimum uses no more cloud nodes
                # in a slice than in any slice with at least as much load
                for a_h, b_h in _load_chain(g):
                    prob += nodes[a_h][0] <= nodes[b_h][0], f"burst-public-monotone-{tag}-{a_h}-{b_h}"
                    prob += nodes[a_h][1] <= nodes[b_h][1], f"burst-public-monotone-r-{tag}-{a_h}-{b_h}"
                ys.append(y)
                model.burst_public.append(BurstPublic(rkey, g, o, y, nodes))
            prob += pulp.lpSum(ys) <= z, f"burst-public-offering-{lp_name(rkey)}-{lp_name(g.name)}"
        egress_gb = pulp.LpVariable(f"G_{lp_name(rkey)}", lowBound=0)
        total_gb = sum(mbps_to_gb_per_slice_month(s.client_egress_mbps + s.internal_mbps) for s in slices)
        prob += egress_gb <= total_gb * z, f"cloud-egress-region-{lp_name(rkey)}"
        objective.extend(_add_tiered_egress(prob, lp_name(rkey), egress_gb, region.internet_egress, z, total_gb + 1))
        model.regions[rkey] = (region, z, egress_gb)
        if region.load_balancer is not None:
            lb = region.load_balancer
            objective.append(HOURS_PER_MONTH * lb.usd_per_hour * z)
    prob += pulp.lpSum(v[1] for v in model.regions.values()) == 1, "region-choice"
    for sv in model.sites:
        for rkey, (region, z, _) in model.regions.items():
            if region.jurisdiction != sv.site.jurisdiction:
                prob += z + sv.x <= 1, f"same-jurisdiction-{lp_name(rkey)}-{lp_name(sv.site.region)}"
    # cloud egress volume follows the public share
    all_g = pulp.lpSum(v[2] for v in model.regions.values())
    prob += all_g == pulp.lpSum(share[h] * mbps_to_gb_per_slice_month(s.client_egress_mbps + s.internal_mbps)
                                for h, s in enumerate(slices)), "cloud-egress-volume"
    # load balancer capacity units in proportion to the public share (priced at the chosen region's rate:
    # all regions' units are summed with their own price, only the chosen one can be non-zero)
    for rkey, (region, z, _) in model.regions.items():
        if region.load_balancer is None:
            continue
        lb = region.load_balancer
        units = [load_balancer_units(region, ctx.demand.slices[h]) for h in range(n_slices)]
        lb_share = [pulp.LpVariable(f"lbshare_{lp_name(rkey)}_{h}", lowBound=0, upBound=1) for h in range(n_slices)]
        for h in range(n_slices):
            prob += lb_share[h] >= share[h] - (1 - z), f"lb-share-{lp_name(rkey)}-{h}"
        objective.append(pulp.lpSum(HOURS_PER_SLICE_PER_MONTH * lb.usd_per_capacity_unit_hour * units[h] * lb_share[h]
                                    for h in range(n_slices)))

    # --- capacity split per burst group, slice and dimension
    for g in burst_groups:
        for h in range(n_slices):
            for d, need in (("vcpu", g.vcpu[h]), ("memory", g.memory_gib[h])):
                idx = 0 if d == "vcpu" else 1
                private_cap = pulp.lpSum(_capacities(b.sku.vcpu, b.sku.memory_gib, ctx.reserved_gib)[idx] * b.surviving
                                         for b in model.burst_private if b.group.name == g.name)
                public_cap = pulp.lpSum(_capacities(b.offering.vcpu, b.offering.memory_gib, ctx.reserved_gib)[idx]
                                        * b.nodes[h][1] for b in model.burst_public if b.group.name == g.name)
                prob += private_cap >= need - need * share[h], f"private-capacity-{lp_name(g.name)}-{d}-{h}"
                prob += public_cap >= need * share[h], f"public-capacity-{lp_name(g.name)}-{d}-{h}"

    # --- transit at the 95th percentile (drop the busiest slice)
    big_m = max(s.client_egress_mbps + s.media_egress_mbps + s.internal_mbps for s in slices) + 1
    transit = pulp.LpVariable("T", lowBound=0)
    dropped = [pulp.LpVariable(f"v_{h}", cat="Binary") for h in range(n_slices)]
    prob += pulp.lpSum(dropped) <= 1, "p95-drop-one"
    for h, s in enumerate(slices):
        mbps = s.client_egress_mbps + s.media_egress_mbps + share[h] * (s.internal_mbps - s.client_egress_mbps)
        prob += transit >= mbps - big_m * dropped[h], f"p95-{h}"
    for sv in model.sites:
        billed = pulp.LpVariable(f"Tb_{lp_name(sv.site.provider + '_' + sv.site.region)}", lowBound=0)
        prob += billed >= transit - big_m * (1 - sv.x), f"transit-{lp_name(sv.site.region)}"
        prob += billed >= sv.site.transit_min_commit_mbps * sv.x, f"transit-min-{lp_name(sv.site.region)}"
        objective.append(sv.site.transit_usd_per_mbps_month * billed)
    prob += pulp.lpSum(objective)
    return model



def extract_hybrid(ctx: PlanContext, m: HybridModel, solver_info) -> StrategyPlan:
    """Recompute the hybrid plan's cost from the chosen servers, nodes and public shares."""
    sv = max(m.sites, key=lambda s: solved_value(s.x))
    rkey = max(m.regions, key=lambda k: solved_value(m.regions[k][1]))
    region = m.regions[rkey][0]
    share = [min(max(solved_value(f), 0.0), 1.0) for f in m.share]
    slices = ctx.demand.slices
    private_chosen = [(c, c.count) for c, y in sv.servers if solved_value(y) > 0.5]
    burst_private = [b for b in m.burst_private if b.site_key == f"{sv.site.provider}/{sv.site.region}"
                     and round(solved_value(b.servers)) > 0]
    mbps = [s.client_egress_mbps + s.media_egress_mbps + f * (s.internal_mbps - s.client_egress_mbps)
            for f, s in zip(share, slices)]
    billed = max(p95_of_slices(mbps), sv.site.transit_min_commit_mbps)
    racks, fte_steps = round(solved_value(sv.racks)), round(solved_value(sv.fte_steps))
    lines, nodes, usages = site_lines(ctx, sv, private_chosen, racks, fte_steps, billed)
    for b in burst_private:
        count = round(solved_value(b.servers))
        amort, energy = server_monthly_usd(ctx, sv.site, b.sku)
        lines.append(CostLine("hardware_amortization", f"{b.group.name} (private base): {b.sku.sku}", count, "servers",
                              amort * count, b.sku.ref))
        nodes.append(Node(b.group.name, sv.site.provider, sv.site.region, b.sku.sku, count, "owned",
                          (amort + energy) * count, count * HOURS_PER_MONTH, b.sku.vcpu, b.sku.memory_gib, b.sku.ref))
    # the burst servers' energy is part of the site's energy line
    for line_index, line in enumerate(lines):
        if line.category == "facilities_power" and line.unit == "kWh":
            extra_kwh = sum(b.sku.watts / 1000 * sv.site.pue * HOURS_PER_MONTH * round(solved_value(b.servers))
                            for b in burst_private)
            lines[line_index] = CostLine(line.category, line.item, line.quantity + extra_kwh, "kWh",
                                         (line.quantity + extra_kwh) * sv.site.power_usd_per_kwh, line.ref)
    for b in m.burst_public:
        if b.region_key != rkey or solved_value(b.y) < 0.5:
            continue
        counts = [round(solved_value(q)) for q, _ in b.nodes]
        if not any(counts):
            continue
        o = b.offering
        hours = sum(counts) * HOURS_PER_SLICE_PER_MONTH
        lines.append(CostLine(COMPUTE, f"{b.group.name} (cloud burst): {o.type}", max(counts), "nodes at peak",
                              hours * o.usd_per_hour, o.ref))
        nodes.append(Node(b.group.name, o.provider, o.region, o.type, max(counts), "on_demand (autoscaled)",
                          hours * o.usd_per_hour, hours, o.vcpu, o.memory_gib, o.ref))
    cloud_gb = sum(f * mbps_to_gb_per_slice_month(s.client_egress_mbps + s.internal_mbps)
                   for f, s in zip(share, slices))
    lines.append(CostLine(NETWORK, "cloud egress of the burst share (to users and to the private site)", cloud_gb,
                          "GB", graduated_cost(cloud_gb, region.internet_egress), region.internet_egress_ref))
    if region.load_balancer is not None:
        lb = region.load_balancer
        unit_hours = sum(f * load_balancer_units(region, s) * HOURS_PER_SLICE_PER_MONTH for f, s in zip(share, slices))
        lines.append(CostLine(LOAD_BALANCING, f"{lb.name} hours (cloud burst entry)", HOURS_PER_MONTH, "hours",
                              HOURS_PER_MONTH * lb.usd_per_hour, lb.ref))
        lines.append(CostLine(LOAD_BALANCING, f"{lb.name} capacity units", unit_hours, "unit-hours",
                              unit_hours * lb.usd_per_capacity_unit_hour, lb.ref))
    peak_share = max(share)
    return StrategyPlan(name="hybrid", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines),
                        location=f"{sv.site.provider} {sv.site.region} + {region.provider} {region.region}",
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(usages), solver=solver_info,
                        message=f"cloud serves up to {peak_share:.0%} of the burst tiers' load at the busiest hour")
