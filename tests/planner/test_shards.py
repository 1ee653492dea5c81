"""The database tier as shards x (1 primary + replicas) (issue 16 part 4): known answers for the vertical vs
horizontal choice, the write ceiling of one primary, the reads the copies serve, monotonicity in the write rate,
the plan's topology."""

from __future__ import annotations

import pytest

from planner.catalog.loader import load_catalog
from planner.demand import TierRequirement, compute_demand, tier_requirements
from planner.optimize import plan, plan_strategy
from planner.optimize.context import PlanContext
from planner.report import plan_to_dict
from planner.shards import ShardRule, cache_topology, write_shards_needed
from planner.model import Node
from planner.workload import Workload
from planner_testlib import context_with, free_public, quiet_workload, write_catalogs

HOURS = 730
SMALL = {"type": "small", "vcpu": 2, "memory_gib": 8, "on_demand_per_hour": 0.10}  # $73 a month


def _big(usd_per_hour: float) -> dict:
    return {"type": "big", "vcpu": 8, "memory_gib": 64, "on_demand_per_hour": usd_per_hour}


def _database_plan(tmp_path, profile, offerings, vcpu, memory_gib, min_shards=1, copies=2, history=0.0, inbox=0.0):
    """A public plan whose only load is a database of one copy's `vcpu` and `memory_gib` (at target
    utilization), `copies` copies per shard, a write-ceiling floor of `min_shards`, and `history` vCPU of
    history reads and `inbox` vCPU of inbox queries per shard."""
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"cloudx": free_public(offerings)}))
    rule = ShardRule(copies=copies, min_shards=min_shards, system="PostgreSQL", spread_read_vcpu=history,
                     inbox_read_vcpu_per_shard=inbox)
    database = TierRequirement("database", (float(vcpu),) * 24, (float(memory_gib),) * 24, True, False, copies, rule)
    ctx = context_with(quiet_workload(), profile, catalog, {"database": database})
    plan = plan_strategy(ctx, "public")
    assert plan.status == "optimal", plan.message
    rows = [(n.type, n.count, round(n.monthly_cost_usd, 2)) for n in plan.nodes if n.tier == "database"]
    (topology,) = [t for t in plan.topology if t.tier == "database"]
    (used,) = [u for u in plan.usage if u.tier == "database"]
    return rows, topology, used


def test_more_small_shards_when_that_is_cheaper(tmp_path, profile):
    # one copy needs 4 vCPU and 24 GiB; 2 copies a shard.
    #   small (2 vCPU, 8 GiB, $73): shards = max(4/2, 24/8) = 3 -> 6 nodes = $438   <- optimum
    #   big (8 vCPU, 64 GiB, $365): shards = 1 -> 2 nodes = $730
    rows, topology, used = _database_plan(tmp_path, profile, [SMALL, _big(0.50)], 4, 24)
    assert rows == [("small", 6, 438.0)]
    assert (topology.shards, topology.replicas_per_shard, topology.nodes) == (3, 1, 6)
    assert used.binding_resource == "memory"
    # utilization is the primaries': 24 GiB over 3 x 8 GiB at the profile's target (the raw need is below it)
    assert 0 < used.peak_utilization_memory <= 1.0


def test_a_bigger_instance_before_another_shard_when_that_is_cheaper(tmp_path, profile):
    # the same database; big at $0.25 an hour ($182.50 a month): 1 shard -> 2 nodes = $365 < 6 small = $438
    rows, topology, used = _database_plan(tmp_path, profile, [SMALL, _big(0.25)], 4, 24)
    assert rows == [("big", 2, 365.0)]
    assert (topology.shards, topology.nodes) == (1, 2)
    assert used.binding_resource == "availability (minimum nodes)"


def test_the_write_ceiling_forces_shards_a_bigger_node_cannot_avoid(tmp_path, profile):
    # the same database, but one primary's write ceiling asks for 2 shards:
    #   big: 2 shards -> 4 nodes = $730; small: max(3, 2) = 3 shards -> 6 nodes = $438   <- optimum
    rows, topology, _ = _database_plan(tmp_path, profile, [SMALL, _big(0.25)], 4, 24, min_shards=2)
    assert rows == [("small", 6, 438.0)]
    # 4 shards: small 8 nodes = $584, big 8 nodes = $1,460; the ceiling decides
    rows, topology, used = _database_plan(tmp_path / "4", profile, [SMALL, _big(0.25)], 4, 24, min_shards=4)
    assert rows == [("small", 8, 584.0)]
    assert (topology.shards, topology.replicas_per_shard) == (4, 1)
    assert used.binding_resource == "writes per primary"


def test_three_copies_triple_the_nodes_not_the_shards(tmp_path, profile):
    # database_replicas 3: small 3 shards x 3 copies = 9 nodes = $657; big 1 x 3 = $1,095
    rows, topology, _ = _database_plan(tmp_path, profile, [SMALL, _big(0.50)], 4, 24, copies=3)
    assert rows == [("small", 9, 657.0)]
    assert (topology.shards, topology.replicas_per_shard) == (3, 2)


def test_the_copies_serve_the_reads(tmp_path, profile):
    # writes 2 vCPU (every copy applies them), spread reads 4 vCPU over all copies, inbox 1.5 vCPU per shard
    # over its copies, 4 GiB; per node: (2 + 4/copies) / shards + 1.5/copies <= node vCPU.
    #   2 copies, small (2 vCPU): shards >= (2 + 2) / (2 - 0.75) = 3.2 -> 4 -> 8 nodes = $584   <- optimum
    #             big (8 vCPU, $365): shards >= 4 / 7.25 -> 1 -> 2 nodes = $730
    rows, topology, used = _database_plan(tmp_path, profile, [SMALL, _big(0.50)], 2, 4, history=4, inbox=1.5)
    assert rows == [("small", 8, 584.0)]
    assert (topology.shards, topology.replicas_per_shard) == (4, 1)
    assert used.binding_resource == "vcpu"
    assert used.peak_utilization_cpu == pytest.approx((4 / 4 + 0.75) / 2)   # 1.75 of 2 vCPU
    #   3 copies, small: shards >= (2 + 4/3) / (2 - 0.5) = 2.2 -> 3 -> 9 nodes: a third copy takes reads
    rows, topology, _ = _database_plan(tmp_path / "3", profile, [SMALL, _big(0.50)], 2, 4, copies=3, history=4,
                                       inbox=1.5)
    assert rows == [("small", 9, 657.0)]
    assert topology.shards == 3
    #   without the reads: small 2 / 2 -> 1 shard x 2 = 2 nodes ($146)
    rows, _, _ = _database_plan(tmp_path / "0", profile, [SMALL, _big(0.50)], 2, 4)
    assert rows == [("small", 2, 146.0)]


def test_a_node_that_cannot_carry_its_share_of_every_inbox_query_is_not_a_candidate(tmp_path, profile):
    # inbox 4.5 vCPU per shard over 2 copies = 2.25 vCPU on every node, whatever the shard count: more than a
    # small node's 2, so only big nodes: (2 + 0) / (8 - 2.25) -> 1 shard -> 2 nodes = $730
    rows, topology, _ = _database_plan(tmp_path, profile, [SMALL, _big(0.50)], 2, 4, inbox=4.5)
    assert rows == [("big", 2, 730.0)]
    assert ShardRule(2, 1, "PostgreSQL", inbox_read_vcpu_per_shard=4.5).shards_for_vcpu(2, 2) is None


def test_the_default_read_load_from_deliveries_and_connections(profile):
    workload = Workload.model_validate({"users": {"mau": 2_000_000}, "saas": {"compare": False}})
    demand = compute_demand(workload, profile)
    rule = tier_requirements(workload, demand, profile)["database"].shard_rule
    p, util = profile.value, profile.cpu_utilization("database")
    history_rows = max(x.deliveries_per_s for x in demand.slices) * p("database", "history_reads_per_delivery")
    inboxes = max(x.new_connections_per_s for x in demand.slices)
    inbox_rows = inboxes * p("database", "inbox_conversations_per_user")
    assert rule.spread_read_vcpu == pytest.approx((history_rows / p("database", "history_rows_per_s_per_vcpu")
                                                   + inbox_rows / p("database", "inbox_conversations_per_s_per_vcpu"))
                                                  / util)
    assert rule.inbox_read_vcpu_per_shard == pytest.approx(inboxes / p("database", "inbox_queries_per_s_per_vcpu")
                                                           / util)
    assert rule.spread_read_vcpu > 0 and rule.inbox_read_vcpu_per_shard > 0 and rule.cpu_utilization == util


def test_write_shards_needed_from_the_ceiling_at_target_utilization():
    # 100,000 writes/s against 92,000 per primary at 70 %: 100,000 / 64,400 = 1.55 -> 2
    assert write_shards_needed(100_000, 92_000, 0.7) == 2
    assert write_shards_needed(64_400, 92_000, 0.7) == 1  # exactly at the ceiling: one
    assert write_shards_needed(0, 92_000, 0.7) == 1


def _writes_workload(msgs_per_dau: float) -> Workload:
    return Workload.model_validate({"users": {"mau": 20_000_000},
                                    "messaging": {"messages_per_dau_per_day": msgs_per_dau, "media_share": 0},
                                    "saas": {"compare": False}})


def test_a_write_rate_above_one_primarys_ceiling_gets_two_shards_or_more(tiny_catalog, profile):
    workload = _writes_workload(400)
    demand = compute_demand(workload, profile)
    peak = max(x.durable_writes_per_s for x in demand.slices)
    ceiling = profile.value("database", "max_durable_writes_per_s_per_primary")
    assert peak > ceiling  # the premise: one primary cannot take these writes, whatever its size
    rule = tier_requirements(workload, demand, profile)["database"].shard_rule
    assert rule.min_shards >= 2
    plan = plan_strategy(PlanContext.build(workload, profile, tiny_catalog), "public")
    assert plan.status == "optimal", plan.message
    (topology,) = [t for t in plan.topology if t.tier == "database"]
    assert topology.shards >= rule.min_shards >= 2
    assert topology.nodes == topology.shards * (1 + topology.replicas_per_shard)
    database_nodes = sum(n.count for n in plan.nodes if n.tier == "database")
    assert database_nodes == topology.nodes  # every priced database node is a primary or a replica


def test_doubling_the_writes_never_lowers_the_shard_count(tiny_catalog, profile):
    shards = []
    for msgs in (25, 50, 100, 200, 400, 800):
        plan = plan_strategy(PlanContext.build(_writes_workload(msgs), profile, tiny_catalog), "public")
        assert plan.status == "optimal", plan.message
        (topology,) = [t for t in plan.topology if t.tier == "database"]
        shards.append(topology.shards)
    assert shards == sorted(shards), shards
    assert shards[-1] > shards[0]


def _nodes(tier: str, count: int) -> list[Node]:
    return [Node(tier, "cloudx", "r1", "small", count, "on_demand", 0.0, 0.0, 2, 8.0)]


@pytest.mark.parametrize("cache_vcpu, tier, count, copies, expected", [
    (0.1, "gateway+message+cache", 3, 2, ("sentinel", 1, 1)),  # pooled: one master and a replica
    (0.1, "cache", 1, 1, ("single", 1, 0)),  # nothing to survive
    (1.5, "cache", 4, 2, ("cluster", 3, 1)),  # 2 masters by vCPU -> a cluster needs 3
    (0.2, "cache", 8, 2, ("cluster", 4, 1)),  # 8 dedicated nodes: 4 masters + 4 replicas, none idle
    (5.0, "cache", 10, 2, ("cluster", 5, 1)),  # one vCPU per master
])
def test_cache_topology(cache_vcpu, tier, count, copies, expected):
    t = cache_topology(_nodes(tier, count), cache_vcpu, copies)
    assert (t.mode, t.shards, t.replicas_per_shard) == expected
    assert t.nodes == count and t.host_group == tier


def test_the_plan_json_lists_shards_and_replicas_per_stateful_tier(tiny_catalog, profile):
    workload = Workload.model_validate({"users": {"mau": 400_000}, "saas": {"compare": False}})
    data = plan_to_dict(plan(workload, profile, tiny_catalog, ["public", "private"]))
    for s in data["strategies"]:
        tiers = {t["tier"]: t for t in s["topology"]}
        assert tiers["database"]["mode"] == "sharded" and tiers["database"]["replicas_per_shard"] == 1
        assert "cache" in tiers
        rows = sum(n["count"] for n in s["nodes"] if "database" in n["tier"].split("+"))
        assert tiers["database"]["nodes"] == rows
    private = {t["tier"]: t for t in data["strategies"][1]["topology"]}
    assert private["object_storage"]["mode"] == "distributed"
