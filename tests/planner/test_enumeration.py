"""Exhaustive enumeration cross-check: on small instances, try every choice with the pure cost functions
and compare the cheapest with the MILP optimum.

Public: every offering per tier group (no pruning) and every always-on base count 0..max; given the base,
slices are independent, so the best spot use in a slice is as many spot nodes as the cap allows (spot is
cheaper than on-demand). Groups only share the region's fixed costs, so the minimum of the sum is the sum
of the per-group minima.

Private: every assignment of a server SKU to every group (the product: racks and ops FTE couple the groups),
with racks and FTE steps in closed form: R = max(racks for domains, ceil(U_servers / (U_rack - U_gear)),
ceil(W_servers / (1000 kW_rack - W_gear))), F = max(ceil(servers / servers_per_fte / step), ceil(min_fte / step)).
"""

from __future__ import annotations

import itertools
import math

import pytest

from planner.catalog.loader import load_catalog
from planner.costs import HaRule, autoscaled_cost, base_price, nodes_needed, p95_of_slices, public_region_lines
from planner.optimize import plan_strategy
from planner.optimize.context import PlanContext
from planner.optimize.private import private_groups
from planner.optimize.public import region_groups
from planner.units import GB_PER_TB, HOURS_PER_MONTH, gib_to_gb
from planner.workload import Workload
from planner_testlib import tiny_files, write_catalogs

CASES = [(mau, shape) for mau in (5000, 60000, 1500000) for shape in ("flat", "consumer-evening")]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """The tiny catalog plus a third instance type and a second compute and storage server SKU, so that
    every choice is a real one."""
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
    return load_catalog(write_catalogs(tmp_path_factory.mktemp("enum") / "cat", files))


def _workload(mau, shape, pooling, **extra):
    return Workload.model_validate({"users": {"mau": mau}, "load_profile": {"shape": shape},
                                    "placement": {"pooling": pooling}, "saas": {"compare": False}, **extra})


def _ha(workload, group):
    a = workload.availability
    return HaRule(a.tolerate_node_loss, a.tolerate_domain_loss, a.failure_domains, group.min_nodes)


def enumerate_public(ctx: PlanContext, pooled: bool) -> float:
    w = ctx.workload
    (region,) = ctx.catalog.public_regions
    total = sum(line.monthly_cost_usd for line in public_region_lines(region, ctx.demand, w,
                                                                       w.availability.failure_domains, False))
    for group in region_groups(ctx, region, pooled):
        best = math.inf
        for o in ctx.catalog.compute:
            if o.arch not in w.purchase.allowed_arch:
                continue
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
                best = min(best, autoscaled_cost(tuple(counts), base, spot, price, o.usd_per_hour,
                                                 o.usd_per_hour_spot))
        total += best
    return total


def _servers(ctx, group, sku) -> int | None:
    """Servers of one SKU for one group: the busiest slice with HA, disk for database copies and media."""
    w = ctx.workload
    role = "storage" if group.name == "object_storage" else "compute"
    if sku.role != role:
        return None
    counts = [nodes_needed(v, m, sku.vcpu, sku.memory_gib, ctx.reserved_gib, _ha(w, group))
              for v, m in zip(group.vcpu, group.memory_gib)]
    if None in counts:
        return None
    n = max(counts)  # owned servers run all day: enough for every hour
    p = w.private
    disk_tb = {"database": gib_to_gb(ctx.demand.database_storage_gib) * p.database_replicas / GB_PER_TB,
               "object_storage": ctx.demand.media_stored_gb / GB_PER_TB * p.media_replication_factor
               }.get(group.name, 0.0) / p.storage_fill_ratio
    if disk_tb > 0:
        n = max(n, math.ceil(disk_tb / sku.storage_tb - 1e-9))
    return max(n, group.min_nodes)


def enumerate_private(ctx: PlanContext, pooled: bool) -> float:
    w = ctx.workload
    (site,) = ctx.catalog.private_sites
    groups = private_groups(ctx, pooled)
    energy_per_watt = site.pue * HOURS_PER_MONTH / 1000 * site.power_usd_per_kwh
    gear_ru = sum(g.per_rack * g.rack_units for g in site.network_gear)
    gear_w = sum(g.per_rack * g.watts for g in site.network_gear)
    per_rack = (site.kw_per_rack * site.colo_usd_per_kw_month + gear_w * energy_per_watt
                + sum(g.per_rack * g.capex_usd / (g.amortization_years * 12) for g in site.network_gear))
    min_racks = w.availability.failure_domains if w.availability.tolerate_domain_loss else 1
    spf = w.private.servers_per_fte or site.servers_per_fte
    transit = max(p95_of_slices([s.client_egress_mbps + s.media_egress_mbps for s in ctx.demand.slices]),
                  site.transit_min_commit_mbps) * site.transit_usd_per_mbps_month
    options = []
    for g in groups:
        opts = [(sku, n) for sku in site.servers if (n := _servers(ctx, g, sku)) is not None]
        assert opts, g.name
        options.append(opts)
    best = math.inf
    for choice in itertools.product(*options):
        servers = sum(n for _, n in choice)
        ru = sum(n * sku.rack_units for sku, n in choice)
        watts = sum(n * sku.watts for sku, n in choice)
        racks = max(min_racks, math.ceil(ru / (site.rack_units_per_rack - gear_ru) - 1e-9),
                    math.ceil(watts / (1000 * site.kw_per_rack - gear_w) - 1e-9))
        steps = max(math.ceil(servers / spf / site.fte_step - 1e-9), math.ceil(site.min_fte / site.fte_step - 1e-9))
        cost = (sum(n * (sku.capex_usd / (sku.amortization_years * 12) + sku.watts * energy_per_watt)
                    for sku, n in choice)
                + racks * per_rack + steps * site.fte_step * site.labour_usd_per_fte_year / 12 + transit)
        best = min(best, cost)
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
                                       {"private": {"servers_per_fte": 7, "database_replicas": 3}}])
def test_private_milp_matches_enumeration_other_rules(catalog, profile, overrides):
    ctx = PlanContext.build(_workload(800000, "flat", "dedicated", **overrides), profile, catalog)
    plan = plan_strategy(ctx, "private")
    assert plan.monthly_cost_usd == pytest.approx(enumerate_private(ctx, False), rel=1e-7)
