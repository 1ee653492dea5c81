"""Hybrid by tier (planner.optimize.split): whole tiers in the cloud, the others on own servers."""

from __future__ import annotations

import pytest

from planner.optimize import plan_strategy
from planner.optimize.context import PlanContext
from planner.optimize.split import PLACEMENTS, build_split, extract_split
from planner.optimize.solver import solve
from planner.terms import solved
from planner.workload import Workload
from test_objective import check_plan


def _ctx(profile, catalog, **sections):
    return PlanContext.build(Workload.model_validate({"saas": {"compare": False}, **sections}), profile, catalog)


def _solve(ctx, placement, pooled=True):
    model = build_split(ctx, pooled, placement)
    info = solve(model.prob, "highs", 60, 1e-4)
    assert info.status == "optimal", info.message
    return model, extract_split(ctx, model, info)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_each_placement_is_priced_by_its_own_terms(tiny_catalog, profile, placement):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000})
    model, plan = _solve(ctx, placement)
    check_plan(plan)  # objective == line sum, quantity x unit price == cost, labour on the plan
    assert plan.placement == placement
    owned = {n.tier for n in plan.nodes if n.purchase == "owned"}
    cloud = {t for n in plan.nodes if n.purchase != "owned" for t in n.tier.split("+")}
    backup = [line for line in plan.lines if line.item.startswith("off-site backup copy")]
    if placement == "media-on-own-servers":
        assert owned == {"object_storage"}
        assert cloud >= {"gateway", "message", "database", "cache"} and "object_storage" not in cloud
        assert [line.item for line in backup] == ["off-site backup copy of the media (offsite bucket)"]
        assert backup[0].quantity == pytest.approx(ctx.demand.media_stored_gb)
        assert not [n for n in plan.nodes if n.tier == "witness"]  # the database votes in the cloud
    else:
        assert "object_storage" not in owned and "database" in {t for n in plan.nodes if n.purchase == "owned"
                                                                for t in n.tier.split("+")}
        assert not cloud - {"witness"}  # no cloud VM but the quorum witness
        assert [line.item for line in backup] == ["off-site backup copy of the database (offsite bucket)"]
        media = [line for line in plan.lines if line.item.startswith("media objects")]
        assert sum(line.quantity for line in media) == pytest.approx(ctx.demand.media_stored_gb, rel=1e-6)
    assert solved(model.prob.objective) == pytest.approx(plan.monthly_cost_usd, rel=1e-9)


def test_hybrid_keeps_the_cheapest_placement_and_reports_every_one(tiny_catalog, profile):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000})
    plan = plan_strategy(ctx, "hybrid")
    assert set(plan.alternatives) == {f"{p}, {v}" for p in ("burst", *PLACEMENTS) for v in ("dedicated", "pooled")}
    priced = {k: v for k, v in plan.alternatives.items() if v is not None}
    assert plan.monthly_cost_usd == pytest.approx(min(priced.values()))
    assert plan.placement in ("burst", *PLACEMENTS)


def test_no_media_no_media_placement(tiny_catalog, profile):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 50000}, messaging={"media_share": 0})
    model = build_split(ctx, True, "media-on-own-servers")
    assert not model.sites and "no media to keep on own servers" in model.excluded
    plan = plan_strategy(ctx, "hybrid")
    assert plan.alternatives["media-on-own-servers, pooled"] is None
    assert plan.monthly_cost_usd is not None


def test_bulky_media_is_cheaper_on_own_disks_than_in_cloud_storage(tiny_catalog, profile):
    # large media objects: own disk servers (20,000 USD per 200 TB) beat the tiny cloud's per-GB object storage
    def gap(media_avg_bytes):
        ctx = _ctx(profile, tiny_catalog, users={"mau": 400000},
                   messaging={"media_share": 0.5, "media_avg_bytes": media_avg_bytes})
        alternatives = plan_strategy(ctx, "hybrid").alternatives
        return alternatives["media-in-cloud, pooled"] - alternatives["media-on-own-servers, pooled"]
    assert gap(5_000_000) > 0 and gap(1_000_000) > 0


# ---------------------------------------------------------------- enumeration cross-check (tiny catalog)
def enumerate_media_on_own_servers(ctx, pooled: bool) -> float:
    """Closed-form optimum of the media-on-own-servers placement: the cloud groups are independent given the
    region (as in the public enumeration), the site holds the media group alone (as in the private one)."""
    import math

    from planner.costs import base_price, nodes_needed, p95_of_slices, public_region_terms
    from planner.labour import labour_rates
    from planner.optimize.candidates import make_groups
    from planner.optimize.private import media_group
    from planner.optimize.public import POOL
    from planner.units import HOURS_PER_MONTH, amortized_per_month
    from test_enumeration import SYSTEM_OF, _cabinet_cost, _ha, _server_options, autoscaled_cost, cheapest_transit

    w = ctx.workload
    rates = labour_rates(w)
    (region,) = ctx.catalog.public_regions
    (site,) = ctx.catalog.private_sites
    total = sum(t.line().monthly_cost_usd for t in public_region_terms(
        region, ctx.demand, w, w.availability.failure_domains, False, database=True, media=False, client=True))
    tiers = ["gateway", "message", "database", "cache"] + ([] if region.load_balancer else ["load_balancer"])
    groups = make_groups(ctx.requirements, ctx.profile, tiers, pooled, POOL)
    systems = {SYSTEM_OF[t] for g in groups for t in g.tiers} | {"object store"}
    total += len(systems) * rates.fte_per_system * rates.usd_per_fte_month
    per_node_hour = rates.usd_per_fte_month / rates.nodes_per_fte / HOURS_PER_MONTH
    for group in groups:
        best = math.inf
        for o in ctx.catalog.compute:
            if o.arch not in w.purchase.allowed_arch or o.included_egress_gb_per_month:
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
                cost, hours = autoscaled_cost(tuple(counts), base, spot, price, o.usd_per_hour, o.usd_per_hour_spot)
                best = min(best, cost + hours * per_node_hour)
        total += best
    # the site: the media group alone, every layout, SKU, scheme and colo product; no witness
    a = w.availability
    rate = w.private.cost_of_capital_percent
    p95 = p95_of_slices([s.media_egress_mbps for s in ctx.demand.slices])
    fixed = cheapest_transit(ctx, site, p95) + ctx.demand.media_stored_gb * site.backup.usd_per_gb_month
    cable = sum(g.count * amortized_per_month(g.capex_usd, g.amortization_years, rate)
                for g in site.network_gear if g.per == "server")
    best_site = math.inf
    group = media_group(ctx)
    for domains in ([2, 3] if a.tolerate_domain_loss else [1]):
        for sku in site.servers:
            for n in _server_options(ctx, group, sku, domains):
                own = n * amortized_per_month(sku.capex_usd, sku.amortization_years, rate) \
                    + site.support.cold_spares_per_model * amortized_per_month(sku.capex_usd, sku.amortization_years,
                                                                               rate) \
                    + n * sku.capex_usd * site.support.percent_of_capex_per_year / 100 / 12 + n * cable
                space = min(_cabinet_cost(site, p, domains, n * sku.rack_units, n * sku.watts, n, rate)
                            for p in site.products)
                hands = n * site.remote_hands_hours_per_server_year / 12 * site.remote_hands_usd_per_hour
                labour = n * (1 / rates.nodes_per_fte + 1 / rates.hardware_servers_per_fte) * rates.usd_per_fte_month
                best_site = min(best_site, own + space + hands + labour + fixed)
    return total + best_site


@pytest.mark.parametrize("mau", [20000, 400000, 1500000])
@pytest.mark.parametrize("pooled", [False, True])
def test_media_on_own_servers_matches_enumeration(tiny_catalog, profile, mau, pooled):
    ctx = _ctx(profile, tiny_catalog, users={"mau": mau}, labour={"minimum_fte": 0})
    _, plan = _solve(ctx, "media-on-own-servers", pooled)
    assert plan.monthly_cost_usd == pytest.approx(enumerate_media_on_own_servers(ctx, pooled), rel=1e-7)
