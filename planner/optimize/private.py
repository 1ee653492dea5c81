"""Private-cloud (colocation) strategy as a MILP.

Sets: sites s (allowed), layouts D (failure domains the servers spread over: 1 when a rack loss need not be
survived; else 2 cabinets plus a quorum witness VM, or 3 cabinets), tier groups g (dedicated, or pooled
stateless tiers + cache + load balancer, plus the media object store when there is media), server SKUs k,
colo products p of the site (per-U space, partial or full cabinets, each with rack units and a power allowance).
Data: m[g,k,D] servers group g needs on SKU k with D domains at the busiest slice (own servers run all day),
with disk for the database copies and the media redundancy scheme that survives the loss on that many servers;
a_k monthly payment for the server (annuity at the cost of capital), w_k watts, u_k rack units.

Variables: x_s site chosen; L[s,D] layout chosen; y[g,k,D] SKU chosen; P[s,p] product chosen, N[s,p] in Z+
how many, E[s,p] >= 0 kW bought above the allowance; U[s,k] a SKU in use (one set of cold spares);
B >= 0 Mbps billed per transit provider.
s.t. sum_s x_s = 1;  sum_D L[s,D] = x_s;  sum_k y[g,k,D] = L[s,D];  sum_p P[s,p] = x_s;  N[s,p] <= M P[s,p]
     sum m u y + gear_u * own cabinets              <= sum_p RU_p N_p                     rack-units-<s>
     sum m w y + gear_w * own cabinets + cables      <= 1000 (sum_p kW_p N_p + E_p)       power-<s>
     E_p <= (max_kW_p - kW_p) N_p;   own cabinets >= D L[s,D];  per-U space only with D = 1
     B >= p95 / providers - M (1 - x_s),  B >= commit x_s                               transit-<s>
min  every cost term below (planner.terms): servers, spares, support, network gear per cabinet and per server,
     colo products and extra power, metered energy at PUE, remote hands, transit per provider and its
     cross-connects, the off-site backup copy, the witness VM, and labour (planner.labour, the rule every
     strategy shares).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pulp

from planner.catalog.records import ColoProduct, PrivateSite, ServerSku
from planner.costs import HaRule, backup_term, nodes_needed, p95_of_slices
from planner.labour import labour_rates, labour_terms
from planner.model import COMPUTE, FACILITIES, HARDWARE, NETWORK, StrategyPlan, TierUsage
from planner.optimize.candidates import Group, lp_name, make_groups, shards_needed, usage
from planner.optimize.context import PlanContext, private_sites, public_regions
from planner.optimize.public import self_run_systems
from planner.terms import CostTerm, NodeSpec, objective, plan_lines, solved
from planner.units import GB_PER_TB, HOURS_PER_MONTH, MONTHS_PER_YEAR, amortized_per_month, gib_to_gb

PRIVATE_TIERS = ["gateway", "message", "database", "cache", "load_balancer"]
POOL = ("gateway", "message", "cache", "load_balancer")
MEDIA_GROUP = "object_storage"
KW_PER_WATT = 1 / 1000
# media redundancy schemes: (name, stored bytes per media byte, fewest servers, shards per stripe)
REPLICATION = ("2 copies", 2.0, 2, 2)
ERASURE = ("erasure coding 8+4", 1.5, 12, 12)
ERASURE_PARITY = 4


@dataclass(frozen=True)
class ServerCandidate:
    group: Group
    sku: ServerSku
    domains: int
    count: int
    storage_bound: bool  # disk, not CPU or memory, decides the count
    scheme: str = ""  # media redundancy scheme


def layouts(ctx: PlanContext) -> list[int]:
    """Failure domains own servers may spread over: 2 cabinets (a witness VM casts the third quorum vote) or 3
    when a rack loss must be survived; else 1."""
    return [2, 3] if ctx.workload.availability.tolerate_domain_loss else [1]


def ha_for(ctx: PlanContext, group: Group, domains: int) -> HaRule:
    a = ctx.workload.availability
    return HaRule(node_loss=a.tolerate_node_loss, domain_loss=a.tolerate_domain_loss, domains=domains,
                  min_nodes=group.min_nodes)


def media_schemes(domains: int, tolerate_domain_loss: bool) -> list[tuple]:
    """Redundancy schemes that survive the loss of a server, and of a domain where that is asked: two copies
    (each in another domain), or 8+4 erasure coding on >= 12 servers when a domain holds no more than 4 shards."""
    schemes = [REPLICATION]
    if not tolerate_domain_loss or math.ceil(ERASURE[3] / domains) <= ERASURE_PARITY:
        schemes.append(ERASURE)
    return schemes


def media_group(ctx: PlanContext) -> Group:
    zeros = (0.0,) * len(ctx.demand.slices)
    return Group(MEDIA_GROUP, (MEDIA_GROUP,), zeros, zeros, zeros, zeros, stateful=True, spot_eligible=False,
                 min_nodes=1)


def private_groups(ctx: PlanContext, pooled: bool, tiers: list[str] | None = None) -> list[Group]:
    """Tier groups on own servers, and the media store only when there is media to keep."""
    groups = make_groups(ctx.requirements, ctx.profile, tiers or PRIVATE_TIERS, pooled, POOL)
    return groups + ([media_group(ctx)] if ctx.demand.media_stored_gb > 0 else [])


def database_copy_tb(ctx: PlanContext) -> float:
    """Disk one copy of the database takes at the fill ratio (each shard's copies store their shard)."""
    p = ctx.workload.private
    return gib_to_gb(ctx.demand.database_storage_gib) / GB_PER_TB / p.storage_fill_ratio


def _count(group: Group, sku: ServerSku, storage_tb: float, reserved_gib: float, ha: HaRule,
           min_servers: int = 0) -> tuple[int, bool] | None:
    """Servers for the busiest slice (HA applied to compute; stored data is already redundant, so disk is a
    floor), and whether disk decided. CPU and memory peaks are taken per resource. storage_tb: the data the
    group's disks hold; of a sharded group, one copy (each shard's copies store the shard)."""
    if group.shard_rule is not None:
        found = shards_needed(group.shard_rule, max(group.vcpu), max(group.memory_gib), sku.vcpu,
                              sku.memory_gib, reserved_gib, storage_tb, sku.storage_tb)
        if found is None:
            return None
        return max(found[0] * group.shard_rule.copies, min_servers), found[1] == "storage"
    counts = [nodes_needed(v, m, sku.vcpu, sku.memory_gib, reserved_gib, ha)
              for v, m in zip(group.vcpu, group.memory_gib)]
    if None in counts:
        return None
    compute = max(max(counts, default=0), ha.min_nodes)
    disk = 0
    if storage_tb > 0:
        if sku.storage_tb <= 0:
            return None
        disk = math.ceil(storage_tb / sku.storage_tb - 1e-9)
    n = max(compute, disk, min_servers)
    return n, disk > compute and disk >= min_servers


def server_candidates(ctx: PlanContext, group: Group, skus: tuple[ServerSku, ...], domains: int
                      ) -> list[ServerCandidate]:
    ha = ha_for(ctx, group, domains)
    out = []
    if group.name == MEDIA_GROUP:
        media_tb = ctx.demand.media_stored_gb / GB_PER_TB / ctx.workload.private.storage_fill_ratio
        for sku in (k for k in skus if k.role == "storage"):
            for name, factor, fewest, _ in media_schemes(domains, ctx.workload.availability.tolerate_domain_loss):
                found = _count(group, sku, media_tb * factor, ctx.reserved_gib, ha, fewest)
                if found is not None:
                    out.append(ServerCandidate(group, sku, domains, found[0], found[1], name))
        return out
    storage = database_copy_tb(ctx) if group.name == "database" else 0.0
    for sku in (k for k in skus if k.role == "compute"):
        found = _count(group, sku, storage, ctx.reserved_gib, ha)
        if found is not None:
            out.append(ServerCandidate(group, sku, domains, found[0], found[1]))
    return out


def server_usd_per_month(ctx: PlanContext, sku: ServerSku) -> float:
    """Monthly payment for an owned server: its capex as an annuity at the cost of capital."""
    p = ctx.workload.private
    return amortized_per_month(sku.capex_usd, p.amortization_years or sku.amortization_years,
                               p.cost_of_capital_percent)


def _capital_text(ctx: PlanContext, years: float) -> str:
    return f"amortized over {years:g} years at {ctx.workload.private.cost_of_capital_percent:g} % cost of capital"


def transit_mbps(ctx: PlanContext) -> float:
    """Outbound traffic at the 95th percentile: messages, events and media downloads from own servers."""
    return p95_of_slices([s.client_egress_mbps + s.media_egress_mbps for s in ctx.demand.slices])


def transit_providers(ctx: PlanContext, transit) -> int:
    """Two transit providers when a failure must be survived, unless the product is the colo's multi-homed blend."""
    return 1 if transit.blended or not ctx.workload.availability.tolerate_node_loss else 2


@dataclass
class ExtraServers:
    """Servers the caller places at the site (the hybrid's burst base): count, rack units and watts."""

    count: object = 0
    rack_units: object = 0
    watts: object = 0


@dataclass
class SiteVars:
    site: PrivateSite
    x: pulp.LpVariable
    layout: dict[int, pulp.LpVariable]
    servers: list[tuple[ServerCandidate, pulp.LpVariable]]
    owned: object  # expression: own servers in service at the site
    terms: list[CostTerm] = field(default_factory=list)


def _witness(ctx: PlanContext, site: PrivateSite):
    """The cheapest cloud VM, in the site's jurisdiction where one is allowed (short round trips), else in any
    allowed region: a quorum vote holds no user data, so residency does not bind it."""
    regions, _ = public_regions(ctx)
    near = [r for r in regions if r.jurisdiction == site.jurisdiction] or regions
    keys = {(r.provider, r.region) for r in near}
    offerings = [o for o in ctx.catalog.compute if (o.provider, o.region) in keys]
    return min(offerings, key=lambda o: (o.usd_per_hour, o.key), default=None)


def _product_bound(product: ColoProduct, ru_upper: float, watts_upper: float, domains: int) -> int:
    by_space = math.ceil(ru_upper / product.rack_units)
    by_power = math.ceil(watts_upper * KW_PER_WATT / product.kw_included)
    return max(by_space, by_power, domains) + 1


def add_site(prob: pulp.LpProblem, ctx: PlanContext, site: PrivateSite, groups: list[Group], p95_mbps,
             extra: ExtraServers | None = None, extra_upper: tuple[float, float] = (0.0, 0.0),
             quorum: bool = True) -> SiteVars | None:
    """Variables, constraints and cost terms of one site (shared by the private and hybrid models).

    p95_mbps: the site's outbound traffic at the 95th percentile (a number, or the hybrid's expression);
    extra / extra_upper: servers the caller places here, and upper bounds of their rack units and watts;
    quorum: the site runs a replicated database, so two cabinets need a witness VM for the third vote."""
    key = lp_name(f"{site.provider}_{site.region}")
    options = [d for d in layouts(ctx) if d <= site.failure_domains]
    tables = {d: {g.name: server_candidates(ctx, g, site.servers, d) for g in groups} for d in options}
    options = [d for d in options if all(tables[d].values())]
    if not options:
        return None
    extra = extra or ExtraServers()
    x = prob.add_variable(f"x_{key}", cat="Binary")
    layout = {d: prob.add_variable(f"layout_{key}_{d}", cat="Binary") for d in options}
    prob += pulp.lpSum(layout.values()) == x, f"layout-{key}"
    terms: list[CostTerm] = []
    servers: list[tuple[ServerCandidate, pulp.LpVariable]] = []
    for d in options:
        for g in groups:
            ys = []
            for c in tables[d][g.name]:
                y = prob.add_variable(f"y_{key}_{d}_{lp_name(g.name)}_{lp_name(c.sku.sku)}_{lp_name(c.scheme)}",
                                    cat="Binary")
                ys.append(y)
                servers.append((c, y))
                years = ctx.workload.private.amortization_years or c.sku.amortization_years
                scheme = f", {c.scheme}" if c.scheme else ""
                count = c.count * y
                terms.append(CostTerm(
                    HARDWARE, f"{g.name}: {c.sku.sku}{scheme}, {_capital_text(ctx, years)}", "servers", count,
                    server_usd_per_month(ctx, c.sku), c.sku.ref,
                    node=NodeSpec(g.name, site.provider, site.region, c.sku.sku, "owned", c.sku.vcpu,
                                  c.sku.memory_gib, (count,), HOURS_PER_MONTH * count, c.scheme),
                    asset=f"server:{c.sku.sku}"))
            prob += pulp.lpSum(ys) == layout[d], f"sku-{key}-{d}-{lp_name(g.name)}"
    owned = pulp.lpSum(c.count * y for c, y in servers) + extra.count
    server_ru = pulp.lpSum(c.count * c.sku.rack_units * y for c, y in servers) + extra.rack_units
    server_watts = pulp.lpSum(c.count * c.sku.watts * y for c, y in servers) + extra.watts

    # cold spares: a set per server model in use
    spares_per_model = site.support.cold_spares_per_model
    for sku in dict.fromkeys(c.sku for c, _ in servers):  # catalog order: stable line order
        used = prob.add_variable(f"used_{key}_{lp_name(sku.sku)}", cat="Binary")
        for c, y in servers:
            if c.sku == sku:
                prob += used >= y, f"used-{key}-{lp_name(sku.sku)}-{lp_name(y.name)}"
        if spares_per_model:
            terms.append(CostTerm(HARDWARE, f"cold spare: {sku.sku}", "servers", spares_per_model * used,
                                  server_usd_per_month(ctx, sku), sku.ref, asset=f"server:{sku.sku}"))
    capex = pulp.lpSum(c.count * c.sku.capex_usd * y for c, y in servers)
    if site.support.percent_of_capex_per_year:
        terms.append(CostTerm(HARDWARE, f"hardware support contracts ({site.support.percent_of_capex_per_year:g} % of"
                              " capex a year)", "USD of capex", capex,
                              site.support.percent_of_capex_per_year / 100 / MONTHS_PER_YEAR, site.support.ref))

    # colo products: how many cabinets (or U of shared space) of one kind, and power above their allowance
    ru_upper = sum(max((c.count * c.sku.rack_units for c in tables[d][g.name]), default=0)
                   for d in options for g in groups) + extra_upper[0]
    watts_upper = sum(max((c.count * c.sku.watts for c in tables[d][g.name]), default=0)
                      for d in options for g in groups) + extra_upper[1]
    cabinet_gear = [g for g in site.network_gear if g.per == "cabinet"]
    server_gear = [g for g in site.network_gear if g.per == "server"]
    gear_ru = sum(g.count * g.rack_units for g in cabinet_gear)
    gear_watts = sum(g.count * g.watts for g in cabinet_gear)
    picks, counts, extra_kw, cabinets = [], {}, {}, []
    for i, product in enumerate(site.products):
        tag = f"{key}_{i}"
        pick = prob.add_variable(f"product_{tag}", cat="Binary")
        bound = _product_bound(product, ru_upper + gear_ru * max(options), watts_upper + gear_watts * max(options),
                               max(options))
        n = prob.add_variable(f"cabinets_{tag}", lowBound=0, upBound=bound, cat="Integer")
        prob += n <= bound * pick, f"product-use-{tag}"
        prob += n >= pick, f"product-min-{tag}"
        picks.append(pick)
        counts[i] = n
        if not product.own_cabinet:
            # shared per-U space is no failure domain of its own: only for plans that need not survive a rack loss
            prob += pick <= layout.get(1, 0), f"product-domain-{tag}"
        else:
            cabinets.append(n)
        terms.append(CostTerm(FACILITIES, f"colocation: {product.name} ({product.rack_units}U, "
                              f"{product.kw_included:g} kW included)", "products", n, product.usd_per_month,
                              product.ref))
        if product.extra_kw_usd_per_month is not None and product.max_kw > product.kw_included:
            e = prob.add_variable(f"extra_kw_{tag}", lowBound=0)
            prob += e <= (product.max_kw - product.kw_included) * n, f"extra-kw-{tag}"
            extra_kw[i] = e
            terms.append(CostTerm(FACILITIES, f"committed power above the allowance ({product.name})", "kW", e,
                                  product.extra_kw_usd_per_month, product.ref))
    prob += pulp.lpSum(picks) == x, f"product-choice-{key}"
    own_cabinets = pulp.lpSum(cabinets)
    prob += own_cabinets >= pulp.lpSum(d * layout[d] for d in options if d >= 2), f"domains-{key}"
    prob += (server_ru + gear_ru * own_cabinets
             <= pulp.lpSum(p.rack_units * counts[i] for i, p in enumerate(site.products))), f"rack-units-{key}"
    total_watts = server_watts + gear_watts * own_cabinets + pulp.lpSum(g.count * g.watts for g in server_gear) * owned
    prob += (total_watts <= 1000 * (pulp.lpSum(p.kw_included * counts[i] for i, p in enumerate(site.products))
                                    + pulp.lpSum(extra_kw.values()))), f"power-{key}"
    for gear in cabinet_gear:
        terms.append(CostTerm(HARDWARE, f"network gear per own cabinet: {gear.count}x {gear.name}", "units",
                              gear.count * own_cabinets, amortized_per_month(
                                  gear.capex_usd, gear.amortization_years,
                                  ctx.workload.private.cost_of_capital_percent), gear.ref))
    for gear in server_gear:
        terms.append(CostTerm(HARDWARE, f"network gear per server: {gear.count}x {gear.name}", "units",
                              gear.count * owned, amortized_per_month(
                                  gear.capex_usd, gear.amortization_years,
                                  ctx.workload.private.cost_of_capital_percent), gear.ref))
    if site.power_usd_per_kwh > 0:
        kwh = total_watts * KW_PER_WATT * site.pue * HOURS_PER_MONTH
        terms.append(CostTerm(FACILITIES, f"metered energy at PUE {site.pue:g}", "kWh", kwh, site.power_usd_per_kwh,
                              site.facility_ref))
    if site.remote_hands_usd_per_hour and site.remote_hands_hours_per_server_year:
        terms.append(CostTerm(FACILITIES, f"remote hands ({site.remote_hands_hours_per_server_year:g} h per server a "
                              "year)", "hours", owned * site.remote_hands_hours_per_server_year / MONTHS_PER_YEAR,
                              site.remote_hands_usd_per_hour, site.facility_ref))
    bundled = [(picks[i], p) for i, p in enumerate(site.products) if p.included_mbps]
    terms += _transit_terms(prob, ctx, site, key, p95_mbps, x, bundled)
    # the off-site copy holds what the site holds: the database, the media, or both
    tiers = {t for g in groups for t in g.tiers}
    held = [(name, gb) for name, gb, here in (
        ("database", gib_to_gb(ctx.demand.database_storage_gib), "database" in tiers),
        ("media", ctx.demand.media_stored_gb, MEDIA_GROUP in tiers)) if here and gb > 0]
    if held:
        terms.append(backup_term(f"off-site backup copy of the {' and '.join(n for n, _ in held)} ({site.backup.name})",
                                 sum(gb for _, gb in held), site.backup.usd_per_gb_month, site.backup.ref, x))
    if 2 in layout and quorum:
        witness = _witness(ctx, site)
        if witness is None:
            prob += layout[2] == 0, f"no-witness-{key}"
        else:
            hours = HOURS_PER_MONTH * layout[2]
            terms.append(CostTerm(COMPUTE, f"quorum witness VM for two cabinets: {witness.type} ({witness.provider} "
                                  f"{witness.region})", "node-hours", hours, witness.usd_per_hour, witness.ref,
                                  node=NodeSpec("witness", witness.provider, witness.region, witness.type,
                                                "on_demand", witness.vcpu, witness.memory_gib, (layout[2],), hours)))
    return SiteVars(site, x, layout, servers, owned, terms)


def _transit_terms(prob: pulp.LpProblem, ctx: PlanContext, site: PrivateSite, key: str, p95_mbps, x,
                   bundled: list) -> list:
    """IP transit: one of the site's offers (commit levels); each provider bills its share of the 95th percentile,
    at least its commit, plus a cross-connect. Where the colo products include bandwidth on the colo's own
    multi-homed network (bundled: (choice binary, product) of those products), a site whose 95th percentile fits
    in the allowance of one product buys no transit at all: the allowance belongs to a product's port and is not
    pooled over cabinets, so after a cabinet loss another port still carries the site."""
    big_m = sum(s.client_egress_mbps + s.media_egress_mbps + s.internal_mbps for s in ctx.demand.slices) + 1
    terms, picks = [], []
    for i, t in enumerate(site.transit):
        providers = transit_providers(ctx, t)
        pick = prob.add_variable(f"transit_pick_{key}_{i}", cat="Binary")
        billed = prob.add_variable(f"transit_{key}_{i}", lowBound=0)
        prob += billed >= p95_mbps / providers - big_m * (1 - pick), f"transit-{key}-{i}"
        prob += billed >= t.min_commit_mbps * pick, f"transit-commit-{key}-{i}"
        picks.append(pick)
        names = "two providers" if providers == 2 else ("blended" if t.blended else "one provider")
        terms += [CostTerm(NETWORK, f"{t.name} at the 95th percentile ({names}, {t.min_commit_mbps:g} Mbps commit "
                                    "each)", "Mbps", providers * billed, t.usd_per_mbps_month, t.ref),
                  CostTerm(NETWORK, f"cross-connects to the transit providers ({t.name})", "cross-connects",
                           providers * pick, t.cross_connect_usd_per_month, t.ref)]
    if bundled:
        fits = prob.add_variable(f"transit_included_{key}", cat="Binary")
        prob += (p95_mbps <= pulp.lpSum(p.included_mbps * pick for pick, p in bundled) + big_m * (1 - fits)
                 ), f"transit-included-{key}"
        prob += fits <= pulp.lpSum(pick for pick, _ in bundled), f"transit-included-bought-{key}"
        picks.append(fits)
        terms.append(CostTerm(NETWORK, "no transit bought: bandwidth included in the colo products (the colo's "
                              "blended network)", "sites", fits, 0.0, bundled[0][1].ref,
                              basis="the site's 95th percentile fits in the Mbps one of its colo products includes"))
    prob += pulp.lpSum(picks) == x, f"transit-choice-{key}"
    return terms


def site_systems(groups: list[Group]) -> list[str]:
    return self_run_systems(t for g in groups for t in g.tiers)


def server_usage(ctx: PlanContext, sites: list[SiteVars]) -> list[TierUsage]:
    """Peak utilization of the chosen servers; `storage` binds where disk decided the count."""
    out = []
    for sv in sites:
        for c, y in sv.servers:
            if solved(y) < 0.5 or not (any(c.group.vcpu) or any(c.group.memory_gib)):
                if solved(y) >= 0.5 and c.group.name == MEDIA_GROUP:
                    out.append(TierUsage(c.group.name, 0.0, 0.0, "storage"))
                continue
            u = usage(c.group, (c.count,) * len(c.group.vcpu), c.sku.vcpu, c.sku.memory_gib, ctx.reserved_gib,
                      ha_for(ctx, c.group, c.domains))
            out.append(TierUsage(u.tier, u.peak_utilization_cpu, u.peak_utilization_memory, "storage")
                       if c.storage_bound else u)
    return out


@dataclass
class PrivateModel:
    prob: pulp.LpProblem
    sites: list[SiteVars]
    terms: list[CostTerm]
    excluded: list[str]
    pooled: bool
    own_systems: tuple[str, ...] = ()  # self-run systems on own servers: what a move from a cloud moves


def build_private(ctx: PlanContext, pooled: bool) -> PrivateModel:
    sites, excluded = private_sites(ctx)
    prob = pulp.LpProblem(f"private_{'pooled' if pooled else 'dedicated'}", pulp.LpMinimize)
    groups = private_groups(ctx, pooled)
    built, terms = [], []
    for site in sites:
        sv = add_site(prob, ctx, site, groups, transit_mbps(ctx))
        if sv is None:
            excluded.append(f"{site.provider}/{site.region}: no server SKU can carry every tier")
            continue
        built.append(sv)
        terms += sv.terms
    if built:
        prob += pulp.lpSum(sv.x for sv in built) == 1, "site-choice"
        chosen = pulp.lpSum(sv.x for sv in built)
        owned = pulp.lpSum(sv.owned for sv in built)
        terms += labour_terms(prob, "private", labour_rates(ctx.workload),
                              [(name, chosen) for name in site_systems(groups)], owned, owned)
    prob += objective(terms)
    return PrivateModel(prob, built, terms, excluded, pooled, tuple(site_systems(groups)))


def layout_text(sv: SiteVars) -> str:
    d = next((d for d, v in sv.layout.items() if solved(v) > 0.5), 1)
    witness = any(t.node is not None and t.node.tier == "witness" and solved(t.quantity) > 0 for t in sv.terms)
    return "" if d == 1 else f", {d} cabinets" + (" + quorum witness" if witness else "")


def extract_private(ctx: PlanContext, m: PrivateModel, solver_info) -> StrategyPlan:
    """The plan is the model's own cost terms evaluated at the solution."""
    sv = max(m.sites, key=lambda s: solved(s.x))
    lines, nodes = plan_lines(m.terms)
    return StrategyPlan(name="private", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines),
                        location=f"{sv.site.provider} {sv.site.region}",
                        pooling="pooled" if m.pooled else "dedicated", lines=tuple(lines), nodes=tuple(nodes),
                        usage=tuple(server_usage(ctx, [sv])), solver=solver_info, message=layout_text(sv).lstrip(", "))
