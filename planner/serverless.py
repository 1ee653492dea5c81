"""Serverless sizing (pure): what the chat workload meters on API Gateway WebSockets + Lambda + DynamoDB and on
Cloudflare Workers + Durable Objects + R2, from the same demand model as every other strategy, and the
platforms' published limits the workload must respect.

The shape priced (docs/model.md, "Serverless strategy"):
- aws_websocket: API Gateway holds the client sockets (connection minutes; every frame in or out a billed
  message, metered in 32 KB increments; an idle connection sends a keepalive before the 10-minute idle timeout).
  Every client frame and every $connect/$disconnect invokes a Lambda handler; the handler posts each fan-out frame
  back through @connections. DynamoDB keeps the connections, the messages and the receipts (write units by item
  size) and serves the recipients' connection lookups and history reads (eventually consistent read units).
- cloudflare_workers: a Worker takes the WebSocket upgrade and hands it to the user's Durable Object, which holds
  the user's sockets with the WebSocket Hibernation API (no duration billed while idle). Each client frame is an
  incoming WebSocket message (billed 20:1) and an RPC to the conversation's Durable Object, which stores it in
  SQLite and fans it out by RPC to each recipient's object (one billed request each); outgoing socket messages
  are free.
Media uploads and downloads go straight to object storage (S3 behind the region's CDN rows, or R2) through
pre-signed URLs: no handler runs for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.capacity import CapacityProfile
from planner.demand import Demand, SliceDemand
from planner.units import (BYTES_PER_GB, DAYS_PER_MONTH, HOURS_PER_SLICE_PER_MONTH, MINUTES_PER_HOUR,
                           SECONDS_PER_HOUR)
from planner.workload import Workload

MB_PER_GB_BILLED = 1024  # Lambda and Durable Objects bill memory in GB = MB / 1024 (128 MB = 0.125 GB)
DURABLE_OBJECT_MEMORY_MB = 128  # cf_do_pricing: duration billed for the 128 MB each object is allocated
DO_INCOMING_WS_MESSAGES_PER_REQUEST = 20  # cf_do_pricing: incoming WebSocket messages billed 20:1
DYNAMODB_WRITE_UNIT_BYTES = 1024  # aws_dynamodb_page: one write unit per 1 KB of item
DYNAMODB_READ_UNIT_BYTES = 4096  # one read unit per 4 KB strongly consistent, half that eventually consistent
EVENTUALLY_CONSISTENT_READ_UNITS = 0.5
DYNAMODB_AUTOSCALING_TARGET = 0.7  # aws_dynamodb_page: provisioned auto scaling targets 70 % utilization


@dataclass(frozen=True)
class Limit:
    """A published platform limit, with where it is published."""

    name: str
    value: float
    unit: str
    url: str
    hard: bool  # True: cannot be raised (the workload must fit); False: a default quota AWS raises on request


APIGW_QUOTAS_URL = ("https://docs.aws.amazon.com/apigateway/latest/developerguide/"
                    "apigateway-execution-service-websocket-limits-table.html")
LIMITS = {
    "apigw_message_bytes": Limit("API Gateway WebSocket message payload", 128 * 1024, "bytes", APIGW_QUOTAS_URL, True),
    "apigw_frame_bytes": Limit("API Gateway WebSocket frame size (also the billing increment)", 32 * 1024, "bytes",
                               APIGW_QUOTAS_URL, True),
    "apigw_connection_minutes": Limit("API Gateway WebSocket connection duration", 120, "minutes", APIGW_QUOTAS_URL,
                                      True),
    "apigw_idle_minutes": Limit("API Gateway WebSocket idle connection timeout", 10, "minutes", APIGW_QUOTAS_URL,
                                True),
    "apigw_new_connections_per_s": Limit("API Gateway new WebSocket connections per second per account and region",
                                         500, "connections/s", APIGW_QUOTAS_URL, False),
    "lambda_concurrency": Limit("Lambda concurrent executions per region", 1000, "executions",
                                "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html", False),
}


def _per_month(rate_per_s: float) -> float:
    """Events a month of one hourly slice's per-second rate."""
    return rate_per_s * SECONDS_PER_HOUR * HOURS_PER_SLICE_PER_MONTH


def frame_increments(frame_bytes: float, increment_bytes: float) -> int:
    """Billed messages one frame counts for when messages are metered in increments (a 33 KB message is two)."""
    return max(1, math.ceil(frame_bytes / increment_bytes))


@dataclass(frozen=True)
class Traffic:
    """Per-second frame rates of one slice, split the way the platforms bill them."""

    inbound: float  # client -> server: sends, receipts, typing events
    inbound_messages: float  # of which message sends (the large frames)
    fanout: float  # server -> other clients: deliveries, receipts to senders, typing deliveries
    deliveries: float  # of which message deliveries
    acks: float  # server -> the sender's own socket
    connects: float  # new connections (and as many disconnects)


def slice_traffic(s: SliceDemand, workload: Workload, max_session_minutes: float | None = None) -> Traffic:
    """Frame rates of slice s. Outbound frames are deliveries + receipts + typing + acks (planner.demand); the rest
    of the gateway's frames are inbound. A platform that closes connections after `max_session_minutes` makes
    clients reconnect that often."""
    outbound = s.deliveries_per_s + s.receipts_per_s + s.typing_deliveries_per_s + s.msgs_per_s
    session = workload.users.avg_session_minutes
    reconnect = 1.0 if max_session_minutes is None else max(1.0, session / max_session_minutes)
    return Traffic(inbound=s.gateway_frames_per_s - outbound, inbound_messages=s.msgs_per_s,
                   fanout=outbound - s.msgs_per_s, deliveries=s.deliveries_per_s, acks=s.msgs_per_s,
                   connects=s.new_connections_per_s * reconnect)


def retained_item_gb(demand: Demand, workload: Workload, profile: CapacityProfile) -> float:
    """GB the retained messages take as store items (message bytes + per-item keys and names)."""
    item_bytes = workload.messaging.avg_message_bytes + profile.value("serverless", "item_overhead_bytes")
    messages = demand.messages_per_month / DAYS_PER_MONTH * workload.retention.message_days
    return messages * item_bytes / BYTES_PER_GB


@dataclass(frozen=True)
class AwsUsage:
    """What aws_websocket meters in a month (units as the meters bill them), and the peak rates limits apply to."""

    connection_minutes: float
    messages: float  # billed messages (32 KB increments), keepalives included
    keepalive_messages: float
    invocations: float
    gb_seconds: float
    write_units: float  # on-demand write request units
    read_units: float  # on-demand read request units (eventually consistent = 0.5)
    write_capacity_unit_months: float  # provisioned, at the auto-scaling target
    read_capacity_unit_months: float
    storage_gb: float
    peak_new_connections_per_s: float
    peak_concurrency: float


def aws_usage(demand: Demand, workload: Workload, profile: CapacityProfile) -> AwsUsage:
    m, p = workload.messaging, profile.value
    frame = LIMITS["apigw_frame_bytes"].value
    msg_units, event_units = frame_increments(m.avg_message_bytes, frame), frame_increments(m.event_frame_bytes, frame)
    item_bytes = m.avg_message_bytes + p("serverless", "item_overhead_bytes")
    wru_message = math.ceil(item_bytes / DYNAMODB_WRITE_UNIT_BYTES)
    wru_event = math.ceil((m.event_frame_bytes + p("serverless", "item_overhead_bytes")) / DYNAMODB_WRITE_UNIT_BYTES)
    rru_history = EVENTUALLY_CONSISTENT_READ_UNITS * math.ceil(item_bytes / DYNAMODB_READ_UNIT_BYTES)
    gb = p("serverless", "function_memory_mb") / MB_PER_GB_BILLED
    ms_event, ms_delivery = p("serverless", "handler_ms_per_event"), p("serverless", "handler_ms_per_delivery")
    idle = LIMITS["apigw_idle_minutes"].value
    totals = dict(conn_min=0.0, messages=0.0, keepalive=0.0, invocations=0.0, gb_s=0.0, wru=0.0, rru=0.0,
                  wcu_h=0.0, rcu_h=0.0)
    peak_connects, peak_concurrency = 0.0, 0.0
    for s in demand.slices:
        t = slice_traffic(s, workload, LIMITS["apigw_connection_minutes"].value)
        conn_min = s.connections * MINUTES_PER_HOUR * HOURS_PER_SLICE_PER_MONTH
        frames = ((t.inbound_messages + t.deliveries) * msg_units
                  + (t.inbound - t.inbound_messages + t.fanout - t.deliveries + t.acks) * event_units)
        # an idle socket needs one message per idle timeout: keepalives fill what the traffic leaves idle
        keepalive_per_s = max(0.0, s.connections / (idle * SECONDS_PER_HOUR / MINUTES_PER_HOUR) - (t.inbound + t.fanout + t.acks))
        invocations_per_s = t.inbound + 2 * t.connects  # every client frame, $connect and $disconnect
        seconds_per_s = (invocations_per_s * ms_event + (t.fanout + t.acks) * ms_delivery) / 1000
        writes_per_s = t.inbound_messages * wru_message + s.receipts_per_s * wru_event + 2 * t.connects
        reads_per_s = (EVENTUALLY_CONSISTENT_READ_UNITS * t.fanout
                       + p("database", "history_reads_per_delivery") * t.deliveries * rru_history)
        totals["conn_min"] += conn_min
        totals["messages"] += _per_month(frames + keepalive_per_s)
        totals["keepalive"] += _per_month(keepalive_per_s)
        totals["invocations"] += _per_month(invocations_per_s)
        totals["gb_s"] += _per_month(seconds_per_s) * gb
        totals["wru"] += _per_month(writes_per_s)
        totals["rru"] += _per_month(reads_per_s)
        totals["wcu_h"] += writes_per_s / DYNAMODB_AUTOSCALING_TARGET * HOURS_PER_SLICE_PER_MONTH
        totals["rcu_h"] += reads_per_s / DYNAMODB_AUTOSCALING_TARGET * HOURS_PER_SLICE_PER_MONTH
        peak_connects, peak_concurrency = max(peak_connects, t.connects), max(peak_concurrency, seconds_per_s)
    hours = HOURS_PER_SLICE_PER_MONTH * len(demand.slices)
    return AwsUsage(connection_minutes=totals["conn_min"], messages=totals["messages"],
                    keepalive_messages=totals["keepalive"], invocations=totals["invocations"],
                    gb_seconds=totals["gb_s"], write_units=totals["wru"], read_units=totals["rru"],
                    write_capacity_unit_months=totals["wcu_h"] / hours, read_capacity_unit_months=totals["rcu_h"] / hours,
                    storage_gb=retained_item_gb(demand, workload, profile),
                    peak_new_connections_per_s=peak_connects, peak_concurrency=peak_concurrency)


@dataclass(frozen=True)
class CloudflareUsage:
    """What cloudflare_workers meters in a month."""

    worker_requests: float
    worker_cpu_ms: float
    do_requests: float  # billed requests: incoming socket messages / 20, RPCs, upgrades
    do_gb_seconds: float
    rows_written: float
    rows_read: float
    storage_gb: float


def cloudflare_usage(demand: Demand, workload: Workload, profile: CapacityProfile) -> CloudflareUsage:
    p = profile.value
    gb = DURABLE_OBJECT_MEMORY_MB / MB_PER_GB_BILLED
    ms_event, ms_delivery = p("serverless", "handler_ms_per_event"), p("serverless", "handler_ms_per_delivery")
    upgrades = requests = seconds = written = read = 0.0
    for s in demand.slices:
        t = slice_traffic(s, workload)
        upgrades += _per_month(t.connects)
        # the user's object gets the socket message (20:1) and calls the conversation's object (an RPC), which
        # calls each recipient's object (an RPC per fan-out frame); each upgrade is a request too
        requests += _per_month(t.inbound / DO_INCOMING_WS_MESSAGES_PER_REQUEST + t.inbound + t.fanout + t.connects)
        handler_runs = 2 * t.inbound + t.fanout + t.connects
        seconds += _per_month(handler_runs * ms_event + (t.fanout + t.acks) * ms_delivery) / 1000
        written += _per_month(t.inbound_messages + s.receipts_per_s + 2 * t.connects)
        # the conversation's member rows per delivery, and the history reads
        read += _per_month(t.deliveries * (1 + p("database", "history_reads_per_delivery")))
    return CloudflareUsage(worker_requests=upgrades, worker_cpu_ms=upgrades * p("serverless", "worker_cpu_ms_per_request"),
                           do_requests=requests, do_gb_seconds=seconds * gb, rows_written=written, rows_read=read,
                           storage_gb=retained_item_gb(demand, workload, profile))


def aws_limit_findings(usage: AwsUsage, workload: Workload) -> tuple[list[str], list[str]]:
    """(blockers, warnings) of the AWS limits: a blocker leaves the offer out, a warning goes with the plan."""
    m, u = workload.messaging, workload.users
    blockers, warnings = [], []

    def say(key: str, what: str) -> str:
        limit = LIMITS[key]
        return f"{limit.name} is {limit.value:g} {limit.unit} ({limit.url}): {what}"

    if m.avg_message_bytes > LIMITS["apigw_message_bytes"].value:
        blockers.append(say("apigw_message_bytes", f"messaging.avg_message_bytes {m.avg_message_bytes} does not fit"))
    elif m.avg_message_bytes > LIMITS["apigw_frame_bytes"].value:
        warnings.append(say("apigw_frame_bytes", "messages are split into several frames and billed per 32 KB"))
    if u.avg_session_minutes > LIMITS["apigw_connection_minutes"].value:
        warnings.append(say("apigw_connection_minutes", f"sessions of {u.avg_session_minutes:g} minutes reconnect "
                                                       "every 2 hours (the reconnects are priced)"))
    warnings.append(say("apigw_idle_minutes", f"{usage.keepalive_messages:,.0f} keepalive messages a month priced "
                                              "(one per idle timeout the frames leave uncovered, on average)"))
    if usage.peak_new_connections_per_s > LIMITS["apigw_new_connections_per_s"].value:
        warnings.append(say("apigw_new_connections_per_s", f"the peak hour opens {usage.peak_new_connections_per_s:,.0f}"
                                                           "/s: needs a quota increase"))
    if usage.peak_concurrency > LIMITS["lambda_concurrency"].value:
        warnings.append(say("lambda_concurrency", f"the peak hour keeps {usage.peak_concurrency:,.0f} handlers busy: "
                                                  "needs a quota increase"))
    return blockers, warnings
