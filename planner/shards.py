"""How a stateful tier's nodes are arranged: shards, each one primary and its replicas.

The database tier is not a pool of interchangeable nodes: imserver spreads conversations over shards, each
shard is one PostgreSQL primary that takes the shard's writes and `copies - 1` streaming replicas of the same
size that hold the same data (one takes over when the primary is lost; they serve reads). Every copy applies
all of its shard's writes (the primary commits them, a replica replays them: counted at the same cost, which
overstates a replica's replay); a history read goes to one shard, and so do the rows of an inbox query for the
conversations that shard holds: these spread over every copy of every shard; but every shard answers every inbox
query (a user's conversations may live on any shard), so each pays the query's fixed cost, spread over its copies
only. So, per node,

    vCPU = (writes + spread reads / copies) / shards + inbox queries per shard / copies

and

    nodes = shards x copies
    shards >= (writes + spread reads / copies) / (node vCPU - inbox queries per shard / copies)
    shards >= one copy's working set / node memory       (every copy keeps its shard's hot data)
    shards >= peak durable writes / (ceiling per primary x target CPU utilization)
    shards >= one copy's data / node disk                (own servers: each copy stores its shard)

and the availability target is met by the copies (a shard survives losing a node or a failure domain when
its copies sit on different ones), not by an extra node. The MILP chooses the node size, and with it the
number of shards: a bigger instance where that is cheaper than another shard.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.model import TierTopology

EPS = 1e-9


@dataclass(frozen=True)
class ShardRule:
    """What a sharded tier needs besides vCPU and memory: copies per shard and a floor on the shard count."""

    copies: int  # per shard: one primary and copies - 1 replicas
    min_shards: int  # from the write ceiling of one primary
    system: str  # the engine whose primaries and replicas these are (PostgreSQL)
    spread_read_vcpu: float = 0.0  # history pages and inbox rows: each on one shard, over every copy of every shard
    inbox_read_vcpu_per_shard: float = 0.0  # the fixed cost of the inbox queries every shard answers, over its copies
    cpu_utilization: float = 1.0  # the tier's target: the read vCPU above are divided by it, as the group's vCPU

    def node_vcpu(self, write_vcpu: float, shards: int) -> float:
        """vCPU one node of the tier needs with `shards` shards (write_vcpu: one copy's, i.e. all writes)."""
        return (write_vcpu + self.spread_read_vcpu / self.copies) / shards + self.inbox_read_vcpu_per_shard / self.copies

    def shards_for_vcpu(self, write_vcpu: float, node_vcpu: float) -> int | None:
        """Fewest shards whose nodes of `node_vcpu` carry the tier's writes and reads; None when one node cannot
        even carry its share of every inbox query."""
        spare = node_vcpu - self.inbox_read_vcpu_per_shard / self.copies
        if spare <= EPS:
            return None
        return max(1, math.ceil((write_vcpu + self.spread_read_vcpu / self.copies) / spare - EPS))


def ha_copies(workload) -> int:
    """Copies a stateful tier's shards need to survive what the availability target asks: two when a node or
    a failure domain may be lost (one copy would lose the shard), else one."""
    a = workload.availability
    return 2 if a.tolerate_node_loss or a.tolerate_domain_loss else 1


def database_copies(workload) -> int:
    """Copies of every database shard: the workload's `database_replicas`, and at least `ha_copies`."""
    return max(workload.private.database_replicas, ha_copies(workload))


def write_shards_needed(peak_writes_per_s: float, ceiling_writes_per_s: float, cpu_utilization: float) -> int:
    """Shards the write ceiling of one primary asks for at the tier's target CPU utilization (headroom)."""
    if peak_writes_per_s <= 0:
        return 1
    return max(1, math.ceil(peak_writes_per_s / (ceiling_writes_per_s * cpu_utilization) - EPS))


@dataclass(frozen=True)
class ShardLayout:
    """The plan's arrangement of a sharded tier's nodes (what the bundle deploys)."""

    system: str
    shards: int
    copies: int

    @property
    def primaries(self) -> int:
        return self.shards

    @property
    def replicas(self) -> int:
        return self.shards * (self.copies - 1)

    def as_dict(self) -> dict:
        return {"system": self.system, "shards": self.shards, "primaries": self.primaries,
                "replicas_per_shard": self.copies - 1, "replicas": self.replicas}


def layout_of(rule: ShardRule, nodes: int) -> ShardLayout:
    """The layout of `nodes` nodes of a sharded tier (a multiple of the copies, as the counts are built)."""
    return ShardLayout(rule.system, nodes // rule.copies, rule.copies)


# Redis runs commands on one thread: one process uses about one vCPU whatever the node's size, so more cache
# load means more processes (Redis Cluster masters), not a bigger node. Source: redis.io/docs/latest/develop/
# get-started/faq/ ("How can Redis use multiple CPUs or cores?": start several instances).
REDIS_VCPU_PER_PROCESS = 1.0
# A Redis Cluster needs at least three masters to fail over by majority (redis.io/docs/latest/operate/oss_and_stack/
# management/scaling/: "the minimal cluster ... must contain at least three master nodes").
REDIS_CLUSTER_MIN_MASTERS = 3


def _hosts(nodes, tier: str) -> tuple[int, str]:
    """Priced nodes (busiest-hour count) of the rows that run `tier`, and the name of their group."""
    rows = [n for n in nodes if tier in n.tier.split("+")]
    return sum(n.count for n in rows), (rows[0].tier if rows else "")


SHARD_REASON = {"vcpu": "shards set by each copy's vCPU (its shard's writes and its share of the reads)",
                "memory": "shards set by one copy's working set in memory",
                "writes per primary": "shards set by one primary's write ceiling",
                "storage": "shards set by one copy's data on the disks",
                "availability (minimum nodes)": "one shard carries the load"}


def database_topology(nodes, usage, rule: ShardRule) -> TierTopology | None:
    """The database's shards and replicas; the basis names what set the shard count (the usage's binding)."""
    count, group = _hosts(nodes, "database")
    if not count:
        return None
    layout = layout_of(rule, count)
    binding = next((u.binding_resource for u in usage if u.tier == group), "")
    basis = (f"{SHARD_REASON.get(binding, binding)}; {rule.copies} copies each: database_replicas, "
             f"at least 2 where a node or failure-domain loss must be survived")
    return TierTopology("database", rule.system, "sharded", layout.shards, rule.copies - 1, count, group, basis)


def redis_masters_by_vcpu(cache_vcpu: float) -> int:
    """Redis masters the cache's busiest-hour vCPU (at target utilization) asks for: one vCPU each."""
    return max(1, math.ceil(cache_vcpu / REDIS_VCPU_PER_PROCESS - EPS))


def cache_min_nodes(cache_vcpu: float, copies: int) -> int:
    """Nodes the cache needs whatever their size. Several masters form a Redis Cluster, whose failover needs a
    majority of masters reachable: to survive a node loss, its (at least three) masters sit on three nodes,
    each master's replica on another. One master needs `copies` nodes (its replicas on others)."""
    if copies > 1 and redis_masters_by_vcpu(cache_vcpu) > 1:
        return REDIS_CLUSTER_MIN_MASTERS
    return copies


def cache_topology(nodes, cache_vcpu: float, copies: int) -> TierTopology | None:
    """Redis masters for the cache's busiest-hour vCPU (one vCPU each); on dedicated cache nodes at least
    enough that every node holds a master or a replica. One master: a replica and Sentinels when a loss must be
    survived; several: a Redis Cluster of at least three masters."""
    count, group = _hosts(nodes, "cache")
    if not count:
        return None
    masters = redis_masters_by_vcpu(cache_vcpu)
    basis = f"{masters} master(s) for {cache_vcpu:.2f} vCPU of pub/sub at target utilization, one vCPU each"
    if group == "cache" and masters * copies < count:
        masters = math.ceil(count / copies)
        basis += f"; {masters} so that each of the {count} cache nodes holds a master or a replica"
    if masters > 1 and masters < REDIS_CLUSTER_MIN_MASTERS:
        masters = REDIS_CLUSTER_MIN_MASTERS
        basis += f"; a Redis Cluster needs at least {REDIS_CLUSTER_MIN_MASTERS} masters"
    mode = "cluster" if masters > 1 else ("sentinel" if copies > 1 else "single")
    return TierTopology("cache", "Redis", mode, masters, copies - 1, count, group, basis)


def media_topology(nodes) -> TierTopology | None:
    """Own storage servers run one distributed object store over all of them with the plan's redundancy."""
    rows = [n for n in nodes if n.tier == "object_storage"]
    count = sum(n.count for n in rows)
    if not count:
        return None
    scheme = rows[0].redundancy or "2 copies"
    return TierTopology("object_storage", "MinIO", "distributed", 1, 0, count, "object_storage",
                        f"one cluster over the {count} storage servers, redundancy: {scheme}")


def plan_topology(nodes, usage, requirements: dict, workload) -> tuple[TierTopology, ...]:
    """The stateful tiers of a solved plan (its node rows and utilization) as the bundle deploys them."""
    copies = ha_copies(workload)
    found = []
    if "database" in requirements and requirements["database"].shard_rule is not None:
        found.append(database_topology(nodes, usage, requirements["database"].shard_rule))
    if "cache" in requirements:
        found.append(cache_topology(nodes, max(requirements["cache"].vcpu), copies))
    found.append(media_topology(nodes))
    return tuple(t for t in found if t is not None)
