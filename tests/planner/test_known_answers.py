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


# ---------------------------------------------------------------- private: racks, power, FTE steps
# colox (tests/fixtures/tiny-catalog): c64 = 64 vCPU, 400 W, 1 U, 12,000 USD over 5 years = 200/month;
# st200 (storage role) = 600 W, 2 U, 20,000 USD = 333.33/month. Rack: 5 kW at 150/kW = 750/month, 42 U,
# 2 ToR per rack (1 U, 150 W, 6,000 USD / 5 years = 100/month each). Energy 0.10/kWh at PUE 1.5:
# 1 W all month = 0.001 * 1.5 * 730 * 0.10 = 0.1095 USD. Labour 120,000/year = 10,000/FTE-month,
# 50 servers/FTE, steps of 0.25 FTE, at least 0.5. Transit 1.0/Mbps, 100 Mbps minimum commit (no traffic here).

def _private_plan(tmp_path, profile, gateway_vcpu, colox=None, private=None):
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"colox": colox or read_tiny("colox")}))
    workload = quiet_workload(private={"database_replicas": 1, **(private or {})})
    ctx = context_with(workload, profile, catalog, {"gateway": requirement("gateway", gateway_vcpu, 0.0)})
    plan = plan_strategy(ctx, "private")
    assert plan.status == "optimal", plan.message
    return plan


def _private_line(plan, category):
    return sum(line.monthly_cost_usd for line in plan.lines if line.category == category)


def test_private_power_binds_racks_and_fte_rounds_up_to_a_step(tmp_path, profile):
    # gateway 28 * 64 vCPU -> 28 c64; message, database (1 replica), cache, load balancer need nothing but
    # keep one server each -> 32 c64; media keeps one st200 -> 33 servers.
    # power: 32*400 + 600 = 13,400 W + 300 W gear per rack <= 5,000 W per rack -> R >= 2.85 -> 3 racks
    # (space: 34 U + 2 U per rack <= 42 U per rack -> 1 rack, so power binds)
    # hardware 32*200 + 333.33 = 6,733.33; gear 3 * 200 = 600; colo 3 * 750 = 2,250
    # energy (13,400 + 900) W * 0.1095 = 1,565.85; FTE 33/50 = 0.66 -> 0.75 -> 7,500; transit 100
    # total 18,749.18
    plan = _private_plan(tmp_path, profile, 28 * 64)
    assert plan.monthly_cost_usd == pytest.approx(18749.1833, abs=0.01)
    assert _private_line(plan, "labour") == pytest.approx(7500)
    assert _private_line(plan, "facilities_power") == pytest.approx(2250 + 1565.85)
    racks = next(line for line in plan.lines if line.item.startswith("colocation"))
    assert racks.quantity == 3
    assert sorted((n.tier, n.type, n.count) for n in plan.nodes) == [
        ("cache", "c64", 1), ("database", "c64", 1), ("gateway", "c64", 28), ("load_balancer", "c64", 1),
        ("message", "c64", 1), ("object_storage", "st200", 1)]


def test_private_fte_steps_follow_servers_per_fte(tmp_path, profile):
    # as above with private.servers_per_fte = 10: 33/10 = 3.3 FTE -> 3.5 FTE = 35,000 (instead of 7,500)
    plan = _private_plan(tmp_path, profile, 28 * 64, private={"servers_per_fte": 10})
    assert _private_line(plan, "labour") == pytest.approx(35000)
    assert plan.monthly_cost_usd == pytest.approx(18749.1833 - 7500 + 35000, abs=0.01)


def test_private_space_binds_racks_when_power_is_plenty(tmp_path, profile):
    # 20 kW racks; gateway 80 * 64 vCPU -> 80 c64, + 4 -> 84 c64 + 1 st200:
    # space 84 + 2 = 86 U + 2 U gear per rack <= 42 U per rack -> R >= 2.15 -> 3 racks
    # (power 34,200 W + 300 W per rack <= 20,000 W per rack -> 2 racks)
    # hardware 84*200 + 333.33 = 17,133.33; gear 600; colo 3 * 20 * 150 = 9,000;
    # energy (34,200 + 900) W * 0.1095 = 3,843.45; FTE 85/50 = 1.7 -> 1.75 -> 17,500; transit 100
    # total 48,176.78
    colox = read_tiny("colox")
    colox["facilities"][0]["kw_per_rack"] = 20
    plan = _private_plan(tmp_path, profile, 80 * 64, colox=colox)
    assert plan.monthly_cost_usd == pytest.approx(48176.7833, abs=0.01)
    racks = next(line for line in plan.lines if line.item.startswith("colocation"))
    assert racks.quantity == 3


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
    from planner.costs import internet_egress_gb, public_region_lines
    catalog_data = free_public([{"type": "n4", "vcpu": 4, "memory_gib": 16, "on_demand_per_hour": 0.005,
                                 "included_egress_gb_per_month": 200}])
    catalog_data["transfer"][0]["tiers"] = [{"per_gb": 0.05}]
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"cloudx": catalog_data}))
    workload = quiet_workload(users={"mau": 200000},
                              messaging={"messages_per_dau_per_day": 40, "media_share": 0.15})
    ctx = context_with(workload, profile, catalog, {"gateway": requirement("gateway", 4.0, 1.0)})
    (region,) = catalog.public_regions
    egress = internet_egress_gb(region, ctx.demand)
    fixed = sum(line.monthly_cost_usd for line in public_region_lines(region, ctx.demand, workload, 1, True))
    best_n = min(range(1, 1000), key=lambda n: 3.65 * n + 0.05 * max(egress - 200 * n, 0))
    assert best_n > 1  # the instance exercises the allowance
    plan = plan_strategy(ctx, "public")
    assert plan.monthly_cost_usd == pytest.approx(plan.solver.objective_usd, rel=1e-9)
    assert plan.monthly_cost_usd == pytest.approx(fixed + 3.65 * best_n + 0.05 * max(egress - 200 * best_n, 0))
    assert sum(n.node_hours_per_month for n in plan.nodes) == pytest.approx(730 * best_n)
