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

min  sum_r C_r x_r + sum_{g,o} (730 p_b b + sum_h H (p_d d_h + p_s s_h)) + sum_r q_r e_r     (H = 730/24)
s.t. sum_r x_r = 1                                              region-choice
     sum_o y[g,o] = x_r                  for every group g of r   offering-<r>-<g>
     b + d_h + s_h >= n[g,o,h] y[g,o]    for every h              cover-<o>-<h>
     b <= max_h n[g,o,h] y[g,o]                                   base-<o>
     s_h <= c[g,o,h] y[g,o]                                       spot-<o>-<h>
     e_r >= E_r x_r - sum a_o (b + sum_h (d_h + s_h)/24)          allowance-<r>
Stateful groups (database, cache) have n constant over the day, so they never scale or use spot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulp

from planner.catalog.records import PublicRegion
from planner.costs import allowance_egress_cost, autoscaled_cost, internet_egress_gb, public_region_lines
from planner.errors import CatalogError
from planner.model import COMPUTE, NETWORK, CostLine, Node, StrategyPlan
from planner.optimize.candidates import (Candidate, Group, ha_rule, lp_name, make_groups, public_candidates,
                                          solved_value, usage)
from planner.optimize.context import PlanContext, public_regions
from planner.units import HOURS_PER_MONTH, HOURS_PER_SLICE_PER_MONTH

PUBLIC_TIERS = ["gateway", "message", "database", "cache"]
POOL = ("gateway", "message", "cache", "load_balancer")


@dataclass
class GroupVars:
    candidate: Candidate
    y: pulp.LpVariable
    base: pulp.LpVariable
    on_demand: dict[tuple[int, int], pulp.LpVariable]  # (count, spot cap) -> on-demand nodes
    spot: dict[tuple[int, int], pulp.LpVariable | None]


@dataclass
class PublicModel:
    prob: pulp.LpProblem
    regions: list[PublicRegion]
    region_vars: dict[str, pulp.LpVariable]
    group_vars: dict[str, list[GroupVars]]  # region key -> vars of every candidate
    groups: dict[str, list[Group]]
    region_lines: dict[str, list[CostLine]]
    allowance_vars: dict[str, pulp.LpVariable]
    excluded: list[str]
    pooled: bool


def region_groups(ctx: PlanContext, region: PublicRegion, pooled: bool) -> list[Group]:
    tiers = PUBLIC_TIERS + ([] if region.load_balancer is not None else ["load_balancer"])
    return make_groups(ctx.requirements, ctx.profile, tiers, pooled, POOL)


def has_allowance(offerings) -> bool:
    return any(o.included_egress_gb_per_month > 0 for o in offerings)


def build_public(ctx: PlanContext, pooled: bool, regions: list[PublicRegion] | None = None) -> PublicModel:
    if regions is None:
        regions, excluded = public_regions(ctx)
    else:
        excluded = []
    prob = pulp.LpProblem(f"public_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    objective = []
    region_vars, group_vars, groups_by_region, lines_by_region, allowance_vars = {}, {}, {}, {}, {}
    usable = []
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
        x = pulp.LpVariable(f"x_{lp_name(key)}", cat="Binary")
        region_vars[key] = x
        allowance = has_allowance(offerings)
        lines = public_region_lines(region, ctx.demand, ctx.workload, ctx.workload.availability.failure_domains,
                                    egress_served_by_nodes=allowance)
        lines_by_region[key], groups_by_region[key] = lines, groups
        objective.append(sum(line.monthly_cost_usd for line in lines) * x)
        allowance_terms = []
        gvars: list[GroupVars] = []
        for g in groups:
            chosen = []
            for c in table[g.name]:
                tag = lp_name(f"{g.name}_{c.offering.key}")
                y = pulp.LpVariable(f"y_{tag}", cat="Binary")
                base = pulp.LpVariable(f"b_{tag}", lowBound=0, upBound=c.max_count, cat="Integer")
                prob += base <= c.max_count * y, f"base-{tag}"
                objective.append(HOURS_PER_MONTH * c.base_usd_per_hour * base)
                # slices with the same node count and spot cap have identical constraints: one variable
                # per distinct (count, cap), weighted by how many slices share it (exact, and much smaller)
                od, sp = {}, {}
                for need, cap in sorted(set(zip(c.counts, c.spot_cap))):
                    hours = HOURS_PER_SLICE_PER_MONTH * sum(1 for x in zip(c.counts, c.spot_cap) if x == (need, cap))
                    if need <= 0 or (c.group.stateful and c.base_usd_per_hour <= c.offering.usd_per_hour):
                        prob += base >= need * y, f"cover-{tag}-{need}-{cap}"
                        continue
                    # where instances bundle traffic, running nodes beyond the load can pay for themselves in
                    # allowance: then they are whole nodes the plan reports (elsewhere d, s are integral anyway)
                    kind = "Integer" if c.offering.included_egress_gb_per_month else "Continuous"
                    d = pulp.LpVariable(f"d_{tag}_{need}_{cap}", lowBound=0, cat=kind)
                    s_var = pulp.LpVariable(f"s_{tag}_{need}_{cap}", lowBound=0, cat=kind) if cap > 0 else None
                    prob += base + d + (s_var if s_var is not None else 0) >= need * y, f"cover-{tag}-{need}-{cap}"
                    objective.append(hours * c.offering.usd_per_hour * d)
                    if s_var is not None:
                        prob += s_var <= cap * y, f"spot-{tag}-{need}-{cap}"
                        objective.append(hours * c.offering.usd_per_hour_spot * s_var)
                    od[(need, cap)], sp[(need, cap)] = d, s_var
                if c.offering.included_egress_gb_per_month:
                    slices_with = {k: sum(1 for x in zip(c.counts, c.spot_cap) if x == k) for k in od}
                    node_months = base + pulp.lpSum(
                        (od[k] + (sp[k] if sp[k] is not None else 0)) * slices_with[k] for k in od) / len(c.counts)
                    allowance_terms.append(c.offering.included_egress_gb_per_month * node_months)
                gv = GroupVars(c, y, base, od, sp)
                chosen.append(gv)
                gvars.append(gv)
            prob += pulp.lpSum(v.y for v in chosen) == x, f"offering-{lp_name(key)}-{lp_name(g.name)}"
        group_vars[key] = gvars
        if allowance:
            if len(region.internet_egress) != 1:
                raise CatalogError(f"{region.provider}: region {region.region} bundles a traffic allowance with its "
                                   "instances, so its internet transfer must be a single flat overage tier")
            e = pulp.LpVariable(f"e_{lp_name(key)}", lowBound=0)
            prob += e >= internet_egress_gb(region, ctx.demand) * x - pulp.lpSum(allowance_terms), \
                f"allowance-{lp_name(key)}"
            objective.append(region.internet_egress[0].usd_per_gb * e)
            allowance_vars[key] = e
    if region_vars:
        prob += pulp.lpSum(region_vars.values()) == 1, "region-choice"
    prob += pulp.lpSum(objective)
    return PublicModel(prob, usable, region_vars, group_vars, groups_by_region, lines_by_region, allowance_vars,
                       excluded, pooled)



def extract_public(ctx: PlanContext, m: PublicModel, solver_info) -> StrategyPlan:
    """Read the chosen topology and recompute its cost with the pure cost functions."""
    key = max(m.region_vars, key=lambda k: solved_value(m.region_vars[k]))
    region = next(r for r in m.regions if f"{r.provider}/{r.region}" == key)
    lines = list(m.region_lines[key])
    nodes, usages = [], []
    allowance_gb = 0.0
    for gv in m.group_vars[key]:
        if solved_value(gv.y) < 0.5:
            continue
        c, o = gv.candidate, gv.candidate.offering
        base = round(solved_value(gv.base))
        spot = tuple(round(solved_value(gv.spot.get(k))) for k in zip(c.counts, c.spot_cap))
        running = c.counts
        if o.included_egress_gb_per_month:
            # the model may run more nodes than the load needs for their traffic allowance: report what it bought
            on_demand = tuple(round(solved_value(gv.on_demand.get(k))) for k in zip(c.counts, c.spot_cap))
            running = tuple(max(n, base + d + s) for n, d, s in zip(c.counts, on_demand, spot))
        bought = replace(c, counts=running)
        cost = autoscaled_cost(running, base, spot, c.base_usd_per_hour, o.usd_per_hour, o.usd_per_hour_spot)
        lines.append(CostLine(COMPUTE, f"{c.group.name}: {o.type}", max(running), "nodes at peak", cost, o.ref))
        nodes.extend(_node_rows(bought, base, spot))
        usages.append(usage(c.group, c.counts, o.vcpu, o.memory_gib, ctx.reserved_gib, ha_rule(ctx.workload, c.group)))
        node_hours = sum(row.node_hours_per_month for row in _node_rows(bought, base, spot))
        allowance_gb += o.included_egress_gb_per_month * node_hours / HOURS_PER_MONTH
    if key in m.allowance_vars:
        billed = allowance_egress_cost(region, ctx.demand, allowance_gb)
        egress = internet_egress_gb(region, ctx.demand)
        lines.append(CostLine(NETWORK, f"internet egress beyond the {allowance_gb:,.0f} GB included with the servers",
                              max(egress - allowance_gb, 0.0), "GB", billed, region.internet_egress_ref))
    total = sum(line.monthly_cost_usd for line in lines)
    return StrategyPlan(name="public", status=solver_info.status, monthly_cost_usd=total,
                        location=f"{region.provider} {region.region}",
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(usages), solver=solver_info)


def _node_rows(c: Candidate, base: int, spot: tuple[int, ...]) -> list[Node]:
    """Always-on base nodes, then the on-demand and spot nodes added in busy slices."""
    o = c.offering
    rows = []
    if base:
        rows.append(Node(c.group.name, o.provider, o.region, o.type, base, c.base_purchase,
                         base * c.base_usd_per_hour * HOURS_PER_MONTH, base * HOURS_PER_MONTH, o.vcpu, o.memory_gib,
                         o.ref))
    extra = [max(n - base, 0) for n in c.counts]
    spot_used = [min(s, e) for s, e in zip(spot, extra)]
    od = [e - s for e, s in zip(extra, spot_used)]
    for purchase, counts, price in (("on_demand", od, o.usd_per_hour), ("spot", spot_used, o.usd_per_hour_spot)):
        if any(counts):
            hours = sum(counts) * HOURS_PER_SLICE_PER_MONTH
            rows.append(Node(c.group.name, o.provider, o.region, o.type, max(counts), f"{purchase} (autoscaled)",
                             hours * (price or 0.0), hours, o.vcpu, o.memory_gib, o.ref))
    return rows
