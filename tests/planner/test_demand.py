"""Demand model: hand-computed figures for a flat-shaped workload with round numbers."""

from __future__ import annotations

import pytest

from planner.demand import compute_demand, deliveries_per_message, tier_requirements
from planner.units import BYTES_PER_GIB
from planner.workload import Workload

# 200,000 MAU * 0.432 = 86,400 DAU; 100 messages per DAU per day = 8,640,000 a day = 100 msg/s when flat.
# Fan-out: 75 % 1:1 at 2 deliveries + 25 % groups of 5 (4 deliveries) = 1.5 + 1.0 = 2.5 deliveries/message.
FLAT = {
    "users": {"mau": 200000, "dau_per_mau": 0.432, "peak_concurrent_per_dau": 0.25, "devices_per_user": 1.0,
              "avg_session_minutes": 20},
    "messaging": {"messages_per_dau_per_day": 100, "avg_message_bytes": 500, "one_to_one_deliveries_per_message": 2,
                  "group_share": 0.25, "group_size": 5, "media_share": 0.1, "media_avg_bytes": 1000000,
                  "media_downloads_per_delivery": 0.8, "receipts_per_delivery": 2, "typing_events_per_message": 1,
                  "event_frame_bytes": 100},
    "load_profile": {"shape": "flat"},
    "retention": {"message_days": 10, "media_days": 30, "media_hot_days": 10},
}


@pytest.fixture(scope="module")
def flat(profile):
    workload = Workload.model_validate(FLAT)
    return workload, compute_demand(workload, profile)


def test_rates_per_second(flat):
    workload, d = flat
    assert deliveries_per_message(workload) == pytest.approx(2.5)
    assert d.dau == pytest.approx(86400)
    assert len(d.slices) == 24
    for s in d.slices:  # flat: every hour is the peak hour
        assert s.weight == 1.0
        assert s.msgs_per_s == pytest.approx(100)
        assert s.deliveries_per_s == pytest.approx(250)           # 100 * 2.5
        assert s.receipts_per_s == pytest.approx(500)             # 2 per delivery
        assert s.typing_deliveries_per_s == pytest.approx(250)    # 1 per message, fanned out like it
        assert s.durable_writes_per_s == pytest.approx(600)       # messages + receipts
        assert s.pubsub_ops_per_s == pytest.approx(1000)          # deliveries + receipts + typing
        assert s.connections == pytest.approx(21600)              # 86,400 * 0.25 * 1 device
        assert s.new_connections_per_s == pytest.approx(18)       # 21,600 / (20 min * 60)
    assert d.peak.msgs_per_s == pytest.approx(100)
    assert d.peak_connections == pytest.approx(21600)


def test_bandwidth(flat):
    _, d = flat
    s = d.peak
    # to clients: 250 deliveries * 500 B + (500 receipts + 250 typing + 100 acks) * 100 B = 210,000 B/s = 1.68 Mbps
    assert s.client_egress_mbps == pytest.approx(1.68)
    # media downloads: 250 * 0.1 * 0.8 * 1 MB = 20 MB/s = 160 Mbps; uploads 100 * 0.1 * 1 MB = 80 Mbps
    assert s.media_egress_mbps == pytest.approx(160)
    assert s.media_ingress_mbps == pytest.approx(80)
    # a month is 730 h = 2,628,000 s
    assert d.client_egress_gb_per_month == pytest.approx(210000 * 2628000 / 1e9)   # 551.88 GB
    assert d.media_egress_gb_per_month == pytest.approx(20e6 * 2628000 / 1e9)      # 52,560 GB


def test_volumes_and_storage(flat):
    _, d = flat
    # 8,640,000 messages a day * 730/24 days = 262.8 M a month; deliveries 2.5 times that
    assert d.messages_per_month == pytest.approx(262.8e6)
    assert d.deliveries_per_month == pytest.approx(657e6)
    # 10 days of messages at (500 + 200 B row overhead from the default profile) bytes each
    assert d.database_storage_gib == pytest.approx(8.64e6 * 10 * 700 / BYTES_PER_GIB)   # 56.33 GiB
    # media: 8.64e6 * 0.1 * 1 MB = 864 GB a day; kept 30 days, 10 of them in the standard class
    assert d.media_stored_gb == pytest.approx(864 * 30)
    assert d.media_hot_gb == pytest.approx(864 * 10)
    assert d.media_cold_gb == pytest.approx(864 * 20)
    assert d.media_puts_per_month == pytest.approx(864000 * 730 / 24)
    assert d.media_gets_per_month == pytest.approx(864000 * 730 / 24 * 2.5 * 0.8)


def test_evening_shape_peaks_at_the_busiest_hour_and_keeps_the_daily_total(profile):
    flat_wl = Workload.model_validate(FLAT)
    evening = Workload.model_validate({**FLAT, "load_profile": {"shape": "consumer-evening"}})
    f, e = compute_demand(flat_wl, profile), compute_demand(evening, profile)
    # same messages a day, so the same monthly volumes
    assert e.messages_per_month == pytest.approx(f.messages_per_month)
    assert e.client_egress_gb_per_month == pytest.approx(f.client_egress_gb_per_month)
    # the peak hour carries weight / mean weight times the flat rate
    weights = evening.load_profile.weights()
    assert e.peak.hour == weights.index(1.0)
    assert e.peak.msgs_per_s == pytest.approx(100 * 24 / sum(weights))
    # connections are the peak concurrency scaled by the hour's weight
    assert e.peak.connections == pytest.approx(21600)
    assert min(s.connections for s in e.slices) == pytest.approx(21600 * min(weights))


def test_tier_requirements_divide_by_target_utilization(flat, profile):
    workload, d = flat
    req = tier_requirements(workload, d, profile)
    p = profile.value
    # message tier: 100 msg/s / msgs_per_s_per_vcpu / target CPU utilization
    assert req["message"].vcpu[0] == pytest.approx(100 / p("message", "msgs_per_s_per_vcpu")
                                                   / profile.cpu_utilization("message"))
    # database: durable writes; stateful and sized at the peak in every slice
    assert req["database"].vcpu[5] == pytest.approx(600 / p("database", "durable_writes_per_s_per_vcpu")
                                                    / profile.cpu_utilization("database"))
    assert req["database"].stateful and not req["database"].spot_eligible
    assert req["database"].min_nodes == 2  # two database copies by default
    assert req["gateway"].spot_eligible and not req["gateway"].stateful
