"""Known-answer optimization tests: tiny catalogs with round prices, tier needs set by hand, optimum worked
out in the comments. H = 730 / 24 = 30.41667 billed hours per hourly slice per month."""

from __future__ import annotations

import pytest

from planner.catalog.loader import load_catalog
from planner.optimize import plan_strategy
from planner_testlib import (context_with, free_public, quiet_workload, read_tiny, requirement, write_catalogs)

H = 730 / 24

# n4: 4 vCPU, 16 GiB; n16: 16 vCPU, 64 GiB (no spot). Region prices are zero (see free_public).
N4 = {"type": "n4", "vcpu": 4, "memory_gib": 16, "on_demand_per_hour": 0.10, "commit_1y_per_hour": 0.06,
      "spot_per_hour": 0.03}
N16 = {"type": "n16", "vcpu": 16, "memory_gib": 64, "on_demand_per_hour": 0.35, "commit_1y_per_hour": 0.20}
# gateway: 4 vCPU for hours 0-11, 16 vCPU for hours 12-23 -> 1 n4 node, then 4 n4 nodes (or 1 n16 all day)
DAY_NIGHT = [4.0] * 12 + [16.0] * 12


def _public_plan(tmp_path, profile, offerings, purchase, vcpu=DAY_NIGHT, availability=99.0, stateful=False):
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"cloudx": free_public(offerings)}))
    workload = quiet_workload(purchase=purchase, availability={"target_percent": availability})
    ctx = context_with(workload, profile, catalog,
                       {"gateway": requirement("gateway", vcpu, 1.0, stateful=stateful)})
    plan = plan_strategy(ctx, "public")
    assert plan.status == "optimal", plan.message
    return plan


def _rows(plan):
    return sorted((n.tier, n.type, n.purchase, n.count) for n in plan.nodes)


def test_commitment_for_the_all_day_node_on_demand_for_the_peak(tmp_path, profile):
    # n4 only, no spot. Base b always-on committed nodes cost b * 0.06 * 730 = 43.8 b; every node beyond the
    # base costs 0.10 * H = 3.0417 per slice.
    #   b=0: (12*1 + 12*4) * 3.0417 = 182.50    b=1: 43.8 + 12*3 * 3.0417 = 153.30   <- optimum
    #   b=2: 87.6 + 12*2 * 3.0417 = 160.60      b=4: 175.20
    # (a committed node pays off when needed in more than 0.06/0.10 * 24 = 14.4 slices: only the first is)
    plan = _public_plan(tmp_path, profile, [N4], {"allow_spot": False})
    assert plan.monthly_cost_usd == pytest.approx(43.8 + 36 * 0.10 * H)
    assert plan.monthly_cost_usd == pytest.approx(153.30)
    assert _rows(plan) == [("gateway", "n4", "commit_1y", 1), ("gateway", "n4", "on_demand (autoscaled)", 3)]


def test_spot_for_part_of_the_peak_up_to_the_cap(tmp_path, profile):
    # Spot allowed for at most int(0.5 * 4) = 2 of the 4 peak nodes (0 of the 1 night node); spot 0.03 * H = 0.9125.
    #   b=1: 43.8 + 12 * (2 * 0.9125 + 1 * 3.0417) = 43.8 + 58.4 = 102.20   <- optimum
    #   b=0: 12 * 3.0417 + 12 * (2 * 0.9125 + 2 * 3.0417) = 36.5 + 94.9 = 131.40
    #   b=2: 87.6 + 12 * 2 * 0.9125 = 109.50
    plan = _public_plan(tmp_path, profile, [N4], {"allow_spot": True, "spot_max_share": 0.5})
    assert plan.monthly_cost_usd == pytest.approx(102.20)
    assert _rows(plan) == [("gateway", "n4", "commit_1y", 1), ("gateway", "n4", "on_demand (autoscaled)", 1),
                           ("gateway", "n4", "spot (autoscaled)", 2)]


def test_spot_cap_share_is_respected(tmp_path, profile):
    # spot_max_share 0.25: int(0.25 * 4) = 1 spot node at the peak.
    #   b=1: 43.8 + 12 * (0.9125 + 2 * 3.0417) = 43.8 + 83.95 = 127.75   <- optimum
    #   b=2: 87.6 + 12 * (0.9125 + 3.0417) = 135.05     b=0: 36.5 + 12 * (0.9125 + 3 * 3.0417) = 156.95
    plan = _public_plan(tmp_path, profile, [N4], {"allow_spot": True, "spot_max_share": 0.25})
    assert plan.monthly_cost_usd == pytest.approx(127.75)
    spot = [n for n in plan.nodes if n.purchase.startswith("spot")]
    assert [n.count for n in spot] == [1]


def test_without_commitments_the_base_is_on_demand(tmp_path, profile):
    # max_commitment_years 0: an always-on node costs 0.10 * 730 = 73 = 24 slices * 3.0417, so every base
    # is as good as any other: (12*1 + 12*4) * 3.0417 = 182.50
    plan = _public_plan(tmp_path, profile, [N4], {"allow_spot": False, "max_commitment_years": 0})
    assert plan.monthly_cost_usd == pytest.approx(182.50)
    assert {n.purchase for n in plan.nodes} <= {"on_demand", "on_demand (autoscaled)"}


def test_bigger_type_wins_without_spot_smaller_with_spot(tmp_path, profile):
    # n16 carries the whole day alone: one committed node = 0.20 * 730 = 146.00.
    # Without spot n4 costs 153.30 (above) -> n16; with spot (cap 2) n4 costs 102.20 -> n4.
    no_spot = _public_plan(tmp_path / "a", profile, [N4, N16], {"allow_spot": False})
    assert no_spot.monthly_cost_usd == pytest.approx(146.00)
    assert _rows(no_spot) == [("gateway", "n16", "commit_1y", 1)]
    with_spot = _public_plan(tmp_path / "b", profile, [N4, N16], {"allow_spot": True, "spot_max_share": 0.5})
    assert with_spot.monthly_cost_usd == pytest.approx(102.20)
    assert {n.type for n in with_spot.nodes} == {"n4"}


def test_stateful_tier_never_scales_or_uses_spot(tmp_path, profile):
    # The same day/night load on a stateful tier is sized for the peak all day: 4 committed n4 = 175.20
    # vs 1 committed n16 = 146.00 -> n16, even with spot allowed (stateful tiers never use spot).
    plan = _public_plan(tmp_path, profile, [N4, N16], {"allow_spot": True}, stateful=True)
    assert plan.monthly_cost_usd == pytest.approx(146.00)
    assert _rows(plan) == [("gateway", "n16", "commit_1y", 1)]


def test_surviving_an_availability_zone_loss(tmp_path, profile):
    # 99.95 %: survive a node and an AZ loss over 3 AZs. 8 vCPU flat = 2 n4 must survive -> n - ceil(n/3) >= 2
    # -> n = 3; all day, committed: 3 * 43.8 = 131.40 (n16: 1 must survive -> 2 nodes = 292.00).
    plan = _public_plan(tmp_path, profile, [N4, N16], {"allow_spot": False}, vcpu=[8.0] * 24, availability=99.95)
    assert plan.monthly_cost_usd == pytest.approx(131.40)
    assert _rows(plan) == [("gateway", "n4", "commit_1y", 3)]


# ---------------------------------------------------------------- private: colo products, power, gear, transit
# colox (tests/fixtures/tiny-catalog): c64 = 64 vCPU, 400 W, 1 U, 12,000 USD over 5 years = 200/month.
# Products: quarter rack 10 U, 1 kW included, 300/month, extra power 200/kW up to 3 kW; full rack 42 U, 4 kW,
# 1,000/month, extra 180/kW up to 8 kW. Per own cabinet a ToR (1 U, 60 W, 1,200 / 5 years = 20/month); per
# server 2 DAC cables (30 / 5 years = 0.50 each). Support 6 % of capex a year; one cold spare per model.
# Energy 0.10/kWh at PUE 1.5: 1 W all month = 0.001 * 1.5 * 730 * 0.10 = 0.1095 USD. Remote hands 1.2 h per
# server a year at 100/h = 10 per server-month. Transit 1.0/Mbps, 100 Mbps commit (no traffic here): at 99 %
# availability one provider, 100 + one cross-connect 150. No media, no data: no backup line; labour off.
W_USD = 0.1095


def _private_plan(tmp_path, profile, gateway_vcpu, colox=None, private=None, extra_files=None, availability=99.0):
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"colox": colox or read_tiny("colox"),
                                                             **(extra_files or {})}))
    workload = quiet_workload(private={"database_replicas": 1, **(private or {})},
                              availability={"target_percent": availability})
    ctx = context_with(workload, profile, catalog, {"gateway": requirement("gateway", gateway_vcpu, 0.0)})
    plan = plan_strategy(ctx, "private")
    assert plan.status == "optimal", plan.message
    return plan


def _private_line(plan, category):
    return sum(line.monthly_cost_usd for line in plan.lines if line.category == category)


def _line(plan, prefix):
    return next(line for line in plan.lines if line.item.startswith(prefix))


def test_private_power_above_the_allowance_decides_the_cabinets(tmp_path, profile):
    # gateway 28 * 64 vCPU -> 28 c64; message, database (1 replica), cache, load balancer keep one each: 32 c64,
    # 12,800 W. Full racks: 1 cannot take 12.86 kW (max 8); 2 hold it with 12.92 - 8 = 4.92 kW extra:
    # 2,000 + 885.60 + 2 ToR 40 = 2,925.60; 3 cost 3,000 + 176.40 + 60. Quarter racks need >= 5 (power): 5 cost
    # 1,500 + 8.1 kW * 200 + 100 = 3,220. So 2 full racks.
    # servers 32 * 200 = 6,400; spare 200; support 32 * 12,000 * 0.06 / 12 = 1,920; cables 32
    # energy 12,920 W * 0.1095 = 1,414.74; remote hands 320; transit 100 + 150
    plan = _private_plan(tmp_path, profile, 28 * 64)
    expected = 6400 + 200 + 1920 + 32 + 40 + 2000 + 4.92 * 180 + 12920 * W_USD + 320 + 100 + 150
    assert plan.monthly_cost_usd == pytest.approx(expected, abs=0.01)
    assert _line(plan, "colocation: full rack").quantity == 2
    assert _line(plan, "committed power above the allowance").quantity == pytest.approx(4.92)
    assert _line(plan, "metered energy").quantity == pytest.approx(12920 * 1.5 * 730 / 1000)
    assert _line(plan, "hardware support").monthly_cost_usd == pytest.approx(1920)
    assert _line(plan, "cold spare: c64").quantity == 1
    assert _line(plan, "IP transit").quantity == 100 and "one provider" in _line(plan, "IP transit").item
    assert not [line for line in plan.lines if "backup" in line.item]  # nothing stored
    assert sorted((n.tier, n.type, n.count) for n in plan.nodes) == [
        ("cache", "c64", 1), ("database", "c64", 1), ("gateway", "c64", 28), ("load_balancer", "c64", 1),
        ("message", "c64", 1)]


def test_a_small_footprint_gets_a_quarter_rack_not_a_full_one(tmp_path, profile):
    # gateway 64 vCPU -> 1 c64, + 4 other tiers = 5 servers, 2,000 W. One quarter rack holds 6 U, 2.06 kW with
    # 1.06 kW extra: 300 + 212 + 20 = 532; a full rack 1,000 + 20.
    # servers 1,000; spare 200; support 300; cables 5; energy 2,060 W * 0.1095 = 225.57; remote hands 50; transit 250
    plan = _private_plan(tmp_path, profile, 64)
    assert _line(plan, "colocation: quarter rack").quantity == 1
    assert not [line for line in plan.lines if line.item.startswith("colocation: full rack")]
    expected = 1000 + 200 + 300 + 5 + 20 + 300 + 1.06 * 200 + 2060 * W_USD + 50 + 250
    assert plan.monthly_cost_usd == pytest.approx(expected, abs=0.01)


def test_bandwidth_included_in_the_colo_product_replaces_transit(tmp_path, profile):
    # The footprint above (one quarter rack) with 10 Mbps included on the colo's blended network: the site's
    # 95th percentile (no traffic here) fits, so neither the 100 Mbps commit nor the cross-connect is bought:
    # the same plan for 250 less, and a 0-USD line that says why.
    colox = read_tiny("colox")
    colox["colo_products"][0]["included_mbps"] = 10
    plan = _private_plan(tmp_path, profile, 64, colox=colox)
    expected = 1000 + 200 + 300 + 5 + 20 + 300 + 1.06 * 200 + 2060 * W_USD + 50
    assert plan.monthly_cost_usd == pytest.approx(expected, abs=0.01)
    assert not [line for line in plan.lines if "IP transit" in line.item or "cross-connect" in line.item]
    included = _line(plan, "no transit bought")
    assert included.quantity == 1 and included.monthly_cost_usd == 0
    # when the included bandwidth comes with the full rack only, the quarter rack still wins with transit bought
    colox["colo_products"][0]["included_mbps"] = 0
    colox["colo_products"][1]["included_mbps"] = 10
    other = _private_plan(tmp_path / "b", profile, 64, colox=colox)
    assert _line(other, "colocation: quarter rack").quantity == 1
    assert _line(other, "IP transit").quantity == 100


def test_cost_of_capital_makes_owned_servers_an_annuity(tmp_path, profile):
    # 6 % a year over 5 years: 12,000 * r / (1 - (1 + r)^-60) per server-month, r = 1.06^(1/12) - 1
    r = 1.06 ** (1 / 12) - 1
    payment = 12000 * r / (1 - (1 + r) ** -60)
    plan = _private_plan(tmp_path, profile, 64, private={"cost_of_capital_percent": 6})
    line = _line(plan, "gateway: c64")
    assert line.usd_per_unit == pytest.approx(payment) and "6 % cost of capital" in line.item
    assert payment > 200


def test_surviving_a_rack_loss_takes_three_cabinets_or_two_and_a_witness(tmp_path, profile):
    # 99.95 %: a rack (cabinet) loss must be survived. With no cloud for a quorum witness, 3 cabinets;
    # with one (the tiny cloud's cheapest VM), the model may choose 2 cabinets + the witness when cheaper.
    alone = _private_plan(tmp_path / "a", profile, 64, availability=99.95)
    assert "3 cabinets" in alone.message
    assert sum(line.quantity for line in alone.lines if line.item.startswith("colocation")) >= 3
    assert not [n for n in alone.nodes if n.tier == "witness"]
    with_cloud = _private_plan(tmp_path / "b", profile, 64, availability=99.95,
                               extra_files={"cloudx": read_tiny("cloudx")})
    assert "2 cabinets + quorum witness" in with_cloud.message
    (witness,) = [n for n in with_cloud.nodes if n.tier == "witness"]
    assert witness.count == 1 and witness.node_hours_per_month == 730
    assert with_cloud.monthly_cost_usd < alone.monthly_cost_usd
    # two transit providers when a failure must be survived
    assert "two providers" in _line(with_cloud, "IP transit").item


def test_per_u_space_only_where_no_rack_loss_must_be_survived(tmp_path, profile):
    colox = read_tiny("colox")
    colox["colo_products"].append({"region": "s1", "name": "1U shared", "kind": "per_u", "rack_units": 1,
                                   "kw_included": 0.5, "per_month": 40, "source": "test"})
    # 5 servers in 5 U of shared space: 200, no own cabinet (no ToR); cheaper than a quarter rack
    plan = _private_plan(tmp_path / "a", profile, 64, colox=colox)
    assert _line(plan, "colocation: 1U shared").quantity == 5
    assert not [line for line in plan.lines if "per own cabinet" in line.item]
    ha = _private_plan(tmp_path / "b", profile, 64, colox=colox, availability=99.95)
    assert not [line for line in ha.lines if line.item.startswith("colocation: 1U shared")]


def test_no_media_servers_without_media_and_two_copies_on_two_servers(tmp_path, profile):
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"colox": read_tiny("colox")}))
    without = context_with(quiet_workload(), profile, catalog, {})
    assert not [n for n in plan_strategy(without, "private").nodes if n.tier == "object_storage"]
    media = quiet_workload(users={"mau": 200000}, messaging={"messages_per_dau_per_day": 40, "media_share": 0.15})
    ctx = context_with(media, profile, catalog, {})
    plan = plan_strategy(ctx, "private")
    (store,) = [n for n in plan.nodes if n.tier == "object_storage"]
    # 8+4 erasure coding needs 12 servers: on 2 servers the media is mirrored
    assert store.count == 2 and "2 copies" in _line(plan, "object_storage").item
    assert [u.binding_resource for u in plan.usage if u.tier == "object_storage"] == ["storage"]
    # the off-site copy holds one copy of the database and of the media, at the backup target's price
    from planner.units import gib_to_gb
    backup = _line(plan, "off-site backup copy")
    assert backup.quantity == pytest.approx(gib_to_gb(ctx.demand.database_storage_gib) + ctx.demand.media_stored_gb)
    assert backup.usd_per_unit == 0.005


# ---------------------------------------------------------------- peak utilization and binding resource
@pytest.mark.parametrize("vcpu, memory, min_nodes, binding", [
    (0.2, 4.0, 2, "memory"),            # both fit one node; memory fills 53 % of it, CPU 10 %
    (0.2, 0.5, 2, "vcpu"),              # 10 % vs 7 %
    (5.0, 4.0, 2, "vcpu"),              # CPU needs 3 nodes, memory 1
    (0.2, 20.0, 2, "memory"),           # memory needs 3 nodes
    (0.2, 4.0, 3, "availability (minimum nodes)"),  # 1 node + HA = 2 < 3 database copies
])
def test_usage_names_the_binding_resource(vcpu, memory, min_nodes, binding):
    from planner.costs import HaRule
    from planner.optimize.candidates import Group, usage
    # nodes of 2 vCPU and 8 GiB with 0.5 GiB reserved (7.5 usable); target utilization 0.5 CPU, 0.8 memory
    g = Group("database", ("database",), (vcpu,) * 24, (memory,) * 24, (vcpu * 0.5,) * 24, (memory * 0.8,) * 24,
              stateful=True, spot_eligible=False, min_nodes=min_nodes)
    u = usage(g, (4,) * 24, 2, 8, 0.5, HaRule(True, True, 3, min_nodes))
    assert u.binding_resource == binding
    assert u.peak_utilization_cpu == pytest.approx(vcpu * 0.5 / 8)
    assert u.peak_utilization_memory == pytest.approx(memory * 0.8 / 30)


def test_private_servers_cover_the_cpu_peak_and_the_memory_peak_hours(tmp_path, profile):
    # gateway: 128 vCPU at hour 0 (2 c64 by CPU), 700 GiB at hour 1 (700 / 256 -> 3 c64 by memory).
    # Owned servers run all day, so 3 are needed; sizing for "the" peak hour by CPU alone gave 2.
    vcpu = [128.0] + [10.0] * 23
    memory = [10.0, 700.0] + [10.0] * 22
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"colox": read_tiny("colox")}))
    ctx = context_with(quiet_workload(private={"database_replicas": 1}), profile, catalog,
                       {"gateway": requirement("gateway", vcpu, memory)})
    plan = plan_strategy(ctx, "private")
    assert [n.count for n in plan.nodes if n.tier == "gateway"] == [3]


def test_servers_bought_for_their_traffic_allowance_are_reported_and_priced(tmp_path, profile):
    # Budget-cloud style: each n4 node-month includes 200 GB of internet egress; beyond, 0.05 USD/GB. An n4 costs
    # 0.005 * 730 = 3.65 a month and brings 200 GB (worth 10 USD), so running N nodes where the load needs one pays
    # off: cost(N) = 3.65 N + 0.05 max(E - 200 N, 0), E the month's egress; the optimum is min over N >= 1.
    # The plan must show the N nodes it pays for, and its cost must be the solver's objective.
    from planner.costs import internet_egress_gb, public_region_terms
    catalog_data = free_public([{"type": "n4", "vcpu": 4, "memory_gib": 16, "on_demand_per_hour": 0.005,
                                 "included_egress_gb_per_month": 200}])
    catalog_data["transfer"][0]["tiers"] = [{"per_gb": 0.05}]
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"cloudx": catalog_data}))
    workload = quiet_workload(users={"mau": 200000},
                              messaging={"messages_per_dau_per_day": 40, "media_share": 0.15})
    ctx = context_with(workload, profile, catalog, {"gateway": requirement("gateway", 4.0, 1.0)})
    (region,) = catalog.public_regions
    egress = internet_egress_gb(region, ctx.demand)
    fixed = sum(t.line().monthly_cost_usd for t in public_region_terms(region, ctx.demand, workload, 1, True))
    best_n = min(range(1, 1000), key=lambda n: 3.65 * n + 0.05 * max(egress - 200 * n, 0))
    assert best_n > 1  # the instance exercises the allowance
    plan = plan_strategy(ctx, "public")
    assert plan.monthly_cost_usd == pytest.approx(plan.solver.objective_usd, rel=1e-9)
    assert plan.monthly_cost_usd == pytest.approx(fixed + 3.65 * best_n + 0.05 * max(egress - 200 * best_n, 0))
    assert sum(n.node_hours_per_month for n in plan.nodes) == pytest.approx(730 * best_n)
