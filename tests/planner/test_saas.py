"""Unit tests of the SaaS price ladders (planner.saas), values worked by hand."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from planner.catalog.records import PriceRef, SaasOfferUsd, SaasStepUsd
from planner.saas import saas_quote
from planner.workload import Workload

REF = PriceRef("test", "test", "test", "https://example.invalid", dt.date(2026, 11, 1), "USD")


# ---------------------------------------------------------------- SaaS price ladders
def _offer(**kw):
    base = dict(provider="chatco", plan="pro", metric="mau", base_usd_per_month=100.0, included_units=1000,
                steps=(SaasStepUsd(10000, 0.02), SaasStepUsd(None, 0.01)), step_size=1, max_units=None,
                storage_usd_per_gb_month=0.0, included_storage_gb=0.0, bandwidth_usd_per_gb=0.0,
                included_bandwidth_gb=0.0, usd_per_concurrent_connection_month=0.0,
                included_concurrent_share_of_mau=0.0, usd_per_million_messages=0.0,
                included_messages_per_month=0.0, ref=REF)
    base.update(kw)
    return SaasOfferUsd(**base)


def _demand(**kw):
    base = dict(dau=5000.0, peak_connections=1500.0, media_stored_gb=0.0, media_egress_gb_per_month=0.0,
                messages_per_month=0.0, deliveries_per_month=0.0)
    base.update(kw)
    return SimpleNamespace(**base)


def _workload(mau, **sections):
    return Workload.model_validate({"users": {"mau": mau}, **sections})


@pytest.mark.parametrize("mau, usd", [
    (500, 100.0),                                # inside the included 1,000: base fee only
    (1000, 100.0),
    (4000, 100.0 + 3000 * 0.02),                 # 160
    (10000, 100.0 + 9000 * 0.02),                # 280
    (20000, 100.0 + 9000 * 0.02 + 10000 * 0.01), # 380: graduated, not all units at the last step's price
])
def test_saas_graduated_ladder(mau, usd):
    quote = saas_quote(_offer(), _demand(), _workload(mau))
    assert quote.monthly_cost_usd == pytest.approx(usd)
    assert quote.units == mau


def test_saas_overage_billed_in_blocks():
    # 20,500 MAU in blocks of 1,000 beyond the included 1,000: 19,500 -> 20 blocks -> billed up to 21,000:
    # 9,000 * 0.02 + 11,000 * 0.01 = 290, plus the base fee
    quote = saas_quote(_offer(step_size=1000), _demand(), _workload(20500))
    assert quote.monthly_cost_usd == pytest.approx(100 + 290)


def test_saas_above_the_largest_tier_is_a_sales_quote():
    quote = saas_quote(_offer(max_units=10000), _demand(), _workload(10001))
    assert quote.monthly_cost_usd is None
    assert "sales quote" in quote.note


def test_saas_media_storage_bandwidth_and_messages_on_top():
    # 4,000 MAU -> 160 (above); storage (3,000 - 1,000 free) GB * 0.1 = 200; bandwidth (500 - 100) * 0.05 = 20;
    # messages (12M - 2M) / 1M * 1.5 = 15; connections 1,500 - 0.25 * 4,000 = 500 beyond included * 0.2 = 100
    offer = _offer(storage_usd_per_gb_month=0.1, included_storage_gb=1000, bandwidth_usd_per_gb=0.05,
                   included_bandwidth_gb=100, usd_per_million_messages=1.5, included_messages_per_month=2e6,
                   usd_per_concurrent_connection_month=0.2, included_concurrent_share_of_mau=0.25)
    quote = saas_quote(offer, _demand(media_stored_gb=3000, media_egress_gb_per_month=500, messages_per_month=12e6),
                       _workload(4000))
    assert quote.monthly_cost_usd == pytest.approx(160 + 200 + 20 + 15 + 100)
    assert sum(line.monthly_cost_usd for line in quote.lines) == pytest.approx(quote.monthly_cost_usd)


@pytest.mark.parametrize("metric, units", [("dau", 5000.0), ("peak_dau", 5000.0), ("peak_concurrent", 1500.0)])
def test_saas_metric_chooses_the_billed_units(metric, units):
    quote = saas_quote(_offer(metric=metric, included_units=0, steps=(SaasStepUsd(None, 0.5),)), _demand(),
                       _workload(99999))
    assert quote.units == units
    assert quote.monthly_cost_usd == pytest.approx(100 + 0.5 * units)


def test_tiny_catalog_saas_offer(tiny_catalog, profile):
    # chatco/pro from the tiny catalog at 20,000 MAU: 100 + 380 - 100 = 380 for users, plus 0.1/GB-month of media
    from planner.demand import compute_demand
    from planner.workload import Workload
    workload = Workload.model_validate({"users": {"mau": 20000}})
    demand = compute_demand(workload, profile)
    (offer,) = tiny_catalog.saas
    quote = saas_quote(offer, demand, workload)
    assert quote.monthly_cost_usd == pytest.approx(380 + 0.1 * demand.media_stored_gb)
