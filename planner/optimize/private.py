"""Private-cloud (colocation) strategy as a MILP.

Sets: sites s (allowed), tier groups g (dedicated, or pooled stateless tiers + cache + load balancer),
server SKUs k (storage-role SKUs for media objects, compute-role SKUs for the rest).
Data: m[g,k] servers group g needs on SKU k at the busiest slice (owned servers run all day),
with HA across D racks and disk capacity for the database copies and erasure-coded media;
a_k monthly amortization, w_k watts; per site: colo price per provisioned kW, energy price, PUE,
kW and rack units per rack, network gear per rack, transit price at the 95th percentile, ops labour.

Variables: x_s in {0,1} site chosen; y[g,k] in {0,1} SKU chosen for group g; R_s in Z+ racks;
F_s in Z+ ops FTE steps.
min  sum_{g,k} m[g,k] y[g,k] (a_k + energy_k) + sum_s R_s (kW_rack colo_s + gear_s) + F_s step_s fte_s/12
     + transit_s x_s
s.t. sum_s x_s = 1                                                  site-choice
     sum_k y[g,k] = x_s                                              sku-<s>-<g>
     sum m[g,k] u_k y[g,k] + R_s u_gear <= R_s U_rack                rack-units-<s>
     sum m[g,k] w_k y[g,k] + R_s w_gear <= 1000 R_s kW_rack           rack-power-<s>
     R_s >= D x_s  (when a rack loss must be survived)               rack-domains-<s>
     step_s F_s >= sum m[g,k] y[g,k] / servers_per_fte;  step_s F_s >= min_fte x_s     labour-<s>
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pulp

from planner.catalog.records import PrivateSite, ServerSku
from planner.costs import HaRule, nodes_needed, p95_of_slices
from planner.model import FACILITIES, HARDWARE, LABOUR, NETWORK, CostLine, Node, StrategyPlan
from planner.optimize.candidates import Group, ha_rule, lp_name, make_groups, solved_value, usage
from planner.optimize.context import PlanContext, private_sites
from planner.units import GB_PER_TB, HOURS_PER_MONTH, amortized_per_month, gib_to_gb, per_year_to_per_month

PRIVATE_TIERS = ["gateway", "message", "database", "cache", "load_balancer"]
POOL = ("gateway", "message", "cache", "load_balancer")
MEDIA_GROUP = "object_storage"
KW_PER_WATT = 1 / 1000


@dataclass(frozen=True)
class ServerCandidate:
    group: Group
    sku: ServerSku
    count: int
    storage_tb: float  # disk the group needs


def storage_needs_tb(ctx: PlanContext) -> dict[str, float]:
    """Disk each stateful group needs: database copies and erasure-coded media, at the fill ratio."""
    p = ctx.workload.private
    db_tb = gib_to_gb(ctx.demand.database_storage_gib) * p.database_replicas / GB_PER_TB
    media_tb = ctx.demand.media_stored_gb / GB_PER_TB * p.media_replication_factor
    return {"database": db_tb / p.storage_fill_ratio, MEDIA_GROUP: media_tb / p.storage_fill_ratio}


def media_group(ctx: PlanContext) -> Group:
    zeros = (0.0,) * len(ctx.demand.slices)
    return Group(MEDIA_GROUP, (MEDIA_GROUP,), zeros, zeros, zeros, zeros, stateful=True, spot_eligible=False,
                 min_nodes=2 if ctx.workload.availability.tolerate_node_loss else 1)


def private_groups(ctx: PlanContext, pooled: bool, tiers: list[str] | None = None) -> list[Group]:
    groups = make_groups(ctx.requirements, ctx.profile, tiers or PRIVATE_TIERS, pooled, POOL)
    return groups + [media_group(ctx)]


def server_count(group: Group, sku: ServerSku, storage_tb: float, reserved_gib: float, ha: HaRule) -> int | None:
    """Servers for the busiest slice, HA applied to compute; disk is replicated already, so it is a floor.
    The busiest slice is taken per resource: the CPU peak and the memory peak need not be the same hour."""
    counts = [nodes_needed(v, m, sku.vcpu, sku.memory_gib, reserved_gib, ha)
              for v, m in zip(group.vcpu, group.memory_gib)]
    if not counts or None in counts:
        return None
    n = max(counts)
    if storage_tb > 0:
        if sku.storage_tb <= 0:
            return None
        n = max(n, math.ceil(storage_tb / sku.storage_tb - 1e-9))
    return max(n, ha.min_nodes)


def server_candidates(ctx: PlanContext, group: Group, skus: tuple[ServerSku, ...]) -> list[ServerCandidate]:
    storage = storage_needs_tb(ctx).get(group.name, 0.0)
    role = "storage" if group.name == MEDIA_GROUP else "compute"
    ha = ha_rule(ctx.workload, group)
    out = []
    for sku in skus:
        if sku.role != role:
            continue
        count = server_count(group, sku, storage, ctx.reserved_gib, ha)
        if count is not None:
            out.append(ServerCandidate(group, sku, count, storage))
    return out


def amortization_years(ctx: PlanContext, sku: ServerSku) -> float:
    return ctx.workload.private.amortization_years or sku.amortization_years


def server_monthly_usd(ctx: PlanContext, site: PrivateSite, sku: ServerSku) -> tuple[float, float]:
    """(amortization, energy) per server per month."""
    energy = sku.watts * KW_PER_WATT * site.pue * HOURS_PER_MONTH * site.power_usd_per_kwh
    return amortized_per_month(sku.capex_usd, amortization_years(ctx, sku)), energy


def rack_monthly_usd(site: PrivateSite) -> tuple[float, float, float]:
    """(colo for the rack's kW, network gear amortization, gear energy) per rack per month."""
    gear = sum(g.per_rack * amortized_per_month(g.capex_usd, g.amortization_years) for g in site.network_gear)
    gear_energy = sum(g.per_rack * g.watts for g in site.network_gear) * KW_PER_WATT * site.pue * HOURS_PER_MONTH \
        * site.power_usd_per_kwh
    return site.kw_per_rack * site.colo_usd_per_kw_month, gear, gear_energy


def transit_mbps(ctx: PlanContext) -> float:
    """Outbound traffic at the 95th percentile: messages, events and media downloads from own servers."""
    return p95_of_slices([s.client_egress_mbps + s.media_egress_mbps for s in ctx.demand.slices])


def labour_usd_per_fte_month(ctx: PlanContext, site: PrivateSite) -> float:
    return per_year_to_per_month(ctx.workload.private.usd_per_fte_year or site.labour_usd_per_fte_year)


def servers_per_fte(ctx: PlanContext, site: PrivateSite) -> float:
    return ctx.workload.private.servers_per_fte or site.servers_per_fte


def required_racks(ctx: PlanContext) -> int:
    return ctx.workload.availability.failure_domains if ctx.workload.availability.tolerate_domain_loss else 1


@dataclass
class SiteVars:
    site: PrivateSite
    x: pulp.LpVariable
    racks: pulp.LpVariable
    fte_steps: pulp.LpVariable
    servers: list[tuple[ServerCandidate, pulp.LpVariable]]


def add_site(prob: pulp.LpProblem, ctx: PlanContext, site: PrivateSite, groups: list[Group], objective: list,
             transit_usd: float, extra_servers=None) -> SiteVars | None:
    """Site variables and constraints (shared by the private and hybrid models).

    extra_servers: (count expression, rack units, watts) of servers placed by the caller (hybrid burst tiers)."""
    key = lp_name(f"{site.provider}_{site.region}")
    table = {g.name: server_candidates(ctx, g, site.servers) for g in groups}
    if any(not cands for cands in table.values()):
        return None
    x = pulp.LpVariable(f"x_{key}", cat="Binary")
    racks = pulp.LpVariable(f"racks_{key}", lowBound=0, cat="Integer")
    fte = pulp.LpVariable(f"fte_{key}", lowBound=0, cat="Integer")
    servers = []
    for g in groups:
        ys = []
        for c in table[g.name]:
            y = pulp.LpVariable(f"y_{key}_{lp_name(g.name)}_{lp_name(c.sku.sku)}", cat="Binary")
            amort, energy = server_monthly_usd(ctx, site, c.sku)
            objective.append(c.count * (amort + energy) * y)
            ys.append(y)
            servers.append((c, y))
        prob += pulp.lpSum(ys) == x, f"sku-{key}-{lp_name(g.name)}"
    extra_count, extra_ru, extra_watts = extra_servers or (0, 0, 0)
    gear_ru = sum(g.per_rack * g.rack_units for g in site.network_gear)
    gear_watts = sum(g.per_rack * g.watts for g in site.network_gear)
    prob += (pulp.lpSum(c.count * c.sku.rack_units * y for c, y in servers) + extra_ru + gear_ru * racks
             <= site.rack_units_per_rack * racks), f"rack-units-{key}"
    prob += (pulp.lpSum(c.count * c.sku.watts * y for c, y in servers) + extra_watts + gear_watts * racks
             <= 1000 * site.kw_per_rack * racks), f"rack-power-{key}"
    prob += racks >= required_racks(ctx) * x, f"rack-domains-{key}"
    server_total = pulp.lpSum(c.count * y for c, y in servers) + extra_count
    prob += site.fte_step * fte >= server_total / servers_per_fte(ctx, site), f"labour-{key}"
    prob += site.fte_step * fte >= site.min_fte * x, f"labour-min-{key}"
    colo, gear, gear_energy = rack_monthly_usd(site)
    objective.append((colo + gear + gear_energy) * racks)
    objective.append(site.fte_step * labour_usd_per_fte_month(ctx, site) * fte)
    objective.append(transit_usd * x)
    return SiteVars(site, x, racks, fte, servers)


def site_lines(ctx: PlanContext, sv: SiteVars, chosen: list[tuple[ServerCandidate, int]], racks: int, fte_steps: int,
               transit_mbps_billed: float) -> tuple[list[CostLine], list[Node], list]:
    """Cost lines, node rows and usage of the servers chosen at one site (pure recomputation)."""
    site = sv.site
    lines, nodes, usages = [], [], []
    kwh = 0.0
    for c, count in chosen:
        amort, energy = server_monthly_usd(ctx, site, c.sku)
        kwh += c.sku.watts * KW_PER_WATT * site.pue * HOURS_PER_MONTH * count
        lines.append(CostLine(HARDWARE, f"{c.group.name}: {c.sku.sku} amortized over "
                              f"{amortization_years(ctx, c.sku):g} years", count, "servers", amort * count, c.sku.ref))
        nodes.append(Node(c.group.name, site.provider, site.region, c.sku.sku, count, "owned", (amort + energy) * count,
                          count * HOURS_PER_MONTH, c.sku.vcpu, c.sku.memory_gib, c.sku.ref))
        if any(c.group.vcpu) or any(c.group.memory_gib):
            usages.append(usage(c.group, (count,) * len(c.group.vcpu), c.sku.vcpu, c.sku.memory_gib, ctx.reserved_gib,
                                ha_rule(ctx.workload, c.group)))
    colo, gear, _ = rack_monthly_usd(site)
    if racks:
        lines.append(CostLine(FACILITIES, f"colocation, {site.kw_per_rack:g} kW per rack", racks, "racks",
                              colo * racks, site.facility_ref))
        lines.append(CostLine(HARDWARE, "network gear amortized (" + ", ".join(
            f"{g.per_rack}x {g.name}" for g in site.network_gear) + " per rack)", racks, "racks", gear * racks,
            site.network_gear[0].ref if site.network_gear else None))
    kwh += sum(g.per_rack * g.watts for g in site.network_gear) * racks * KW_PER_WATT * site.pue * HOURS_PER_MONTH
    lines.append(CostLine(FACILITIES, f"energy at PUE {site.pue:g}", kwh, "kWh", kwh * site.power_usd_per_kwh,
                          site.facility_ref))
    lines.append(CostLine(NETWORK, "IP transit at the 95th percentile", transit_mbps_billed, "Mbps",
                          transit_mbps_billed * site.transit_usd_per_mbps_month, site.transit_ref))
    fte = fte_steps * site.fte_step
    lines.append(CostLine(LABOUR, f"operations, {site.automation_level} ({servers_per_fte(ctx, site):g} servers/FTE)",
                          fte, "FTE", fte * labour_usd_per_fte_month(ctx, site), site.labour_ref))
    return lines, nodes, usages


@dataclass
class PrivateModel:
    prob: pulp.LpProblem
    sites: list[SiteVars]
    excluded: list[str]
    pooled: bool


def build_private(ctx: PlanContext, pooled: bool) -> PrivateModel:
    sites, excluded = private_sites(ctx)
    prob = pulp.LpProblem(f"private_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    objective: list = []
    groups = private_groups(ctx, pooled)
    built = []
    mbps = transit_mbps(ctx)
    for site in sites:
        billed = max(mbps, site.transit_min_commit_mbps)
        sv = add_site(prob, ctx, site, groups, objective, billed * site.transit_usd_per_mbps_month)
        if sv is None:
            excluded.append(f"{site.provider}/{site.region}: no server SKU can carry every tier")
            continue
        built.append(sv)
    if built:
        prob += pulp.lpSum(sv.x for sv in built) == 1, "site-choice"
    prob += pulp.lpSum(objective)
    return PrivateModel(prob, built, excluded, pooled)



def extract_private(ctx: PlanContext, m: PrivateModel, solver_info) -> StrategyPlan:
    sv = max(m.sites, key=lambda s: solved_value(s.x))
    chosen = [(c, c.count) for c, y in sv.servers if solved_value(y) > 0.5]
    billed = max(transit_mbps(ctx), sv.site.transit_min_commit_mbps)
    racks, fte_steps = round(solved_value(sv.racks)), round(solved_value(sv.fte_steps))
    lines, nodes, usages = site_lines(ctx, sv, chosen, racks, fte_steps, billed)
    return StrategyPlan(name="private", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines),
                        location=f"{sv.site.provider} {sv.site.region}",
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(usages), solver=solver_info)
