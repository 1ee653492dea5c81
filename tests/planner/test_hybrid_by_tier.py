"""Hybrid by tier (planner.optimize.split): whole tiers in the cloud, the others on own servers."""

from __future__ import annotations

import math

import pytest

from planner.costs import p95_of_slices, public_region_terms
from planner.demand import INTERNAL_FLOWS
from planner.labour import labour_rates
from planner.optimize import plan_strategy
from planner.optimize.candidates import make_groups
from planner.optimize.context import PlanContext
from planner.optimize.private import POOL as PRIVATE_POOL, media_group
from planner.optimize.public import POOL as PUBLIC_POOL
from planner.optimize.solver import solve
from planner.optimize.split import build_split, extract_split
from planner.placements import hybrid_placement_names, split_placements
from planner.terms import solved
from planner.units import HOURS_PER_MONTH, mbps_to_gb_per_slice_month
from planner.workload import Workload
from planner.catalog.loader import load_catalog
from planner_testlib import read_tiny, tiny_files, write_catalogs
from test_enumeration import SYSTEM_OF, backup_gb, cheapest_group_cost, site_choices
from test_objective import check_plan

ALL_SPLITS = split_placements(colocate_database_and_message=False)
COMPUTE = ("gateway", "message", "database", "cache")


def _ctx(profile, catalog, **sections):
    return PlanContext.build(Workload.model_validate({"saas": {"compare": False}, **sections}), profile, catalog)


def _solve(ctx, placement, pooled=True):
    model = build_split(ctx, pooled, placement)
    info = solve(model.prob, "highs", 60, 1e-4)
    assert info.status == "optimal", info.message
    return model, extract_split(ctx, model, info)


def _crossing(ctx, cloud):
    """Per slice, Mbps from the own side to the cloud and back: the flows with one end on each side."""
    return [(sum(m for (a, b), m in zip(INTERNAL_FLOWS, s.flows_mbps) if a not in cloud and b in cloud),
             sum(m for (a, b), m in zip(INTERNAL_FLOWS, s.flows_mbps) if a in cloud and b not in cloud))
            for s in ctx.demand.slices]


@pytest.mark.parametrize("placement", list(ALL_SPLITS))
def test_each_placement_puts_each_tier_on_its_side_and_prices_what_crosses(tiny_catalog, profile, placement):
    cloud = ALL_SPLITS[placement]
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000},
               placement={"colocate_database_and_message": False})
    model, plan = _solve(ctx, placement)
    check_plan(plan)  # objective == line sum, quantity x unit price == cost, labour on the plan
    assert plan.placement == placement
    assert solved(model.prob.objective) == pytest.approx(plan.monthly_cost_usd, rel=1e-9)
    owned = {t for n in plan.nodes if n.purchase == "owned" for t in n.tier.split("+")}
    in_cloud = {t for n in plan.nodes if n.purchase != "owned" and n.tier != "witness" for t in n.tier.split("+")}
    assert owned == {t for t in COMPUTE if t not in cloud} | ({"load_balancer"} if "gateway" not in cloud else set()) \
        | ({"object_storage"} if "media" not in cloud else set())
    assert in_cloud == {t for t in COMPUTE if t in cloud}  # the tiny region has a managed load balancer
    # the database votes where it runs: a witness only for a two-cabinet site that holds it
    if "database" in cloud:
        assert not [n for n in plan.nodes if n.tier == "witness"]
    backup = {line.item for line in plan.lines if line.item.startswith("off-site backup copy")}
    held = [what for what, here in (("database", "database" not in cloud), ("media", "media" not in cloud)) if here]
    assert backup == ({f"off-site backup copy of the {' and '.join(held)} (offsite bucket)"} if held else set())
    cloud_backup = [line for line in plan.lines if line.item.startswith("database backup copy (object storage")]
    assert bool(cloud_backup) == ("database" in cloud)
    media = [line for line in plan.lines if line.item.startswith("media objects")]
    assert bool(media) == ("media" in cloud)
    crossing = _crossing(ctx, cloud)
    hops = [(a, b) for a, b in INTERNAL_FLOWS if (a in cloud) != (b in cloud)]
    assert f"each message crosses the site-region link {len(hops)} time" in plan.message
    assert all(f"{a}->{b}" in plan.message for a, b in hops)
    link = [line for line in plan.lines if line.item.startswith("site-to-site link")]
    assert bool(link) == any(up or down for up, down in crossing)
    to_site = [line for line in plan.lines if line.item.startswith("internet egress") and "own site" in line.item]
    down_gb = mbps_to_gb_per_slice_month(sum(down for _, down in crossing))
    if down_gb:
        (egress,) = to_site
        assert egress.quantity >= down_gb - 1e-6
    else:
        assert not to_site


def test_the_database_stays_with_the_message_tier_unless_relaxed(tiny_catalog, profile):
    together = hybrid_placement_names(colocate_database_and_message=True)
    assert "message+database-in-cloud" in together and "database-in-cloud" not in together
    assert len(together) == 1 + 14 and len(hybrid_placement_names(False)) == 1 + 30
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000})
    with pytest.raises(ValueError, match="unknown hybrid placement"):
        build_split(ctx, True, "database-in-cloud")


def test_hybrid_keeps_the_cheapest_placement_and_reports_every_one(tiny_catalog, profile):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000})
    plan = plan_strategy(ctx, "hybrid")
    names = hybrid_placement_names(True)
    every = {f"{p}, {v}" for p in names for v in ("dedicated", "pooled")}
    # each variant is either solved or skipped on its LP bound, never both, never neither
    assert set(plan.alternatives) | set(plan.skipped) == every
    assert not set(plan.alternatives) & set(plan.skipped)
    priced = {k: v for k, v in plan.alternatives.items() if v is not None}
    assert plan.monthly_cost_usd == pytest.approx(min(priced.values()))
    assert plan.placement in names
    assert plan.skipped and all(bound > plan.monthly_cost_usd for bound in plan.skipped.values())


def test_skipping_variants_on_their_lp_bound_changes_no_answer(tiny_catalog, profile):
    """Every skipped variant, solved on its own, costs at least its bound, so at least the chosen plan."""
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000})
    plan = plan_strategy(ctx, "hybrid")
    for key, bound in plan.skipped.items():
        placement, pooling = key.split(", ")
        alone = plan_strategy(_ctx(profile, tiny_catalog, users={"mau": 400000},
                                   placement={"hybrid_placements": [placement], "pooling": pooling}), "hybrid")
        assert alone.skipped == {} and set(alone.alternatives) == {key}
        if alone.monthly_cost_usd is not None:
            assert alone.monthly_cost_usd >= bound - 0.01 >= plan.monthly_cost_usd - 0.01, (key, bound)


def test_the_user_can_choose_the_placements(tiny_catalog, profile):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000},
               placement={"hybrid_placements": ["media-in-cloud"], "pooling": "dedicated"})
    plan = plan_strategy(ctx, "hybrid")
    assert set(plan.alternatives) == {"media-in-cloud, dedicated"}
    assert plan.placement == "media-in-cloud"
    with pytest.raises(ValueError, match="did you mean 'media-in-cloud'"):
        Workload.model_validate({"placement": {"hybrid_placements": ["media-in-clouds"]}})


def test_no_media_no_media_placement(tiny_catalog, profile):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 50000}, messaging={"media_share": 0})
    model = build_split(ctx, True, "media-on-own-servers")
    assert not model.sites and "no media to keep on own servers" in model.excluded
    # a cloud that would hold only the (absent) media carries nothing: not a hybrid
    model = build_split(ctx, True, "media-in-cloud")
    assert not model.sites and any("carry nothing" in why for why in model.excluded)
    plan = plan_strategy(ctx, "hybrid")
    assert plan.alternatives["media-on-own-servers, pooled"] is None
    assert plan.alternatives["media-in-cloud, pooled"] is None
    assert plan.monthly_cost_usd is not None


def test_bulky_media_is_cheaper_on_own_disks_than_in_cloud_storage(tiny_catalog, profile):
    # large media objects: own disk servers (20,000 USD per 200 TB) beat the tiny cloud's per-GB object storage
    def gap(media_avg_bytes):
        def cost(placement):
            ctx = _ctx(profile, tiny_catalog, users={"mau": 400000},
                       messaging={"media_share": 0.5, "media_avg_bytes": media_avg_bytes},
                       placement={"hybrid_placements": [placement], "pooling": "pooled"})
            return plan_strategy(ctx, "hybrid").monthly_cost_usd
        return cost("media-in-cloud") - cost("media-on-own-servers")
    assert gap(5_000_000) > 0 and gap(1_000_000) > 0


def test_splitting_the_database_from_the_message_tier_pays_for_every_write_crossing(tiny_catalog, profile):
    # the same tiers on own servers but the database: its writes cross to the cloud and count in the transit
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000}, placement={"colocate_database_and_message": False})
    crossing = _crossing(ctx, ALL_SPLITS["database-in-cloud"])
    writes = [s.flows_mbps[INTERNAL_FLOWS.index(("message", "database"))] for s in ctx.demand.slices]
    assert [up for up, _ in crossing] == pytest.approx(writes)
    assert all(down == 0 for _, down in crossing)


# ---------------------------------------------------------------- enumeration cross-check (tiny catalog)
def enumerate_split(ctx, pooled: bool, cloud: frozenset) -> float:
    """Closed-form optimum of a placement: the cloud groups are independent given the region (as in the public
    enumeration), the site tries every layout, SKU and product for its groups (as in the private one); labour
    is linear (no minimum staffing), so it adds up over both sides."""
    w = ctx.workload
    rates = labour_rates(w)
    (region,) = ctx.catalog.public_regions
    (site,) = ctx.catalog.private_sites
    crossing = _crossing(ctx, cloud)
    internal = sum(gb for (a, b), gb in zip(INTERNAL_FLOWS, ctx.demand.flows_gb_per_month)
                   if a in cloud and b in cloud)
    total = sum(t.line().monthly_cost_usd for t in public_region_terms(
        region, ctx.demand, w, w.availability.failure_domains, False, database="database" in cloud,
        media="media" in cloud, client="gateway" in cloud, internal_gb=internal,
        to_site_gb=mbps_to_gb_per_slice_month(sum(down for _, down in crossing))))
    cloud_tiers = [t for t in COMPUTE if t in cloud]
    own = [t for t in COMPUTE if t not in cloud] + (["load_balancer"] if "gateway" not in cloud else [])
    cloud_groups = make_groups(ctx.requirements, ctx.profile, cloud_tiers, pooled, PUBLIC_POOL)
    own_groups = make_groups(ctx.requirements, ctx.profile, own, pooled, PRIVATE_POOL)
    if "media" not in cloud:
        own_groups.append(media_group(ctx))
    systems = {SYSTEM_OF[t] for g in cloud_groups + own_groups for t in g.tiers}
    total += len(systems) * rates.fte_per_system * rates.usd_per_fte_month
    per_node_hour = rates.usd_per_fte_month / rates.nodes_per_fte / HOURS_PER_MONTH
    total += sum(cheapest_group_cost(ctx, g, ctx.catalog.compute, per_node_hour) for g in cloud_groups)
    out = [(s.client_egress_mbps if "gateway" not in cloud else 0.0)
           + (s.media_egress_mbps if "media" not in cloud else 0.0) + up
           for s, (up, _) in zip(ctx.demand.slices, crossing)]
    p95 = p95_of_slices([max(o, down) for o, (_, down) in zip(out, crossing)])
    per_server = (1 / rates.nodes_per_fte + 1 / rates.hardware_servers_per_fte) * rates.usd_per_fte_month
    best_site = min(cost + servers * per_server for cost, servers in
                    site_choices(ctx, site, own_groups, p95, quorum="database" not in cloud))
    held = {t for g in own_groups for t in g.tiers}
    return total + best_site + backup_gb(ctx, held) * site.backup.usd_per_gb_month


CROSS_CHECKED = ["media-on-own-servers", "media-in-cloud", "gateway-in-cloud", "database-in-cloud",
                 "gateway+cache-in-cloud", "message+database+media-in-cloud"]


@pytest.mark.parametrize("placement", CROSS_CHECKED)
@pytest.mark.parametrize("mau", [20000, 400000, 1500000])
@pytest.mark.parametrize("pooled", [False, True])
def test_split_matches_enumeration(tiny_catalog, profile, placement, mau, pooled):
    ctx = _ctx(profile, tiny_catalog, users={"mau": mau}, labour={"minimum_fte": 0},
               placement={"colocate_database_and_message": False})
    _, plan = _solve(ctx, placement, pooled)
    assert plan.monthly_cost_usd == pytest.approx(enumerate_split(ctx, pooled, ALL_SPLITS[placement]), rel=1e-7)


# ---------------------------------------------------------------- clouds whose instances bundle traffic
def _bundling_catalog(tmp_path, gb_per_node_month):
    """The tiny catalog with budget-cloud instances: each node-month includes `gb_per_node_month` of internet
    egress, and beyond it a flat 0.05 USD/GB (such a region has one flat overage price)."""
    files = tiny_files()
    cloud = read_tiny("cloudx")
    for offering in cloud["compute"]:
        offering["included_egress_gb_per_month"] = gb_per_node_month
    cloud["transfer"][0]["tiers"] = [{"per_gb": 0.05}]
    files["cloudx"] = cloud
    return load_catalog(write_catalogs(tmp_path / "cat", files))


@pytest.mark.parametrize("placement", ["media-on-own-servers", "gateway-in-cloud", "cache-in-cloud"])
def test_a_split_on_bundled_instances_pays_only_the_egress_beyond_their_allowance(tmp_path, profile, placement):
    # What the cloud sends over the internet (client traffic when it runs the gateway, and what it sends to the
    # site) is covered first by the traffic its running nodes include: billed = max(E - 50 GB x node-months, 0).
    catalog = _bundling_catalog(tmp_path, 50)
    ctx = _ctx(profile, catalog, users={"mau": 1500000})
    cloud = split_placements(True)[placement]
    model, plan = _solve(ctx, placement)
    check_plan(plan)
    assert solved(model.prob.objective) == pytest.approx(plan.monthly_cost_usd, rel=1e-9)
    to_site_gb = mbps_to_gb_per_slice_month(sum(down for _, down in _crossing(ctx, cloud)))
    sent_gb = (ctx.demand.client_egress_gb_per_month if "gateway" in cloud else 0.0) + to_site_gb
    # the tiers' instances bring the allowance (the quorum witness VM is priced on its own)
    node_months = sum(n.node_hours_per_month for n in plan.nodes
                      if n.purchase != "owned" and n.tier != "witness") / HOURS_PER_MONTH
    assert sent_gb > 50 * node_months > 0  # the allowance covers part of it
    (beyond,) = [line for line in plan.lines if line.item.startswith("internet egress")]
    assert beyond.item == "internet egress beyond the traffic included with the servers"
    assert beyond.quantity == pytest.approx(sent_gb - 50 * node_months, rel=1e-9)
    assert beyond.usd_per_unit == pytest.approx(0.05)


def test_a_cloud_that_runs_no_instances_pays_its_egress_in_full(tmp_path, profile):
    # media-in-cloud runs no cloud compute, so no allowance covers the media downloads: they are billed whole
    catalog = _bundling_catalog(tmp_path, 10**6)
    ctx = _ctx(profile, catalog, users={"mau": 400000})
    _, plan = _solve(ctx, "media-in-cloud")
    (egress,) = [line for line in plan.lines if line.item.startswith("internet egress")]
    assert egress.item == "internet egress (media downloads)"
    assert egress.quantity == pytest.approx(ctx.demand.media_egress_gb_per_month)
