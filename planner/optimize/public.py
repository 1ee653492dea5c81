"""Public-cloud strategy as a MILP.

Sets: regions r (allowed by residency and availability), tier groups g (dedicated or pooled),
candidate offerings o of region r for group g (dominated ones pruned), hourly slices h.
Data (the ready cost table): n[g,o,h] nodes group g needs on offering o in slice h (capacity at target
utilization, HA spread over D failure domains), base price p_b (cheapest allowed commitment), on-demand
price p_d, spot price p_s, spot cap c[g,o,h]; C_r the region's instance-independent costs (storage,
CDN/internet egress, cross-zone traffic, managed load balancer), priced by planner.costs.

Variables: x_r in {0,1} region chosen; y[g,o] in {0,1} offering chosen for group g;
b[g,o] in Z+ always-on (committed) nodes; d[g,o,h] >= 0 on-demand and s[g,o,h] >= 0 spot nodes in slice h
(slices with equal n and c share one d and one s, weighted by their number: same optimum, fewer columns);
e_r >= 0 billable egress where instances bundle a traffic allowance a_o.

min  sum_r C_r x_r + sum_{g,o} (730 p_b b + sum_h H (p_d d_h + p_s s_h)) + sum_r q_r e_r + labour   (H = 730/24)
s.t. sum_r x_r = 1                                              region-choice
     sum_o y[g,o] = x_r                  for every group g of r   offering-<r>-<g>
     b + d_h + s_h >= n[g,o,h] y[g,o]    for every h              cover-<o>-<h>
     b <= max_h n[g,o,h] y[g,o]                                   base-<o>
     s_h <= c[g,o,h] y[g,o]                                       spot-<o>-<h>
     e_r >= E_r x_r - sum a_o (b + sum_h (d_h + s_h)/24)          allowance-<r>
Stateful groups (database, cache) have n constant over the day, so they never scale or use spot.
labour (planner.labour, the same rule as private and hybrid): the self-managed systems of region r (imserver,
PostgreSQL, Redis, and HAProxy where r has no managed load balancer) times x_r, plus the average node count.
Every cost above is one planner.terms.CostTerm: the objective is their sum and the plan's lines are the
same terms evaluated at the solution.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulp

from planner.catalog.records import PublicRegion
from planner.costs import internet_egress_gb, public_region_terms
from planner.errors import CatalogError
from planner.labour import labour_rates, labour_terms
from planner.model import COMPUTE, NETWORK, StrategyPlan
from planner.optimize.candidates import (Candidate, Group, ha_rule, lp_name, make_groups, public_candidates,
                                          solved_value, usage)
from planner.optimize.context import PlanContext, public_regions
from planner.terms import CostTerm, NodeSpec, objective, plan_lines, solved
from planner.units import HOURS_PER_MONTH, HOURS_PER_SLICE_PER_MONTH

PUBLIC_TIERS = ["gateway", "message", "database", "cache"]
POOL = ("gateway", "message", "cache", "load_balancer")
# the software each tier runs when it is self-managed (what the labour model counts as a system)
SYSTEMS = {"gateway": "imserver", "message": "imserver", "database": "PostgreSQL", "cache": "Redis",
           "load_balancer": "HAProxy", "object_storage": "object store"}


@dataclass
class GroupVars:
    candidate: Candidate
    y: pulp.LpVariable


@dataclass
class PublicModel:
    prob: pulp.LpProblem
    regions: list[PublicRegion]
    region_vars: dict[str, pulp.LpVariable]
    group_vars: dict[str, list[GroupVars]]  # region key -> vars of every candidate
    terms: list[CostTerm]
    excluded: list[str]
    pooled: bool


def region_groups(ctx: PlanContext, region: PublicRegion, pooled: bool) -> list[Group]:
    tiers = PUBLIC_TIERS + ([] if region.load_balancer is not None else ["load_balancer"])
    return make_groups(ctx.requirements, ctx.profile, tiers, pooled, POOL)


def self_run_systems(tiers) -> list[str]:
    """Distinct self-managed systems the tiers run (gateway and message are both imserver)."""
    return sorted({SYSTEMS[t] for t in tiers})


def has_allowance(offerings) -> bool:
    return any(o.included_egress_gb_per_month > 0 for o in offerings)


def egress_beyond_allowance(prob: pulp.LpProblem, region: PublicRegion, egress_gb: float, chosen,
                            allowance_gb: list) -> CostTerm:
    """Where instances bundle a traffic allowance, only the region's internet egress (egress_gb when `chosen`)
    beyond what its running nodes bring is billed, at the region's flat overage price."""
    if len(region.internet_egress) != 1:
        raise CatalogError(f"{region.provider}: region {region.region} bundles a traffic allowance with its "
                           "instances, so its internet transfer must be a single flat overage tier")
    key = lp_name(f"{region.provider}/{region.region}")
    e = prob.add_variable(f"e_{key}", lowBound=0)
    prob += e >= egress_gb * chosen - pulp.lpSum(allowance_gb), f"allowance-{key}"
    return CostTerm(NETWORK, "internet egress beyond the traffic included with the servers", "GB", e,
                    region.internet_egress[0].usd_per_gb, region.internet_egress_ref)


def _compute_terms(prob: pulp.LpProblem, c: Candidate, y: pulp.LpVariable) -> tuple[list[CostTerm], object, object]:
    """Terms of one candidate offering: always-on base nodes, and on-demand / spot nodes per slice.

    Slices with the same node count and spot cap have identical constraints: one variable per distinct
    (count, cap), weighted by how many slices share it (exact, and much smaller). Returns the terms, the
    node-hours a month (for labour) and GB of traffic allowance the nodes bring."""
    o, g = c.offering, c.group
    tag = lp_name(f"{g.name}_{c.offering.key}")
    base = prob.add_variable(f"b_{tag}", lowBound=0, upBound=c.max_count, cat="Integer")
    prob += base <= c.max_count * y, f"base-{tag}"
    on_demand, spot, weights = [], [], []
    for need, cap in sorted(set(zip(c.counts, c.spot_cap))):
        slices = sum(1 for x in zip(c.counts, c.spot_cap) if x == (need, cap))
        if need <= 0 or (g.stateful and c.base_usd_per_hour <= o.usd_per_hour):
            prob += base >= need * y, f"cover-{tag}-{need}-{cap}"
            continue
        # where instances bundle traffic, running nodes beyond the load can pay for themselves in
        # allowance: then they are whole nodes the plan reports (elsewhere d, s are integral anyway)
        kind = "Integer" if o.included_egress_gb_per_month else "Continuous"
        d = prob.add_variable(f"d_{tag}_{need}_{cap}", lowBound=0, cat=kind)
        s = prob.add_variable(f"s_{tag}_{need}_{cap}", lowBound=0, cat=kind) if cap > 0 else None
        prob += base + d + (s if s is not None else 0) >= need * y, f"cover-{tag}-{need}-{cap}"
        if s is not None:
            prob += s <= cap * y, f"spot-{tag}-{need}-{cap}"
            spot.append(s)
        on_demand.append(d)
        weights.append((d, s, slices))
    base_hours = HOURS_PER_MONTH * base
    od_hours = pulp.lpSum(HOURS_PER_SLICE_PER_MONTH * n * d for d, _, n in weights)
    spot_hours = pulp.lpSum(HOURS_PER_SLICE_PER_MONTH * n * s for _, s, n in weights if s is not None)

    def spec(purchase, counts, hours):
        return NodeSpec(g.name, o.provider, o.region, o.type, purchase, o.vcpu, o.memory_gib, tuple(counts), hours)

    terms = [CostTerm(COMPUTE, f"{g.name}: {o.type}, {c.base_purchase} (always on)", "node-hours", base_hours,
                      c.base_usd_per_hour, o.ref, node=spec(c.base_purchase, [base], base_hours),
                      asset=f"commit:{o.key}")]
    if on_demand:
        terms.append(CostTerm(COMPUTE, f"{g.name}: {o.type}, on_demand (autoscaled)", "node-hours", od_hours,
                              o.usd_per_hour, o.ref, node=spec("on_demand (autoscaled)", on_demand, od_hours)))
    if spot:
        terms.append(CostTerm(COMPUTE, f"{g.name}: {o.type}, spot (autoscaled)", "node-hours", spot_hours,
                              o.usd_per_hour_spot, o.ref, node=spec("spot (autoscaled)", spot, spot_hours)))
    node_hours = base_hours + od_hours + spot_hours
    return terms, node_hours, o.included_egress_gb_per_month * node_hours / HOURS_PER_MONTH


def build_public(ctx: PlanContext, pooled: bool, regions: list[PublicRegion] | None = None) -> PublicModel:
    if regions is None:
        regions, excluded = public_regions(ctx)
    else:
        excluded = []
    prob = pulp.LpProblem(f"public_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    terms: list[CostTerm] = []
    region_vars, group_vars = {}, {}
    usable, systems, node_hours = [], {}, []
    for region in regions:
        key = f"{region.provider}/{region.region}"
        offerings = [o for o in ctx.catalog.compute if o.provider == region.provider and o.region == region.region]
        groups = region_groups(ctx, region, pooled)
        table = {g.name: public_candidates(g, offerings, ctx.workload, ctx.reserved_gib) for g in groups}
        empty = [g for g, cands in table.items() if not cands]
        if empty:
            excluded.append(f"{key}: no allowed instance type can carry {', '.join(empty)}")
            continue
        usable.append(region)
        x = prob.add_variable(f"x_{lp_name(key)}", cat="Binary")
        region_vars[key] = x
        allowance = has_allowance(offerings)
        terms += public_region_terms(region, ctx.demand, ctx.workload, ctx.workload.availability.failure_domains,
                                     egress_served_by_nodes=allowance, chosen=x)
        for system in self_run_systems(t for g in groups for t in g.tiers):
            systems.setdefault(system, []).append(x)
        allowance_gb = []
        gvars: list[GroupVars] = []
        for g in groups:
            chosen = []
            for c in table[g.name]:
                y = prob.add_variable(f"y_{lp_name(f'{g.name}_{c.offering.key}')}", cat="Binary")
                new_terms, hours, gb = _compute_terms(prob, c, y)
                terms += new_terms
                node_hours.append(hours)
                allowance_gb.append(gb)
                gv = GroupVars(c, y)
                chosen.append(gv)
                gvars.append(gv)
            prob += pulp.lpSum(v.y for v in chosen) == x, f"offering-{lp_name(key)}-{lp_name(g.name)}"
        group_vars[key] = gvars
        if allowance:
            terms.append(egress_beyond_allowance(prob, region, internet_egress_gb(region, ctx.demand), x,
                                                 allowance_gb))
    if region_vars:
        prob += pulp.lpSum(region_vars.values()) == 1, "region-choice"
        terms += labour_terms(prob, "public", labour_rates(ctx.workload),
                              [(name, pulp.lpSum(xs)) for name, xs in sorted(systems.items())],
                              pulp.lpSum(node_hours) / HOURS_PER_MONTH)
    prob += objective(terms)
    return PublicModel(prob, usable, region_vars, group_vars, terms, excluded, pooled)


def extract_public(ctx: PlanContext, m: PublicModel, solver_info) -> StrategyPlan:
    """The plan is the model's own cost terms evaluated at the solution."""
    key = max(m.region_vars, key=lambda k: solved_value(m.region_vars[k]))
    region = next(r for r in m.regions if f"{r.provider}/{r.region}" == key)
    lines, nodes = plan_lines(m.terms)
    usages = [usage(gv.candidate.group, gv.candidate.counts, gv.candidate.offering.vcpu,
                    gv.candidate.offering.memory_gib, ctx.reserved_gib, ha_rule(ctx.workload, gv.candidate.group))
              for gv in m.group_vars[key] if solved(gv.y) > 0.5]
    return StrategyPlan(name="public", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines),
                        location=f"{region.provider} {region.region}",
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(usages), solver=solver_info)
