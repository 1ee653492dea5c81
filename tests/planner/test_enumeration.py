"""Exhaustive enumeration cross-check: on small instances, try every choice with closed-form costs and compare
the cheapest with the MILP optimum.

Public: every offering per tier group (no pruning) and every always-on base count 0..max; given the base,
slices are independent, so the best spot use in a slice is as many spot nodes as the cap allows (spot is
cheaper than on-demand). Groups only share the region's fixed costs and the labour per system, and labour per
node is a price per node-hour, so (with no minimum-staffing top-up) the minimum of the sum is the sum of the
per-group minima.

Private: every layout (1 cabinet, or 2 with a witness VM, or 3), every assignment of a server SKU (and media
redundancy scheme) to every group, every colo product and every cabinet count from the least that holds the
servers: servers at their annuity, one cold spare per model, support as a share of capex, gear per cabinet
and per server, products and power above their allowance, energy at PUE, remote hands, two transit providers
with cross-connects (none when the 95th percentile fits in the bandwidth one product includes), the off-site backup copy and labour, each in closed form.
"""

from __future__ import annotations

import itertools
import math

import pytest

from planner.catalog.loader import load_catalog
from planner.costs import HaRule, base_price, nodes_needed, p95_of_slices, public_region_terms
from planner.labour import labour_rates
from planner.optimize import plan_strategy
from planner.optimize.context import PlanContext
from planner.optimize.private import private_groups
from planner.optimize.public import region_groups
from planner.units import GB_PER_TB, HOURS_PER_MONTH, HOURS_PER_SLICE_PER_MONTH, amortized_per_month, gib_to_gb
from planner.workload import Workload
from planner_testlib import tiny_files, write_catalogs

CASES = [(mau, shape) for mau in (5000, 60000, 1500000) for shape in ("flat", "consumer-evening")]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """The tiny catalog plus a third instance type, a second compute and storage server SKU and shared per-U
    space, so that every choice is a real one."""
    files = tiny_files()
    files["cloudx"]["compute"].append(
        {"type": "mid", "region": "r1", "family": "m", "class": "compute", "arch": "arm64", "vcpu": 4,
         "memory_gib": 8, "on_demand_per_hour": 0.17, "commit_1y_per_hour": 0.11, "spot_per_hour": 0.07,
         "source": "test"})
    files["colox"]["servers"] += [
        {"sku": "c16", "role": "compute", "vcpu": 16, "memory_gib": 64, "storage_tb": 2, "watts": 150,
         "rack_units": 1, "capex": 3500, "amortization_years": 5, "source": "test"},
        {"sku": "st50", "role": "storage", "vcpu": 8, "memory_gib": 32, "storage_tb": 50, "watts": 250,
         "rack_units": 1, "capex": 6000, "amortization_years": 4, "source": "test"}]
    files["colox"]["transit"].append({"region": "s1", "name": "blended 1G", "per_mbps_month": 0.6,
                                      "min_commit_mbps": 1000, "cross_connect_per_month": 100, "blended": True,
                                      "source": "test"})
    files["colox"]["colo_products"].append(
        {"region": "s1", "name": "1U shared", "kind": "per_u", "rack_units": 1, "kw_included": 0.3, "per_month": 45,
         "included_mbps": 4, "source": "test"})
    files["colox"]["colo_products"][0]["included_mbps"] = 20  # the quarter rack: bandwidth on the colo's network
    return load_catalog(write_catalogs(tmp_path_factory.mktemp("enum") / "cat", files))


def _workload(mau, shape, pooling, **extra):
    extra.setdefault("labour", {"minimum_fte": 0})
    return Workload.model_validate({"users": {"mau": mau}, "load_profile": {"shape": shape},
                                    "placement": {"pooling": pooling}, "saas": {"compare": False}, **extra})


def _ha(workload, group, domains=None):
    a = workload.availability
    return HaRule(a.tolerate_node_loss, a.tolerate_domain_loss, domains or a.failure_domains, group.min_nodes)


def _shard_copies(group, node_vcpu, node_memory_gib, reserved_gib, disk_tb=0.0, node_disk_tb=None):
    """Nodes of a sharded group, counted from the definition: shards = the largest of one copy's peak vCPU
    over a node's, its peak memory over a node's usable memory, the write-ceiling floor and (own servers) one
    copy's data over a node's disk; nodes = shards x copies, every slice."""
    usable = node_memory_gib - reserved_gib
    if usable <= 0 or (disk_tb and not node_disk_tb):
        return None
    rule = group.shard_rule
    shards = max(math.ceil(max(group.vcpu) / node_vcpu - 1e-9), math.ceil(max(group.memory_gib) / usable - 1e-9),
                 rule.min_shards, math.ceil(disk_tb / node_disk_tb - 1e-9) if disk_tb else 0, 1)
    return [shards * rule.copies] * len(group.vcpu)


def autoscaled_cost(counts, base, spot, base_usd_per_hour, on_demand_usd_per_hour, spot_usd_per_hour) -> float:
    """Monthly cost of a group that keeps `base` nodes always on and adds on-demand/spot nodes per slice, and
    the node-hours it runs."""
    cost, hours = base * base_usd_per_hour * HOURS_PER_MONTH, base * HOURS_PER_MONTH
    for need, spot_count in zip(counts, spot):
        extra = max(need - base, 0)
        spot_used = min(spot_count, extra)
        cost += ((extra - spot_used) * on_demand_usd_per_hour + spot_used * (spot_usd_per_hour or 0.0)) \
            * HOURS_PER_SLICE_PER_MONTH
        hours += extra * HOURS_PER_SLICE_PER_MONTH
    return cost, hours


SYSTEM_OF = {"gateway": "imserver", "message": "imserver", "database": "PostgreSQL", "cache": "Redis",
             "load_balancer": "HAProxy", "object_storage": "object store"}


def cheapest_group_cost(ctx: PlanContext, group, offerings, labour_per_node_hour: float) -> float:
    """One cloud group's cheapest offering and always-on base count, with its labour per node-hour."""
    w = ctx.workload
    best = math.inf
    for o in offerings:
        if o.arch not in w.purchase.allowed_arch:
            continue
        if group.shard_rule is not None:
            counts = _shard_copies(group, o.vcpu, o.memory_gib, ctx.reserved_gib)
            if counts is None:
                continue
        else:
            counts = [nodes_needed(v, m, o.vcpu, o.memory_gib, ctx.reserved_gib, _ha(w, group))
                      for v, m in zip(group.vcpu, group.memory_gib)]
        if None in counts:
            continue
        spot_ok = (w.purchase.allow_spot and group.spot_eligible and not group.stateful
                   and o.usd_per_hour_spot is not None and o.usd_per_hour_spot < o.usd_per_hour)
        caps = [int(w.purchase.spot_max_share * n) if spot_ok else 0 for n in counts]
        price, _ = base_price(o, w.purchase.max_commitment_years)
        for base in range(max(counts) + 1):
            spot = tuple(min(cap, max(n - base, 0)) for n, cap in zip(counts, caps))
            cost, hours = autoscaled_cost(tuple(counts), base, spot, price, o.usd_per_hour, o.usd_per_hour_spot)
            best = min(best, cost + hours * labour_per_node_hour)
    return best


def enumerate_public(ctx: PlanContext, pooled: bool) -> float:
    w = ctx.workload
    rates = labour_rates(w)
    (region,) = ctx.catalog.public_regions
    total = sum(t.line().monthly_cost_usd for t in public_region_terms(region, ctx.demand, w,
                                                                        w.availability.failure_domains, False))
    groups = region_groups(ctx, region, pooled)
    systems = {SYSTEM_OF[t] for g in groups for t in g.tiers}
    total += len(systems) * rates.fte_per_system * rates.usd_per_fte_month
    labour_per_node_hour = rates.usd_per_fte_month / rates.nodes_per_fte / HOURS_PER_MONTH
    return total + sum(cheapest_group_cost(ctx, g, ctx.catalog.compute, labour_per_node_hour) for g in groups)


def _server_options(ctx, group, sku, domains) -> list[int]:
    """Server counts of one SKU for one group with D domains: the busiest slice with HA, disk for the database
    copies, and for media every redundancy scheme that survives the loss (2 copies; 8+4 on >= 12 servers)."""
    w = ctx.workload
    role = "storage" if group.name == "object_storage" else "compute"
    if sku.role != role:
        return []
    p = w.private
    if group.shard_rule is not None:  # each shard's copies store the shard: one copy's data over the shards
        disk_tb = gib_to_gb(ctx.demand.database_storage_gib) / GB_PER_TB / p.storage_fill_ratio
        counts = _shard_copies(group, sku.vcpu, sku.memory_gib, ctx.reserved_gib, disk_tb, sku.storage_tb)
        return [] if counts is None else [counts[0]]
    counts = [nodes_needed(v, m, sku.vcpu, sku.memory_gib, ctx.reserved_gib, _ha(w, group, domains))
              for v, m in zip(group.vcpu, group.memory_gib)]
    if None in counts:
        return []
    n = max(max(counts), group.min_nodes)
    if group.name != "object_storage":
        return [n]
    media_tb = ctx.demand.media_stored_gb / GB_PER_TB / p.storage_fill_ratio
    schemes = [(2.0, 2)]
    if not w.availability.tolerate_domain_loss or math.ceil(12 / domains) <= 4:
        schemes.append((1.5, 12))
    return [max(n, fewest, math.ceil(media_tb * factor / sku.storage_tb - 1e-9)) for factor, fewest in schemes]


def _cabinet_cost(site, product, domains, ru, watts, servers, rate, transit) -> float:
    """Cheapest count of one colo product that holds the servers, with its gear, extra power, energy and the
    transit it still needs (transit: the site's transit cost given the Mbps one product includes; the allowance
    is per product, not pooled over the products bought)."""
    cab = [g for g in site.network_gear if g.per == "cabinet"] if product.own_cabinet else []
    per_server = [g for g in site.network_gear if g.per == "server"]
    if not product.own_cabinet and domains >= 2:
        return math.inf
    gear_ru = sum(g.count * g.rack_units for g in cab)
    gear_w = sum(g.count * g.watts for g in cab)
    gear_usd = sum(g.count * amortized_per_month(g.capex_usd, g.amortization_years, rate) for g in cab)
    lo = max(domains if domains >= 2 else 1, 1)
    best = math.inf
    for n in range(lo, lo + 200):
        if ru + gear_ru * n > product.rack_units * n:
            continue
        total_w = watts + gear_w * n + sum(g.count * g.watts for g in per_server) * servers
        extra_kw = max(total_w / 1000 - product.kw_included * n, 0.0)
        if extra_kw > 1e-9 and (product.extra_kw_usd_per_month is None
                                or extra_kw > (product.max_kw - product.kw_included) * n + 1e-9):
            continue
        energy = total_w / 1000 * site.pue * HOURS_PER_MONTH * site.power_usd_per_kwh
        best = min(best, n * (product.usd_per_month + gear_usd) + extra_kw * (product.extra_kw_usd_per_month or 0)
                   + energy + transit(product.included_mbps))
    return best


def cheapest_transit(ctx: PlanContext, site, p95_mbps: float, included_mbps: float = 0.0) -> float:
    """The site's cheapest transit offer for a 95th percentile: each provider bills its share (at least its
    commit) plus a cross-connect; two providers when a failure must be survived unless the offer is blended.
    None at all when the site's colo products include bandwidth and the 95th percentile fits in what they include."""
    if included_mbps > 0 and p95_mbps <= included_mbps:
        return 0.0

    def cost(t):
        providers = 1 if t.blended or not ctx.workload.availability.tolerate_node_loss else 2
        return providers * (max(p95_mbps / providers, t.min_commit_mbps) * t.usd_per_mbps_month
                            + t.cross_connect_usd_per_month)
    return min(cost(t) for t in site.transit)


def site_choices(ctx: PlanContext, site, groups, p95_mbps: float, quorum: bool):
    """Every layout and assignment of a server SKU (and media scheme) to every group at one site: yields the
    site's cost without labour (servers, spares, support, gear, the cheapest products for them with the transit
    still needed, remote hands, the witness VM) and its server count."""
    w = ctx.workload
    rate = w.private.cost_of_capital_percent
    witness = min(o.usd_per_hour for o in ctx.catalog.compute) * HOURS_PER_MONTH if ctx.catalog.compute else math.inf
    per_server_gear = sum(g.count * amortized_per_month(g.capex_usd, g.amortization_years, rate)
                          for g in site.network_gear if g.per == "server")
    for domains in ([2, 3] if w.availability.tolerate_domain_loss else [1]):
        options = []
        for g in groups:
            opts = [(sku, n) for sku in site.servers for n in _server_options(ctx, g, sku, domains)]
            assert opts, g.name
            options.append(opts)
        for choice in itertools.product(*options):
            servers = sum(n for _, n in choice)
            ru = sum(n * sku.rack_units for sku, n in choice)
            watts = sum(n * sku.watts for sku, n in choice)
            capex = sum(n * sku.capex_usd for sku, n in choice)
            models = {sku for sku, _ in choice}
            owning = sum(n * amortized_per_month(sku.capex_usd, sku.amortization_years, rate) for sku, n in choice)
            owning += site.support.cold_spares_per_model * sum(
                amortized_per_month(sku.capex_usd, sku.amortization_years, rate) for sku in models)
            owning += capex * site.support.percent_of_capex_per_year / 100 / 12 + servers * per_server_gear
            space = min(_cabinet_cost(site, p, domains, ru, watts, servers, rate,
                                      lambda mbps: cheapest_transit(ctx, site, p95_mbps, mbps))
                        for p in site.products)
            hands = servers * site.remote_hands_hours_per_server_year / 12 * site.remote_hands_usd_per_hour
            yield owning + space + hands + (witness if domains == 2 and quorum else 0.0), servers


def backup_gb(ctx: PlanContext, tiers) -> float:
    """What the site's off-site copy holds: the database and the media it keeps."""
    return ((gib_to_gb(ctx.demand.database_storage_gib) if "database" in tiers else 0.0)
            + (ctx.demand.media_stored_gb if "object_storage" in tiers else 0.0))


def enumerate_private(ctx: PlanContext, pooled: bool) -> float:
    rates = labour_rates(ctx.workload)
    (site,) = ctx.catalog.private_sites
    groups = private_groups(ctx, pooled)
    tiers = {t for g in groups for t in g.tiers}
    p95 = p95_of_slices([s.client_egress_mbps + s.media_egress_mbps for s in ctx.demand.slices])
    fixed = backup_gb(ctx, tiers) * site.backup.usd_per_gb_month
    systems = {SYSTEM_OF[t] for t in tiers}
    best = math.inf
    for cost, servers in site_choices(ctx, site, groups, p95, quorum=True):
        fte = len(systems) * rates.fte_per_system + servers / rates.nodes_per_fte \
            + servers / rates.hardware_servers_per_fte
        best = min(best, cost + fixed + max(fte, rates.minimum_fte) * rates.usd_per_fte_month)
    return best


@pytest.mark.parametrize("pooling", ["dedicated", "pooled"])
@pytest.mark.parametrize("mau, shape", CASES)
def test_public_milp_matches_enumeration(catalog, profile, mau, shape, pooling):
    ctx = PlanContext.build(_workload(mau, shape, pooling), profile, catalog)
    plan = plan_strategy(ctx, "public")
    assert plan.status == "optimal"
    assert plan.monthly_cost_usd == pytest.approx(enumerate_public(ctx, pooling == "pooled"), rel=1e-7)


@pytest.mark.parametrize("purchase", [{"allow_spot": False}, {"max_commitment_years": 0},
                                      {"spot_max_share": 1.0}, {"allowed_arch": ["x86_64"]}])
def test_public_milp_matches_enumeration_purchase_rules(catalog, profile, purchase):
    ctx = PlanContext.build(_workload(200000, "consumer-evening", "dedicated", purchase=purchase), profile, catalog)
    plan = plan_strategy(ctx, "public")
    assert plan.monthly_cost_usd == pytest.approx(enumerate_public(ctx, False), rel=1e-7)


@pytest.mark.parametrize("pooling", ["dedicated", "pooled"])
@pytest.mark.parametrize("mau, shape", CASES)
def test_private_milp_matches_enumeration(catalog, profile, mau, shape, pooling):
    ctx = PlanContext.build(_workload(mau, shape, pooling), profile, catalog)
    plan = plan_strategy(ctx, "private")
    assert plan.status == "optimal"
    assert plan.monthly_cost_usd == pytest.approx(enumerate_private(ctx, pooling == "pooled"), rel=1e-7)


@pytest.mark.parametrize("overrides", [{"availability": {"target_percent": 99.0}},
                                       {"private": {"servers_per_fte": 7, "database_replicas": 3}},
                                       {"private": {"cost_of_capital_percent": 9}, "labour": {"minimum_fte": 2}},
                                       {"messaging": {"media_share": 0}},
                                       {"labour": {"automation": "manual"}}])
def test_private_milp_matches_enumeration_other_rules(catalog, profile, overrides):
    ctx = PlanContext.build(_workload(800000, "flat", "dedicated", **overrides), profile, catalog)
    plan = plan_strategy(ctx, "private")
    assert plan.monthly_cost_usd == pytest.approx(enumerate_private(ctx, False), rel=1e-7)
