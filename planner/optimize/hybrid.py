"""Hybrid strategy as a MILP: own servers carry the base, public cloud carries the daily peak.

Placement rule: the data tiers (database, cache, object storage) and the load balancer stay private;
the cloud region must be in the private site's jurisdiction (latency and data residency); the cloud part is
optional (sum_r z_r <= 1, f_h <= sum_r z_r): a hybrid whose cloud would carry nothing bills no cloud at all;
the burst tiers form one burst cell (co-located) in both pooling variants;
the burst tiers (placement.hybrid_burst_tiers, default gateway and message) may run on both sites.
One share f_h in [0, 1] of the burst tiers' load is served from the cloud in slice h.

On top of the private model (planner.optimize.private, whose site, colo product, power, transit and backup
terms it reuses; labour by planner.labour, the rule of every strategy) and for every burst group g:
  P[g,k] in Z+ private servers, S[g,k] in Z+ of them surviving a failure (S <= P - y, and D S <= (D-1) P
  for the site's layout D, switched by the layout binary with a big M);
  Q[g,o,h] in Z+ on-demand cloud nodes per slice, R[g,o,h] in Z+ surviving (D R <= (D-1) Q, or R <= Q - a_h);
  capacity in every dimension d:  sum_k S cap_kd >= (1 - f_h) L_ghd,   sum_o R cap_od >= f_h L_ghd.
Cloud egress G = sum_h f_h (client_h + internal_h) H (GB/month) priced with exact graduated tiers
(tier-fill binaries: a tier is used only once every cheaper-numbered tier is full);
transit at the 95th percentile: T >= (1 - f_h) client_h + media_h + f_h internal_h - M v_h, sum_h v_h <= 1
(dropping the busiest slice, see planner.costs.p95_of_slices); the cloud load balancer bills hours while the
cloud is used plus capacity units in proportion to f_h. Every cost is one planner.terms.CostTerm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulp

from planner.catalog.records import PublicRegion, TransferTier
from planner.costs import fixed_load_balancer_term, load_balancer_units
from planner.labour import labour_rates, labour_terms
from planner.model import COMPUTE, HARDWARE, LOAD_BALANCING, NETWORK, StrategyPlan
from planner.optimize.candidates import (Candidate, Group, ha_rule, lp_name, make_groups, node_counts,
                                          prune_dominated)
from planner.optimize.context import PlanContext, hybrid_locations
from planner.optimize.private import (ExtraServers, SiteVars, _capital_text, add_site, ha_for, layout_text,
                                      media_group, server_usage, server_usd_per_month, site_systems)
from planner.terms import CostTerm, NodeSpec, objective, plan_lines, solved
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
    peak_full: int


@dataclass
class BurstPublic:
    region_key: str
    group: Group
    offering: object
    y: pulp.LpVariable
    nodes: list[tuple[pulp.LpVariable, pulp.LpVariable]]  # (running, surviving a failure) per slice


@dataclass
class HybridModel:
    prob: pulp.LpProblem
    sites: list[SiteVars]
    regions: dict[str, tuple[PublicRegion, pulp.LpVariable, pulp.LpVariable]]  # region, chosen, egress GB
    share: list[pulp.LpVariable]
    terms: list[CostTerm] = field(default_factory=list)
    burst_private: list[BurstPrivate] = field(default_factory=list)
    burst_public: list[BurstPublic] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    pooled: bool = False
    own_systems: tuple[str, ...] = ()  # self-run systems on own servers: what a move from a cloud moves


def _capacities(vcpu: float, memory_gib: float, reserved: float) -> tuple[float, float]:
    return vcpu, memory_gib - reserved


def _tiered_egress(prob, name: str, amount, tiers: tuple[TransferTier, ...], active, big_m: float):
    """Exact graduated cost of `amount` GB with decreasing per-GB prices (a concave cost): a tier may hold
    GB only when its fill binary is on, and it may be on only when the tier before it is full.
    Returns the cost expression (the tier pieces at their prices)."""
    cost, parts, previous, lower = [], [], None, 0.0
    for i, tier in enumerate(tiers):
        width = (tier.up_to_gb - lower) if tier.up_to_gb is not None else big_m
        q = prob.add_variable(f"egress_{name}_{i}", lowBound=0, upBound=width)
        on = prob.add_variable(f"egress_fill_{name}_{i}", cat="Binary")
        prob += q <= width * on, f"egress-tier-{name}-{i}"
        prob += on <= active, f"egress-active-{name}-{i}"
        if previous is not None:
            prob += previous[0] >= previous[1] * on, f"egress-order-{name}-{i}"
        cost.append(tier.usd_per_gb * q)
        parts.append(q)
        previous = (q, width)
        lower = tier.up_to_gb if tier.up_to_gb is not None else lower
    prob += pulp.lpSum(parts) == amount, f"egress-total-{name}"
    return pulp.lpSum(cost)


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


def _burst_private_vars(prob, ctx: PlanContext, site, burst_groups: list[Group]) -> list[BurstPrivate]:
    """Private servers each burst group may keep at the site (their HA constraints follow the site's layout)."""
    skey = lp_name(f"{site.provider}_{site.region}")
    out = []
    for g in burst_groups:
        for sku in (k for k in site.servers if k.role == "compute"):
            # the most servers ever useful: the whole load on this SKU with the loosest layout's HA
            peak_full = max(max(node_counts(g, sku.vcpu, sku.memory_gib, ctx.reserved_gib, ha_for(ctx, g, d)) or (0,))
                            for d in (1, 2, 3))
            if peak_full == 0:
                continue
            tag = f"{skey}_{lp_name(g.name)}_{lp_name(sku.sku)}"
            y = prob.add_variable(f"yp_{tag}", cat="Binary")
            servers = prob.add_variable(f"P_{tag}", lowBound=0, upBound=peak_full, cat="Integer")
            surviving = prob.add_variable(f"S_{tag}", lowBound=0, upBound=peak_full, cat="Integer")
            prob += servers <= peak_full * y, f"burst-private-use-{tag}"
            prob += servers >= g.min_nodes * y, f"burst-private-min-{tag}"
            a = ctx.workload.availability
            prob += surviving <= servers - (y if a.tolerate_node_loss or a.tolerate_domain_loss else 0), \
                f"burst-private-node-ha-{tag}"
            out.append(BurstPrivate(f"{site.provider}/{site.region}", g, sku, y, servers, surviving, peak_full))
    return out


def build_hybrid(ctx: PlanContext, pooled: bool) -> HybridModel:
    w = ctx.workload
    sites, regions, excluded = hybrid_locations(ctx)
    prob = pulp.LpProblem(f"hybrid_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    burst_tiers = [t for t in ("gateway", "message") if t in w.placement.hybrid_burst_tiers]
    private_tiers = PRIVATE_ONLY + [t for t in ("gateway", "message") if t not in burst_tiers]
    private_pool = ("cache", "load_balancer", *[t for t in ("gateway", "message") if t not in burst_tiers])
    private_groups = make_groups(ctx.requirements, ctx.profile, private_tiers, pooled, private_pool)
    if ctx.demand.media_stored_gb > 0:
        private_groups.append(media_group(ctx))
    # the burst tiers always form one burst cell (co-located on the same nodes, private and cloud alike):
    # the cloud part is one autoscaling group, and one group per tier would double the per-slice integers
    burst_groups = make_groups(ctx.requirements, ctx.profile, burst_tiers, True, tuple(burst_tiers))
    slices = ctx.demand.slices
    n_slices = len(slices)
    share = [prob.add_variable(f"f_{h}", lowBound=0, upBound=1) for h in range(n_slices)]
    model = HybridModel(prob, [], {}, share, excluded=excluded, pooled=pooled)
    terms = model.terms

    # --- transit at the 95th percentile of the site's outbound traffic (drop the busiest slice)
    big_m = max(s.client_egress_mbps + s.media_egress_mbps + s.internal_mbps for s in slices) + 1
    transit = prob.add_variable("T", lowBound=0)
    dropped = [prob.add_variable(f"v_{h}", cat="Binary") for h in range(n_slices)]
    prob += pulp.lpSum(dropped) <= 1, "p95-drop-one"
    for h, s in enumerate(slices):
        mbps = s.client_egress_mbps + s.media_egress_mbps + share[h] * (s.internal_mbps - s.client_egress_mbps)
        prob += transit >= mbps - big_m * dropped[h], f"p95-{h}"

    # --- private site(s): data tiers via the private model, plus the burst tiers' private base
    for site in sites:
        burst_vars = _burst_private_vars(prob, ctx, site, burst_groups)
        extra = ExtraServers(pulp.lpSum(b.servers for b in burst_vars),
                             pulp.lpSum(b.sku.rack_units * b.servers for b in burst_vars),
                             pulp.lpSum(b.sku.watts * b.servers for b in burst_vars))
        upper = (sum(b.sku.rack_units * b.peak_full for b in burst_vars), sum(b.sku.watts * b.peak_full
                                                                             for b in burst_vars))
        sv = add_site(prob, ctx, site, private_groups, transit, extra, upper)
        if sv is None:
            excluded.append(f"{site.provider}/{site.region}: no server SKU can carry every private tier")
            continue
        for b in burst_vars:
            tag = lp_name(f"{b.site_key}_{b.group.name}_{b.sku.sku}")
            prob += b.y <= sv.x, f"burst-private-site-{tag}"
            for d, chosen in sv.layout.items():
                if d >= 2:
                    prob += d * b.surviving <= (d - 1) * b.servers + d * b.peak_full * (1 - chosen), \
                        f"burst-private-domain-ha-{tag}-{d}"
            count = b.servers
            years = w.private.amortization_years or b.sku.amortization_years
            terms.append(CostTerm(HARDWARE, f"{b.group.name} (private base): {b.sku.sku}, {_capital_text(ctx, years)}",
                                  "servers", count, server_usd_per_month(ctx, b.sku), b.sku.ref,
                                  node=NodeSpec(b.group.name, site.provider, site.region, b.sku.sku, "owned",
                                                b.sku.vcpu, b.sku.memory_gib, (count,), HOURS_PER_MONTH * count),
                                  asset=f"server:{b.sku.sku}"))
        model.sites.append(sv)
        model.burst_private.extend(burst_vars)
        terms += sv.terms
    if not model.sites:
        prob += objective(terms)
        return model
    prob += pulp.lpSum(sv.x for sv in model.sites) == 1, "site-choice"

    # --- public region(s) for the burst share: optional, at most one
    a = w.availability
    domains = a.failure_domains
    cloud_nodes = []
    for region in regions:
        rkey = f"{region.provider}/{region.region}"
        z = prob.add_variable(f"z_{lp_name(rkey)}", cat="Binary")
        offerings = [o for o in ctx.catalog.compute if o.provider == region.provider and o.region == region.region
                     and o.included_egress_gb_per_month == 0]
        for g in burst_groups:
            ys = []
            for c in burst_candidates(g, offerings, ctx):
                o, counts = c.offering, c.counts
                tag = f"{lp_name(rkey)}_{lp_name(g.name)}_{lp_name(o.type)}"
                y = prob.add_variable(f"yq_{tag}", cat="Binary")
                nodes = []
                for h, full in enumerate(counts):
                    q = prob.add_variable(f"Q_{tag}_{h}", lowBound=0, upBound=full, cat="Integer")
                    r = prob.add_variable(f"R_{tag}_{h}", lowBound=0, upBound=full, cat="Integer")
                    prob += q <= full * y, f"burst-public-use-{tag}-{h}"
                    if a.tolerate_domain_loss and domains >= 2:
                        prob += domains * r <= (domains - 1) * q, f"burst-public-domain-ha-{tag}-{h}"
                    elif a.tolerate_node_loss:
                        active = prob.add_variable(f"A_{tag}_{h}", cat="Binary")
                        prob += q <= full * active, f"burst-public-active-{tag}-{h}"
                        prob += r <= q - active, f"burst-public-node-ha-{tag}-{h}"
                    else:
                        prob += r <= q, f"burst-public-all-{tag}-{h}"
                    nodes.append((q, r))
                # symmetry breaking (valid): with the private capacity fixed, the cheapest cloud share is
                # max(0, 1 - private/load), monotone in the load, so some optimum uses no more cloud nodes
                # in a slice than in any slice with at least as much load
                for a_h, b_h in _load_chain(g):
                    prob += nodes[a_h][0] <= nodes[b_h][0], f"burst-public-monotone-{tag}-{a_h}-{b_h}"
                    prob += nodes[a_h][1] <= nodes[b_h][1], f"burst-public-monotone-r-{tag}-{a_h}-{b_h}"
                hours = pulp.lpSum(HOURS_PER_SLICE_PER_MONTH * q for q, _ in nodes)
                cloud_nodes.append(hours / HOURS_PER_MONTH)
                terms.append(CostTerm(COMPUTE, f"{g.name} (cloud burst): {o.type}", "node-hours", hours,
                                      o.usd_per_hour, o.ref,
                                      node=NodeSpec(g.name, o.provider, o.region, o.type, "on_demand (autoscaled)",
                                                    o.vcpu, o.memory_gib, tuple(q for q, _ in nodes), hours)))
                ys.append(y)
                model.burst_public.append(BurstPublic(rkey, g, o, y, nodes))
            prob += pulp.lpSum(ys) <= z, f"burst-public-offering-{lp_name(rkey)}-{lp_name(g.name)}"
        # cloud egress of the burst share (to users and to the private site), exact graduated tiers
        egress_gb = prob.add_variable(f"G_{lp_name(rkey)}", lowBound=0)
        total_gb = sum(mbps_to_gb_per_slice_month(s.client_egress_mbps + s.internal_mbps) for s in slices)
        prob += egress_gb <= total_gb * z, f"cloud-egress-region-{lp_name(rkey)}"
        cost = _tiered_egress(prob, lp_name(rkey), egress_gb, region.internet_egress, z, total_gb + 1)
        terms.append(CostTerm(NETWORK, "cloud egress of the burst share (to users and to the private site)", "GB",
                              egress_gb, None, region.internet_egress_ref, tiers=region.internet_egress, cost=cost))
        model.regions[rkey] = (region, z, egress_gb)
        if region.load_balancer is not None:
            lb = region.load_balancer
            # capacity units in proportion to the public share, at the chosen region's rate
            lb_share = [prob.add_variable(f"lbshare_{lp_name(rkey)}_{h}", lowBound=0, upBound=1) for h in range(n_slices)]
            for h in range(n_slices):
                prob += lb_share[h] >= share[h] - (1 - z), f"lb-share-{lp_name(rkey)}-{h}"
            if lb.fixed_size:
                # whole load balancers for the busiest hour's share, kept all month
                count = prob.add_variable(f"nlb_{lp_name(rkey)}", lowBound=0, cat="Integer")
                for h in range(n_slices):
                    prob += count >= load_balancer_units(region, slices[h]) * lb_share[h], \
                        f"lb-count-{lp_name(rkey)}-{h}"
                terms.append(fixed_load_balancer_term(lb, count, " (cloud burst entry)"))
            else:
                terms.append(CostTerm(LOAD_BALANCING, f"{lb.name} hours (cloud burst entry)", "hours",
                                      HOURS_PER_MONTH * z, lb.usd_per_hour, lb.ref))
                unit_hours = pulp.lpSum(HOURS_PER_SLICE_PER_MONTH * load_balancer_units(region, slices[h])
                                        * lb_share[h] for h in range(n_slices))
                terms.append(CostTerm(LOAD_BALANCING, f"{lb.name} capacity units", "unit-hours", unit_hours,
                                      lb.usd_per_capacity_unit_hour, lb.ref))
    cloud_used = pulp.lpSum(v[1] for v in model.regions.values())
    prob += cloud_used <= 1, "region-choice"
    for h in range(n_slices):
        prob += share[h] <= cloud_used, f"share-needs-cloud-{h}"
    for sv in model.sites:
        for rkey, (region, z, _) in model.regions.items():
            if region.jurisdiction != sv.site.jurisdiction:
                prob += z + sv.x <= 1, f"same-jurisdiction-{lp_name(rkey)}-{lp_name(sv.site.region)}"
    # cloud egress volume follows the public share
    prob += pulp.lpSum(v[2] for v in model.regions.values()) == pulp.lpSum(
        share[h] * mbps_to_gb_per_slice_month(s.client_egress_mbps + s.internal_mbps)
        for h, s in enumerate(slices)), "cloud-egress-volume"

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

    # --- labour: the site's systems (the burst cell runs imserver, counted once), own servers and cloud nodes
    owned = pulp.lpSum(sv.owned for sv in model.sites)
    chosen = pulp.lpSum(sv.x for sv in model.sites)
    systems = sorted(set(site_systems(private_groups)) | set(site_systems(burst_groups)))
    model.own_systems = tuple(systems)  # the burst cell runs on own servers too
    terms += labour_terms(prob, "hybrid", labour_rates(w), [(name, chosen) for name in systems],
                          owned + pulp.lpSum(cloud_nodes), owned)
    prob += objective(terms)
    return model


def extract_hybrid(ctx: PlanContext, m: HybridModel, solver_info) -> StrategyPlan:
    """The plan is the model's own cost terms evaluated at the solution."""
    sv = max(m.sites, key=lambda s: solved(s.x))
    lines, nodes = plan_lines(m.terms)
    chosen = [k for k, (_, z, _) in m.regions.items() if solved(z) > 0.5]
    peak_share = max((min(max(solved(f), 0.0), 1.0) for f in m.share), default=0.0)
    location = f"{sv.site.provider} {sv.site.region}"
    if chosen:
        region = m.regions[chosen[0]][0]
        location += f" + {region.provider} {region.region}"
        message = f"cloud serves up to {peak_share:.0%} of the burst tiers' load at the busiest hour"
    else:
        message = "the cloud would carry none of the load: this hybrid is the own-server plan with no cloud part"
    layout = layout_text(sv).lstrip(", ")
    return StrategyPlan(name="hybrid", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines), location=location,
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(server_usage(ctx, [sv])), solver=solver_info,
                        message="; ".join(x for x in (message, layout) if x))
