"""Serverless strategy: known answers on a hand-computed workload (tiny catalog prices), limits, residency,
metamorphic checks on the shipped catalog, the catalog rule for a meter's price, and the bundle refusal."""

from __future__ import annotations

import copy

import pytest

from planner.catalog.loader import load_catalog
from planner.errors import CatalogError
from planner.optimize import plan as run_plan
from planner.workload import Workload
from planner_testlib import NO_LABOUR, tiny_files, write_catalogs

# The hand workload: a flat day, so all 24 hourly slices are the same and a month is 24 x 730/24 = 730 hours
# = 2,628,000 seconds.
#   DAU = 28,800 x 0.5 = 14,400; online = 14,400 x 0.25 x 1 device = 3,600 connections all day
#   new connections = 3,600 / (60 min x 60 s) = 1/s; messages = 14,400 x 6 / 86,400 s = 1/s, one delivery each
#   receipts = 1/s (one per delivery), no typing, no media
#   frames out: delivery 1 + receipt 1 + ack 1 = 3/s; frames in: send 1 + receipt 1 = 2/s
SECONDS = 2_628_000
HAND = {
    "name": "hand", "saas": {"compare": False}, "labour": dict(NO_LABOUR), "strategies": ["serverless"],
    "users": {"mau": 28_800, "dau_per_mau": 0.5, "peak_concurrent_per_dau": 0.25, "devices_per_user": 1,
              "avg_session_minutes": 60},
    "messaging": {"messages_per_dau_per_day": 6, "avg_message_bytes": 500, "group_share": 0,
                  "one_to_one_deliveries_per_message": 1, "receipts_per_delivery": 1,
                  "typing_events_per_message": 0, "media_share": 0, "event_frame_bytes": 100},
    "load_profile": {"hourly_weights": [1] * 24},
    "retention": {"message_days": 365},
}


def _workload(**changes) -> Workload:
    data = copy.deepcopy(HAND)
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return Workload.model_validate(data)


def _lines(plan) -> dict[str, float]:
    return {line.item: line.monthly_cost_usd for line in plan.lines}


@pytest.fixture
def hand_profile(profile):
    # the arithmetic below uses the shipped serverless estimates; if they change, redo it
    p = profile.value
    assert (p("serverless", "handler_ms_per_event"), p("serverless", "handler_ms_per_delivery"),
            p("serverless", "function_memory_mb"), p("serverless", "worker_cpu_ms_per_request"),
            p("database", "history_reads_per_delivery"), p("serverless", "item_overhead_bytes")) == (
        15, 2, 256, 2, 1, 100)
    return profile


def _solve(workload, profile, catalog):
    (s,) = run_plan(workload, profile, catalog).strategies
    return s


def test_aws_offer_known_answer(tiny_catalog, hand_profile):
    s = _solve(_workload(placement={"providers": ["cloudx"]}), hand_profile, tiny_catalog)
    assert s.status == "optimal" and s.placement in ("aws_websocket r1", "cloudflare_workers r1")
    alone = _solve(_workload(), hand_profile, _only(tiny_catalog, "aws_websocket"))
    aws = alone.monthly_cost_usd
    # next to Cloudflare the AWS offer is solved or skipped on an LP bound no higher than its cost
    key = "aws_websocket r1, serverless"
    assert s.alternatives[key] == pytest.approx(aws) if key in s.alternatives else s.skipped[key] <= aws + 0.01
    lines = _lines(alone)
    # connection minutes: 3,600 x 60 min x 730 h = 157.68 million x 0.20 = 31.536
    assert lines["API Gateway WebSocket: connection minutes"] == pytest.approx(31.536)
    # messages: 5 frames/s (each <= 32 KB) + keepalives 3,600/600 s - 5 = 1/s -> 6 x 2,628,000 = 15.768 M x 2.00
    assert lines["API Gateway WebSocket: messages (32 KB increments, keepalives included)"] == pytest.approx(31.536)
    # invocations: 2 client frames + $connect + $disconnect = 4/s -> 10.512 M x 0.20 = 2.1024
    assert lines["Lambda: requests"] == pytest.approx(2.1024)
    # duration: (4 x 15 ms + 3 fan-out/ack posts x 2 ms) = 0.066 s/s x 2,628,000 x 0.25 GB = 43,362 GB-s;
    # arm64 at 0.00001 (0.43362) beats x86_64 at 0.00002 (0.86724)
    assert lines["Lambda: duration, arm64"] == pytest.approx(0.43362)
    assert "Lambda: duration, x86_64" not in lines
    # writes: message 600 B -> 1 WRU, receipt 200 B -> 1, connection put + delete 2 -> 4/s; reads: 2 fan-out
    # lookups x 0.5 + 1 history read x 0.5 = 1.5/s. On-demand: 10.512 M x 1.00 + 3.942 M x 0.20 = 11.30;
    # provisioned: 4/0.7 = 5.714 WCU x 0.50 + 1.5/0.7 = 2.143 RCU x 0.10 = 3.071 -> provisioned wins
    assert lines["DynamoDB provisioned: write capacity units"] == pytest.approx(4 / 0.7 * 0.50)
    assert lines["DynamoDB provisioned: read capacity units"] == pytest.approx(1.5 / 0.7 * 0.10)
    assert not any(item.startswith("DynamoDB on-demand") for item in lines)
    # storage: 86,400 messages a day x 365 days x 600 B = 18.9216 GB x 0.25 = 4.7304
    assert lines["DynamoDB: stored messages"] == pytest.approx(4.7304)
    # egress: (1 delivery x 500 B + 2 events x 100 B) = 700 B/s x 2,628,000 = 1.8396 GB x 0.05 = 0.09198
    assert lines["internet egress: frames to clients (API Gateway) and media"] == pytest.approx(0.09198)
    total = 31.536 + 31.536 + 2.1024 + 0.43362 + 4 / 0.7 * 0.50 + 1.5 / 0.7 * 0.10 + 4.7304 + 0.09198
    assert aws == pytest.approx(total)


def test_cloudflare_offer_known_answer(tiny_catalog, hand_profile):
    lines = _lines(_solve(_workload(), hand_profile, _only(tiny_catalog, "cloudflare_workers")))
    assert lines["Workers Paid plan"] == pytest.approx(5.00)
    # upgrades 1/s -> 2.628 M x 0.30 = 0.7884; CPU 2 ms each -> 5.256 M ms x 0.02 = 0.10512
    assert lines["Workers: requests (WebSocket upgrades)"] == pytest.approx(0.7884)
    assert lines["Workers: CPU time"] == pytest.approx(0.10512)
    # requests: 2 incoming socket messages / 20 + 2 RPCs to the conversation + 2 fan-out RPCs + 1 upgrade = 5.1/s
    # -> 13.4028 M x 0.15 = 2.01042
    assert lines["Durable Objects: requests"] == pytest.approx(2.01042)
    # duration: 7 handler runs x 15 ms + 3 socket sends x 2 ms = 0.111 s/s x 2,628,000 x 0.125 GB = 36,463.5 GB-s
    # = 0.0364635 M x 12.50 = 0.45579
    assert lines["Durable Objects: duration (WebSocket hibernation)"] == pytest.approx(0.45579375)
    # rows written: message + receipt + connection 2 = 4/s -> 10.512 M x 5.00; read: 2/s -> 5.256 M x 0.001
    assert lines["Durable Objects SQLite: rows written"] == pytest.approx(52.56)
    assert lines["Durable Objects SQLite: rows read"] == pytest.approx(0.005256)
    assert lines["Durable Objects SQLite: stored messages"] == pytest.approx(18.9216 * 0.20)
    assert not any(item.startswith("R2") for item in lines)  # no media


def test_the_cheaper_offer_is_kept_and_both_are_reported(tiny_catalog, hand_profile):
    s = _solve(_workload(), hand_profile, tiny_catalog)
    alt = s.alternatives
    # every offer is reported: solved, or skipped on an LP bound above the chosen cost
    assert set(alt) | set(s.skipped) == {"aws_websocket r1, serverless", "cloudflare_workers r1, serverless"}
    assert s.monthly_cost_usd == pytest.approx(min(alt.values()))
    assert all(bound > s.monthly_cost_usd for bound in s.skipped.values())
    assert s.placement == min(alt, key=alt.get).split(",")[0]
    assert s.nodes == () and s.pooling == "serverless"


def test_included_allowance_is_free_then_billed(tmp_path, hand_profile):
    files = tiny_files()
    rows = files["cloudx"]["serverless"]
    # 10 million Worker requests included: the 2.628 M upgrades cost nothing
    next(r for r in rows if r["meter"] == "workers_requests")["included_per_month"] = 10
    catalog = _only(load_catalog(write_catalogs(tmp_path / "c", files)), "cloudflare_workers")
    lines = _lines(_solve(_workload(), hand_profile, catalog))
    assert lines["Workers: requests (WebSocket upgrades)"] == 0.0  # still listed: the quantity is billed at 0
    # 1 million included: 1.628 M billed x 0.30 = 0.4884
    next(r for r in rows if r["meter"] == "workers_requests")["included_per_month"] = 1
    catalog = _only(load_catalog(write_catalogs(tmp_path / "d", files)), "cloudflare_workers")
    assert _lines(_solve(_workload(), hand_profile, catalog))["Workers: requests (WebSocket upgrades)"] == \
        pytest.approx(1.628 * 0.30)


def _only(catalog, offer: str):
    """The catalog with the serverless meters of one offer only."""
    from dataclasses import replace
    return replace(catalog, serverless=tuple(m for m in catalog.serverless if m.offer == offer))


# ---------------------------------------------------------------- limits
def test_message_above_128_kb_leaves_api_gateway_out_with_the_reason(tiny_catalog, hand_profile):
    s = _solve(_workload(messaging={"avg_message_bytes": 200_000}), hand_profile, tiny_catalog)
    assert s.placement == "cloudflare_workers r1"
    assert s.alternatives["aws_websocket r1, serverless"] is None
    assert "aws_websocket r1: infeasible: API Gateway WebSocket message payload is 131072 bytes" in s.message


def test_large_messages_bill_per_32_kb_and_long_sessions_reconnect(tiny_catalog, hand_profile):
    catalog = _only(tiny_catalog, "aws_websocket")
    base = _lines(_solve(_workload(), hand_profile, catalog))
    # 40,000 B messages: sends and deliveries count 2 billed messages each: 5 + 2 = 7 frames/s, keepalives
    # 6 - 5 = 1/s (a frame resets one socket's idle timer whatever its size) -> 8/s
    big = _solve(_workload(messaging={"avg_message_bytes": 40_000}), hand_profile, catalog)
    item = "API Gateway WebSocket: messages (32 KB increments, keepalives included)"
    assert _lines(big)[item] == pytest.approx(base[item] * 8 / 6)
    assert "messages are split into several frames" in big.message
    # 240-minute sessions: connections close every 2 h, so 2 reconnects per session: connects 0.25/s x 2 = 0.5/s
    long = _solve(_workload(users={"avg_session_minutes": 240}), hand_profile, catalog)
    # invocations: 2 frames + 2 x 0.5 = 3/s -> 7.884 M x 0.20
    assert _lines(long)["Lambda: requests"] == pytest.approx(7.884 * 0.20)
    assert "reconnect every 2 hours" in long.message


def test_quota_warnings_at_scale(shipped_catalog, profile):
    w = Workload.model_validate({"users": {"mau": 50_000_000}, "strategies": ["serverless"],
                                 "placement": {"providers": ["aws"]}, "saas": {"compare": False}})
    (s,) = run_plan(w, profile, shipped_catalog).strategies
    assert s.status == "optimal"
    assert "new WebSocket connections per second" in s.message and "needs a quota increase" in s.message
    assert "Lambda concurrent executions" in s.message


# ---------------------------------------------------------------- residency and missing prices
def test_residency_leaves_out_every_offer_with_its_reason(shipped_catalog, profile):
    w = Workload.model_validate({"strategies": ["serverless"], "placement": {"residency": ["EU"]},
                                 "saas": {"compare": False}})
    (s,) = run_plan(w, profile, shipped_catalog).strategies
    assert s.status == "infeasible" and s.monthly_cost_usd is None
    assert "Cloudflare runs Workers on its global network" in s.message
    assert "aws_websocket eu-central-1: not priced" in s.message
    assert "outside placement.residency ['EU']" in s.message


def test_shipped_default_workload_prices_both_offers(shipped_catalog, profile):
    w = Workload.model_validate({"strategies": ["serverless"], "saas": {"compare": False}})
    (s,) = run_plan(w, profile, shipped_catalog).strategies
    alt = {**s.skipped, **s.alternatives}    # a dearer offer may be skipped on its (positive) LP bound
    assert alt["aws_websocket us-east-1, serverless"] > 0 and alt["cloudflare_workers global, serverless"] > 0
    assert alt["aws_websocket eu-central-1, serverless"] is None  # not found: left out, not invented
    assert all(line.ref is not None and line.ref.url for line in s.lines)


# ---------------------------------------------------------------- metamorphic
@pytest.mark.parametrize("providers", [["aws"], ["cloudflare"]])
def test_more_mau_is_never_cheaper_serverless(shipped_catalog, profile, providers):
    costs = []
    for mau in (10_000, 200_000, 1_000_000, 5_000_000):
        w = Workload.model_validate({"users": {"mau": mau}, "strategies": ["serverless"],
                                     "placement": {"providers": providers}, "saas": {"compare": False}})
        (s,) = run_plan(w, profile, shipped_catalog).strategies
        costs.append(s.monthly_cost_usd)
    assert all(b >= a for a, b in zip(costs, costs[1:])), costs
    assert costs[-1] > costs[0]


# ---------------------------------------------------------------- catalog and CLI
def test_a_meter_needs_exactly_one_of_price_tiers_or_not_found(tmp_path):
    files = tiny_files()
    files["cloudx"]["serverless"][0]["not_found"] = "searched, found nothing"
    with pytest.raises(CatalogError, match="exactly one of price, tiers or not_found"):
        load_catalog(write_catalogs(tmp_path / "c", files))


def test_bundle_refuses_serverless_in_one_line(cli, tmp_path):
    result = cli("bundle", "--strategy", "serverless", "--out", tmp_path / "b")
    assert result.exit_code == 2
    assert "no bundle for the serverless strategy" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists()


def test_pricing_diff_sees_a_serverless_price_change():
    from planner.catalog.rowdiff import prices, row_key
    row = {"offer": "aws_websocket", "region": "us-east-1", "meter": "lambda_duration_arm64", "per": "gb_second",
           "tiers": [{"up_to": 7.5e9, "price": 0.0000133334}, {"price": 0.0000120001}], "source": "s"}
    assert row_key("serverless", row) == "aws_websocket/us-east-1/lambda_duration_arm64"
    assert prices("serverless", row) == {"tiers[0]": 0.0000133334, "tiers[1]": 0.0000120001}
    assert prices("serverless", {**row, "tiers": [], "price": 0.25}) == {"price": 0.25}
