"""Unit tests of the pure cost functions (planner.costs), values worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from planner.catalog.records import ComputeOffering, PriceRef, TransferTier
from planner.costs import (HaRule, autoscaled_cost, base_price, graduated_cost, nodes_needed, p95_of_slices,
                           surviving_nodes_needed)

REF = PriceRef("test", "test", "test", "https://example.invalid", dt.date(2026, 11, 1), "USD")
H = 730 / 24


# ---------------------------------------------------------------- graduated (volume-tiered) prices
TIERS = (TransferTier(1000, 0.05), TransferTier(11000, 0.03), TransferTier(None, 0.02))


@pytest.mark.parametrize("gb, usd", [
    (0, 0.0),
    (400, 400 * 0.05),                                   # inside the first tier
    (1000, 50.0),                                        # exactly its end
    (3000, 50.0 + 2000 * 0.03),                          # 110
    (11000, 50.0 + 10000 * 0.03),                        # 350
    (20000, 50.0 + 300.0 + 9000 * 0.02),                 # 530: each tier prices only the GB inside it
])
def test_graduated_cost(gb, usd):
    assert graduated_cost(gb, TIERS) == pytest.approx(usd)


def test_graduated_cost_single_flat_tier():
    assert graduated_cost(1234.5, (TransferTier(None, 0.09),)) == pytest.approx(111.105)


# ---------------------------------------------------------------- HA rule
@pytest.mark.parametrize("rule, surviving, total", [
    (HaRule(False, False, 1, 1), 3, 3),       # nothing tolerated
    (HaRule(True, False, 2, 1), 3, 4),        # one node may fail: one spare
    (HaRule(True, True, 3, 1), 1, 2),         # 3 AZs: n - ceil(n/3) >= 1 -> 2
    (HaRule(True, True, 3, 1), 2, 3),         # 3 - 1 = 2
    (HaRule(True, True, 3, 1), 4, 6),         # 6 - 2 = 4
    (HaRule(True, True, 3, 1), 5, 8),         # 8 - 3 = 5 (7 - 3 = 4 is one short)
    (HaRule(True, True, 2, 1), 3, 6),         # 2 AZs: each must carry everything
    (HaRule(True, True, 3, 4), 1, 4),         # min_nodes floor
    (HaRule(True, True, 3, 4), 0, 0),         # no load: no nodes
])
def test_ha_total_for_surviving(rule, surviving, total):
    assert rule.total_for_surviving(surviving) == total


@pytest.mark.parametrize("domains", [2, 3, 4, 5])
def test_ha_domain_rule_is_the_smallest_count_that_survives(domains):
    # brute force: the smallest n spread evenly over D domains with n - ceil(n/D) >= s and n >= s + 1
    rule = HaRule(True, True, domains, 1)
    for s in range(1, 40):
        brute = next(n for n in range(1, 200) if n - math.ceil(n / domains) >= s and n >= s + 1)
        assert rule.total_for_surviving(s) == brute, (domains, s)


def test_nodes_needed_takes_the_scarcer_resource_and_the_os_reserve():
    # 10 vCPU on 4-vCPU nodes -> 3; 30 GiB on 8-GiB nodes with 0.5 GiB reserved (7.5 usable) -> 4
    assert surviving_nodes_needed(10, 30, 4, 8, 0.5) == 4
    assert surviving_nodes_needed(10, 1, 4, 8, 0.5) == 3
    assert surviving_nodes_needed(0, 0, 4, 8, 0.5) == 0
    assert surviving_nodes_needed(1, 1, 4, 0.5, 0.5) is None  # no usable memory
    assert nodes_needed(10, 30, 4, 8, 0.5, HaRule(True, False, 1, 1)) == 5


# ---------------------------------------------------------------- purchase options
def _offering(od=0.10, c1=0.06, c3=0.04, spot=0.03):
    return ComputeOffering("p", "r", "t", "f", "general", "x86_64", 2, 4, od, c1, c3, spot, 0, REF)


def test_base_price_picks_the_cheapest_allowed_option():
    assert base_price(_offering(), 0) == (0.10, "on_demand")
    assert base_price(_offering(), 1) == (0.06, "commit_1y")
    assert base_price(_offering(), 3) == (0.04, "commit_3y")
    assert base_price(_offering(c1=None, c3=None), 3) == (0.10, "on_demand")


def test_autoscaled_cost():
    # base 1 at 0.06 all month = 43.8; slices needing 3: 2 extra, 1 of them spot;
    # 12 slices * (1 * 0.10 + 1 * 0.03) * H + 12 slices needing 1: nothing extra
    counts = (1,) * 12 + (3,) * 12
    spot = (0,) * 12 + (1,) * 12
    assert autoscaled_cost(counts, 1, spot, 0.06, 0.10, 0.03) == pytest.approx(43.8 + 12 * 0.13 * H)
    # spot allowance beyond the extra nodes is not billed
    assert autoscaled_cost((2,) * 24, 2, (5,) * 24, 0.06, 0.10, 0.03) == pytest.approx(2 * 43.8)


def test_p95_of_hourly_slices_is_the_second_busiest():
    assert p95_of_slices([1, 5, 3, 9, 2]) == 5
    assert p95_of_slices([7]) == 7
