"""The ready cost table the MILPs read: tier groups (dedicated or pooled), and for each group the node
count every offering would need in every slice, with dominated offerings pruned before any model is built."""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.capacity import CapacityProfile
from planner.catalog.records import ComputeOffering
from planner.costs import HaRule, base_price, nodes_needed, surviving_nodes_needed
from planner.demand import TierRequirement
from planner.model import TierUsage
from planner.shards import ShardRule
from planner.workload import Workload


def lp_name(text: str) -> str:
    """A solver-safe name that keeps distinct texts distinct ("c7g.large" and "c7g-large" differ): every
    character other than an ASCII letter or digit becomes _xx (its code in hex)."""
    return "".join(ch if ch.isascii() and ch.isalnum() else f"_{ord(ch):x}" for ch in text)


def solved_value(variable) -> float:
    """A variable's value after the solve; 0 for a variable the model never created (None) or left unset."""
    return 0.0 if variable is None else float(variable.value() or 0.0)


@dataclass(frozen=True)
class Group:
    """Tiers that share nodes: one tier (dedicated) or several co-located (pooled)."""

    name: str
    tiers: tuple[str, ...]
    vcpu: tuple[float, ...]  # per slice, divided by target utilization
    memory_gib: tuple[float, ...]
    raw_vcpu: tuple[float, ...]  # per slice, as demanded
    raw_memory_gib: tuple[float, ...]
    stateful: bool
    spot_eligible: bool
    min_nodes: int
    shard_rule: ShardRule | None = None  # a sharded tier's group: nodes = shards x copies (planner/shards.py)


def make_groups(requirements: dict[str, TierRequirement], profile: CapacityProfile, tiers: list[str],
                pooled: bool, pool: tuple[str, ...]) -> list[Group]:
    """Dedicated: one group per tier. Pooled: the `pool` tiers share nodes, the rest stay dedicated."""
    members = [[t] for t in tiers if not pooled or t not in pool]
    if pooled:
        shared = [t for t in tiers if t in pool]
        if shared:
            members.insert(0, shared)
    groups = []
    for names in members:
        reqs = [requirements[t] for t in names]
        stateful = any(r.stateful for r in reqs)
        vcpu, memory = _summed(reqs, profile, "vcpu", False), _summed(reqs, profile, "memory_gib", False)
        if stateful:
            vcpu, memory = (max(vcpu),) * len(vcpu), (max(memory),) * len(memory)
        rules = [r.shard_rule for r in reqs if r.shard_rule is not None]
        if rules and len(reqs) > 1:
            raise ValueError(f"tier group {'+'.join(names)}: a sharded tier cannot share nodes with others")
        groups.append(Group(name="+".join(names), tiers=tuple(names), vcpu=vcpu, memory_gib=memory,
                            raw_vcpu=_summed(reqs, profile, "vcpu", True),
                            raw_memory_gib=_summed(reqs, profile, "memory_gib", True),
                            stateful=stateful, spot_eligible=all(r.spot_eligible for r in reqs),
                            min_nodes=max(r.min_nodes for r in reqs), shard_rule=rules[0] if rules else None))
    return groups


def _summed(reqs: list[TierRequirement], profile: CapacityProfile, attr: str, raw: bool) -> tuple[float, ...]:
    """Per-slice sum over the tiers of a group; raw=True undoes the headroom (what is actually demanded)."""
    return tuple(sum(getattr(r, attr)[h] * (_util(profile, r.tier, attr) if raw else 1.0) for r in reqs)
                 for h in range(len(reqs[0].vcpu)))


def _util(profile: CapacityProfile, tier: str, attr: str) -> float:
    return profile.cpu_utilization(tier) if attr == "vcpu" else profile.memory_utilization(tier)


def ha_rule(workload: Workload, group: Group) -> HaRule:
    a = workload.availability
    return HaRule(node_loss=a.tolerate_node_loss, domain_loss=a.tolerate_domain_loss, domains=a.failure_domains,
                  min_nodes=group.min_nodes)


@dataclass(frozen=True)
class Candidate:
    group: Group
    offering: ComputeOffering
    counts: tuple[int, ...]  # nodes needed per slice
    base_usd_per_hour: float
    base_purchase: str
    spot_cap: tuple[int, ...]  # at most this many of a slice's nodes may be spot

    @property
    def max_count(self) -> int:
        return max(self.counts)


def node_counts(group: Group, vcpu: float, memory_gib: float, reserved_gib: float,
                ha: HaRule) -> tuple[int, ...] | None:
    """Nodes of one size the group needs per slice; a sharded group: shards x copies all day (its copies,
    not an extra node, carry the availability target)."""
    if group.shard_rule is not None:
        found = shards_needed(group.shard_rule, max(group.vcpu), max(group.memory_gib), vcpu, memory_gib,
                              reserved_gib)
        return None if found is None else (found[0] * group.shard_rule.copies,) * len(group.vcpu)
    counts = []
    for v, m in zip(group.vcpu, group.memory_gib):
        n = nodes_needed(v, m, vcpu, memory_gib, reserved_gib, ha)
        if n is None:
            return None
        counts.append(n)
    return tuple(counts)


def shards_needed(rule: ShardRule, vcpu: float, memory_gib: float, node_vcpu: float, node_memory_gib: float,
                  reserved_gib: float, data_tb: float = 0.0, node_storage_tb: float | None = None
                  ) -> tuple[int, str] | None:
    """Shards of one node size and what decided their number ("vcpu", "memory", "writes per primary",
    "storage"); None when the node cannot hold a shard (no usable memory, or no disk where data must be stored).

    vcpu and memory_gib are one copy's needs at target utilization (vcpu: applying every write; the reads are the
    rule's); data_tb one copy's stored data at the fill ratio (own servers, whose disks hold it)."""
    by_cpu = rule.shards_for_vcpu(vcpu, node_vcpu)
    by_memory = surviving_nodes_needed(0, memory_gib, node_vcpu, node_memory_gib, reserved_gib)
    if by_cpu is None or by_memory is None:
        return None
    by_disk = 0
    if data_tb > 0:
        if not node_storage_tb or node_storage_tb <= 0:
            return None
        by_disk = math.ceil(data_tb / node_storage_tb - 1e-9)
    options = [(by_cpu, 3, "vcpu"), (by_memory, 2, "memory"), (rule.min_shards, 1, "writes per primary"),
               (by_disk, 0, "storage")]
    shards, _, binding = max(options)
    return max(shards, 1), binding


def public_candidates(group: Group, offerings: list[ComputeOffering], workload: Workload, reserved_gib: float
                      ) -> list[Candidate]:
    ha = ha_rule(workload, group)
    purchase = workload.purchase
    out = []
    for o in offerings:
        if o.arch not in purchase.allowed_arch:
            continue
        counts = node_counts(group, o.vcpu, o.memory_gib, reserved_gib, ha)
        if counts is None:
            continue
        price, label = base_price(o, purchase.max_commitment_years)
        spot_ok = (purchase.allow_spot and group.spot_eligible and not group.stateful
                   and o.usd_per_hour_spot is not None and o.usd_per_hour_spot < o.usd_per_hour)
        spot_cap = tuple(int(purchase.spot_max_share * n) for n in counts) if spot_ok else (0,) * len(counts)
        out.append(Candidate(group, o, counts, price, label, spot_cap))
    return prune_dominated(out)


def _dominates(a: Candidate, b: Candidate) -> bool:
    """a is never worse than b for this group: no more nodes in any slice, no higher price of any kind."""
    if any(x > y for x, y in zip(a.counts, b.counts)):
        return False
    if a.base_usd_per_hour > b.base_usd_per_hour or a.offering.usd_per_hour > b.offering.usd_per_hour:
        return False
    if any(sb > 0 for sb in b.spot_cap):
        if any(sa < sb for sa, sb in zip(a.spot_cap, b.spot_cap)):
            return False
        if (a.offering.usd_per_hour_spot or 0) > (b.offering.usd_per_hour_spot or 0):
            return False
    return a.offering.included_egress_gb_per_month >= b.offering.included_egress_gb_per_month


def prune_dominated(candidates: list[Candidate]) -> list[Candidate]:
    """Drop every candidate another one dominates (ties: keep the first in catalog order)."""
    kept: list[Candidate] = []
    for i, c in enumerate(candidates):
        dominated = any(_dominates(other, c) and (not _dominates(c, other) or j < i)
                        for j, other in enumerate(candidates) if j != i)
        if not dominated:
            kept.append(c)
    return kept


def usage(group: Group, counts: tuple[int, ...], vcpu: float, memory_gib: float, reserved_gib: float,
          ha: HaRule) -> TierUsage:
    """Peak utilization of the chosen nodes and which resource decided their number (a sharded group: of its
    primaries, whose number the shard rule decides)."""
    peak = max(range(len(counts)), key=lambda h: (group.raw_vcpu[h], group.raw_memory_gib[h]))
    n = counts[peak]
    usable_memory = memory_gib - reserved_gib
    rule = group.shard_rule
    if rule is not None:
        shards = n // rule.copies
        found = shards_needed(rule, max(group.vcpu), max(group.memory_gib), vcpu, memory_gib, reserved_gib)
        return TierUsage(group.name, rule.node_vcpu(max(group.vcpu), shards) * rule.cpu_utilization / vcpu
                         if shards else 0.0,
                         group.raw_memory_gib[peak] / (shards * usable_memory) if shards else 0.0,
                         "availability (minimum nodes)" if shards <= 1 else (found[1] if found else "memory"))
    cpu_util = group.raw_vcpu[peak] / (n * vcpu) if n else 0.0
    mem_util = group.raw_memory_gib[peak] / (n * usable_memory) if n else 0.0
    need_cpu = surviving_nodes_needed(group.vcpu[peak], 0, vcpu, memory_gib, reserved_gib) or 0
    need_mem = surviving_nodes_needed(0, group.memory_gib[peak], vcpu, memory_gib, reserved_gib) or 0
    # the resource that needs more nodes; on equal node counts (both round up to the same number, e.g. 1)
    # the one that fills a larger share of a node, at the tier's target utilization
    cpu_share = group.vcpu[peak] / vcpu
    mem_share = group.memory_gib[peak] / usable_memory if usable_memory > 0 else 0.0
    binding = "vcpu" if (need_cpu, cpu_share) >= (need_mem, mem_share) else "memory"
    load_nodes = max(need_cpu, need_mem, 1)
    # the minimum node count decides when the HA rule without that floor would ask for fewer nodes
    if HaRule(ha.node_loss, ha.domain_loss, ha.domains, 0).total_for_surviving(load_nodes) < group.min_nodes:
        binding = "availability (minimum nodes)"
    return TierUsage(group.name, cpu_util, mem_util, binding)
