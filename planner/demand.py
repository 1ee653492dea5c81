"""Demand model (pure functions): Workload -> per-hour-slice load, storage and monthly transfer,
then -> per-tier resource requirements (vCPU, GiB) through the capacity profile.

Units are in the names. A "slice" is one hour of the 24-hour load curve; it recurs every day, so
each slice stands for HOURS_PER_SLICE_PER_MONTH billed hours a month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from planner.capacity import CapacityProfile
from planner.units import (BYTES_PER_GB, BYTES_PER_GIB, DAYS_PER_MONTH, KIB_PER_GIB, SECONDS_PER_HOUR,
                           bytes_per_s_to_mbps, mbps_to_gb_per_slice_month)
from planner.errors import WorkloadError
from planner.inputs import MAX_FIGURE
from planner.shards import ShardRule, cache_min_nodes, database_copies, ha_copies, write_shards_needed
from planner.workload import Workload



def _checked(record, what: str):
    """Every number of a demand record is finite and within MAX_FIGURE; a WorkloadError names the first one that
    is not: several fields, each within its range, can still multiply into an absurd figure (a typo such as
    retention.message_days: 9e15, not a deployment)."""
    for f in fields(record):
        values = getattr(record, f.name)
        for value in values if isinstance(values, tuple) else (values,):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or abs(value) > MAX_FIGURE:
                raise WorkloadError(f"workload: the {what} {f.name} comes to {value:.3g}, beyond the "
                                    f"{MAX_FIGURE:.0e} the planner handles; check users, messaging and "
                                    "retention for a typo")
    return record


# Traffic between the tiers, one entry per (from, to) pair: what cross-zone and cross-site traffic is made of.
# A send goes gateway -> message -> database (the durable write) and message -> cache (the publish); each
# delivery, receipt and typing event is published message -> cache and fanned out cache -> gateway.
INTERNAL_FLOWS: tuple[tuple[str, str], ...] = (
    ("gateway", "message"), ("message", "database"), ("message", "cache"), ("cache", "gateway"))


@dataclass(frozen=True)
class SliceDemand:
    hour: int
    weight: float  # relative load, peak slice = 1
    connections: float
    new_connections_per_s: float
    msgs_per_s: float
    deliveries_per_s: float
    receipts_per_s: float
    typing_deliveries_per_s: float
    durable_writes_per_s: float
    pubsub_ops_per_s: float
    gateway_frames_per_s: float
    client_egress_mbps: float  # text + events to clients
    media_egress_mbps: float  # media downloads to clients
    media_ingress_mbps: float  # media uploads
    flows_mbps: tuple[float, ...]  # between tiers, per INTERNAL_FLOWS pair (cross-zone and cross-site traffic)

    @property
    def internal_mbps(self) -> float:
        return sum(self.flows_mbps)


@dataclass(frozen=True)
class Demand:
    dau: float
    peak_connections: float
    messages_per_month: float
    deliveries_per_month: float
    slices: tuple[SliceDemand, ...]
    database_storage_gib: float  # one copy of the retained messages with indexes
    media_stored_gb: float  # objects retained (decimal GB, as object storage bills)
    media_hot_gb: float
    media_cold_gb: float
    media_puts_per_month: float
    media_gets_per_month: float
    client_egress_gb_per_month: float
    media_egress_gb_per_month: float
    flows_gb_per_month: tuple[float, ...]  # between tiers, per INTERNAL_FLOWS pair
    db_replication_gb_per_month: float

    @property
    def internal_gb_per_month(self) -> float:
        return sum(self.flows_gb_per_month)

    def flows_within_gb_per_month(self, tiers) -> float:
        """GB a month the tiers in `tiers` send each other (both ends inside)."""
        return sum(gb for (a, b), gb in zip(INTERNAL_FLOWS, self.flows_gb_per_month) if a in tiers and b in tiers)

    @property
    def peak(self) -> SliceDemand:
        return max(self.slices, key=lambda s: s.weight)


@dataclass(frozen=True)
class TierRequirement:
    """Resources a tier needs in each slice, already divided by target utilization."""

    tier: str
    vcpu: tuple[float, ...]
    memory_gib: tuple[float, ...]
    stateful: bool  # stateful tiers keep a fixed node count all day (no autoscaling)
    spot_eligible: bool  # may lose nodes without losing data
    min_nodes: int
    shard_rule: ShardRule | None = None  # sharded tiers: vcpu and memory_gib are one copy's, nodes = shards x copies

    def scaled(self, factor: float) -> "TierRequirement":
        return TierRequirement(self.tier, tuple(v * factor for v in self.vcpu),
                               tuple(m * factor for m in self.memory_gib), self.stateful, self.spot_eligible,
                               self.min_nodes, self.shard_rule)


def deliveries_per_message(workload: Workload) -> float:
    m = workload.messaging
    return (1 - m.group_share) * m.one_to_one_deliveries_per_message + m.group_share * (m.group_size - 1)


def compute_demand(workload: Workload, profile: CapacityProfile) -> Demand:
    u, m, ret = workload.users, workload.messaging, workload.retention
    weights = workload.load_profile.weights()
    dau = u.mau * u.dau_per_mau
    peak_connections = dau * u.peak_concurrent_per_dau * u.devices_per_user
    msgs_per_day = dau * m.messages_per_dau_per_day
    fanout = deliveries_per_message(workload)
    media_bytes_per_download = m.media_avg_bytes
    slices = []
    for hour, w in enumerate(weights):
        msgs = msgs_per_day * (w / sum(weights)) / SECONDS_PER_HOUR
        deliveries = msgs * fanout
        receipts = deliveries * m.receipts_per_delivery
        typing = msgs * m.typing_events_per_message * fanout
        connections = peak_connections * w
        frames_out = deliveries + receipts + typing + msgs  # acks go back to the sender
        frames_in = msgs + receipts + msgs * m.typing_events_per_message
        client_bytes = deliveries * m.avg_message_bytes + (receipts + typing + msgs) * m.event_frame_bytes
        media_down = deliveries * m.media_share * m.media_downloads_per_delivery * media_bytes_per_download
        media_up = msgs * m.media_share * m.media_avg_bytes
        events = deliveries * m.avg_message_bytes + (receipts + typing) * m.event_frame_bytes
        send = msgs * m.avg_message_bytes
        flow_bytes = {("gateway", "message"): send, ("message", "database"): send,
                      ("message", "cache"): send + events, ("cache", "gateway"): events}
        slices.append(_checked(SliceDemand(
            hour=hour, weight=w, connections=connections,
            new_connections_per_s=connections / (u.avg_session_minutes * 60),
            msgs_per_s=msgs, deliveries_per_s=deliveries, receipts_per_s=receipts,
            typing_deliveries_per_s=typing, durable_writes_per_s=msgs + receipts,
            pubsub_ops_per_s=deliveries + receipts + typing, gateway_frames_per_s=frames_out + frames_in,
            client_egress_mbps=bytes_per_s_to_mbps(client_bytes), media_egress_mbps=bytes_per_s_to_mbps(media_down),
            media_ingress_mbps=bytes_per_s_to_mbps(media_up),
            flows_mbps=tuple(bytes_per_s_to_mbps(flow_bytes[f]) for f in INTERNAL_FLOWS)),
            "demand at hour slice"))

    def monthly_gb(mbps_field: str) -> float:
        mbps_sum = sum(getattr(s, mbps_field) for s in slices)
        return mbps_to_gb_per_slice_month(mbps_sum)

    row_bytes = m.avg_message_bytes + profile.value("database", "row_overhead_bytes")
    media_per_day_gb = msgs_per_day * m.media_share * m.media_avg_bytes / BYTES_PER_GB
    hot_days = min(ret.media_hot_days, ret.media_days)
    media_msgs_per_month = msgs_per_day * m.media_share * DAYS_PER_MONTH
    return _checked(Demand(
        dau=dau, peak_connections=peak_connections,
        messages_per_month=msgs_per_day * DAYS_PER_MONTH,
        deliveries_per_month=msgs_per_day * fanout * DAYS_PER_MONTH,
        slices=tuple(slices),
        database_storage_gib=msgs_per_day * ret.message_days * row_bytes / BYTES_PER_GIB,
        media_stored_gb=media_per_day_gb * ret.media_days,
        media_hot_gb=media_per_day_gb * hot_days,
        media_cold_gb=media_per_day_gb * (ret.media_days - hot_days),
        media_puts_per_month=media_msgs_per_month,
        media_gets_per_month=media_msgs_per_month * fanout * m.media_downloads_per_delivery,
        client_egress_gb_per_month=monthly_gb("client_egress_mbps"),
        media_egress_gb_per_month=monthly_gb("media_egress_mbps"),
        flows_gb_per_month=tuple(mbps_to_gb_per_slice_month(sum(x.flows_mbps[i] for x in slices))
                                 for i in range(len(INTERNAL_FLOWS))),
        db_replication_gb_per_month=(msgs_per_day * row_bytes * DAYS_PER_MONTH / BYTES_PER_GB
                                     * (database_copies(workload) - 1)),
    ), "demand")


@dataclass(frozen=True)
class TierLoad:
    """Resources a tier needs in each slice at 100 % utilization: what a benchmark run's servers used."""

    vcpu: tuple[float, ...]
    memory_gib: tuple[float, ...]


def tier_loads(demand: Demand, profile: CapacityProfile) -> dict[str, TierLoad]:
    """vCPU and GiB each compute tier needs per slice before headroom (node OS reserve excluded).

    Each tier's need is a sum of terms, one per driver (connections, frames, messages, ...), each term
    priced by its own coefficient; coefficients derived from one published run are split so that their
    terms add up to that run's resources (planner/anchors.py replays the runs), never each charged the
    run's whole server.
    """
    p = profile.value
    s = demand.slices
    db_hot_gib = demand.database_storage_gib * p("database", "hot_data_fraction")

    def per_connection_gib(tier: str) -> list[float]:
        return [x.connections * p(tier, "memory_kib_per_connection") / KIB_PER_GIB for x in s]

    return {
        "gateway": TierLoad(
            tuple(x.connections / p("gateway", "connections_per_vcpu")
                  + x.gateway_frames_per_s / p("gateway", "deliveries_per_s_per_vcpu") for x in s),
            tuple(per_connection_gib("gateway"))),
        "message": TierLoad(tuple(x.msgs_per_s / p("message", "msgs_per_s_per_vcpu") for x in s),
                            (p("message", "base_memory_gib"),) * len(s)),
        "database": TierLoad(tuple(x.durable_writes_per_s / p("database", "durable_writes_per_s_per_vcpu")
                                   for x in s), (db_hot_gib,) * len(s)),
        "cache": TierLoad(tuple(x.pubsub_ops_per_s / p("cache", "pubsub_ops_per_s_per_vcpu") for x in s),
                          tuple(per_connection_gib("cache"))),
        # self-run load balancer (HAProxy): private sites; public clouds use their managed one
        "load_balancer": TierLoad(
            tuple(x.connections / p("load_balancer", "connections_per_vcpu")
                  + (x.client_egress_mbps + x.media_ingress_mbps) / p("load_balancer", "mbps_per_vcpu")
                  for x in s),
            tuple(per_connection_gib("load_balancer"))),
    }


# tier -> (stateful, spot eligible): stateful tiers keep their node count all day and may not lose a node
TIER_KIND: dict[str, tuple[bool, bool]] = {
    "gateway": (False, True), "message": (False, True), "database": (True, False), "cache": (True, False),
    "load_balancer": (False, False),
}


def tier_requirements(workload: Workload, demand: Demand, profile: CapacityProfile) -> dict[str, TierRequirement]:
    """vCPU and GiB each compute tier needs per slice at its target utilization (node OS reserve excluded)."""
    ha_min = 2 if workload.availability.tolerate_node_loss else 1
    out = {}
    for tier, load in tier_loads(demand, profile).items():
        stateful, spot = TIER_KIND[tier]
        vcpu = tuple(v / profile.cpu_utilization(tier) for v in load.vcpu)
        memory = tuple(m / profile.memory_utilization(tier) for m in load.memory_gib)
        if stateful:  # no autoscaling: every slice needs the daily peak
            vcpu, memory = (max(vcpu),) * len(vcpu), (max(memory),) * len(memory)
        rule = database_shard_rule(workload, demand, profile) if tier == "database" else None
        min_nodes = rule.copies if rule is not None else ha_min
        if tier == "cache":  # a Redis Cluster survives a node loss on three nodes or more (planner/shards.py)
            min_nodes = max(ha_min, cache_min_nodes(max(vcpu), ha_copies(workload)))
        out[tier] = _checked(TierRequirement(tier, vcpu, memory, stateful, spot, min_nodes, rule), f"{tier} tier's")
    return out


def database_shard_rule(workload: Workload, demand: Demand, profile: CapacityProfile) -> ShardRule:
    """The database's copies per shard, the shards one primary's write ceiling asks for at the peak, and the
    read load its copies serve at the peak (a stateful tier is sized for the busiest slice all day): history
    rows read back per delivery (device sync, scrolling), and one inbox query per new connection, which every
    shard answers (its fixed cost) and whose conversation rows each come from one shard."""
    p = profile.value
    util = profile.cpu_utilization("database")
    peak_writes = max(x.durable_writes_per_s for x in demand.slices)
    peak_history_rows = max(x.deliveries_per_s for x in demand.slices) * p("database", "history_reads_per_delivery")
    peak_inboxes = max(x.new_connections_per_s for x in demand.slices)
    inbox_rows = peak_inboxes * p("database", "inbox_conversations_per_user")
    spread_vcpu = (peak_history_rows / p("database", "history_rows_per_s_per_vcpu")
                   + inbox_rows / p("database", "inbox_conversations_per_s_per_vcpu"))
    ceiling = p("database", "max_durable_writes_per_s_per_primary")
    return ShardRule(copies=database_copies(workload), min_shards=write_shards_needed(peak_writes, ceiling, util),
                     system="PostgreSQL", spread_read_vcpu=spread_vcpu / util,
                     inbox_read_vcpu_per_shard=peak_inboxes / p("database", "inbox_queries_per_s_per_vcpu") / util,
                     cpu_utilization=util)
