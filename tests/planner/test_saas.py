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


def test_saas_lines_carry_their_unit_price():
    # the same offer as above: flat fees show the published price per unit, the graduated per-user fee its
    # average (160 - 100 base = 60 USD over 3,000 MAU beyond the included = 0.02), like plan cost lines
    offer = _offer(storage_usd_per_gb_month=0.1, included_storage_gb=1000, usd_per_million_messages=1.5,
                   steps=(SaasStepUsd(2000, 0.01), SaasStepUsd(None, 0.025)))
    quote = saas_quote(offer, _demand(media_stored_gb=3000, messages_per_month=12e6), _workload(4000))
    price = {line.item: line.usd_per_unit for line in quote.lines}
    assert price["base fee"] == 100.0
    assert price["media storage"] == 0.1
    assert price["messages sent beyond included"] == pytest.approx(1.5e-6)
    # 1,000 * 0.01 + 2,000 * 0.025 = 60 over 3,000 MAU
    assert price["mau beyond 1,000 included"] == pytest.approx(60 / 3000)
    for line in quote.lines:
        assert line.usd_per_unit * line.quantity == pytest.approx(line.monthly_cost_usd)


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


# ---------------------------------------------------------------- fee kinds, worked by hand
def test_per_connection_fee_beyond_the_included_share_of_mau():
    # 5% of 20,000 MAU = 1,000 connections included; 1,500 at peak -> 500 * 1 USD
    offer = _offer(usd_per_concurrent_connection_month=1.0, included_concurrent_share_of_mau=0.05)
    quote = saas_quote(offer, _demand(), _workload(20000))
    assert quote.fees_usd["connections"] == pytest.approx(500.0)
    assert quote.fees_usd["per_user"] == pytest.approx(9000 * 0.02 + 10000 * 0.01)


def test_per_transaction_fees_on_messages_sent_and_delivered():
    # 10M sent * 123 USD/M + (20M - 5M included) delivered * 33 USD/M = 1,230 + 495
    offer = _offer(usd_per_million_messages=123.0, usd_per_million_deliveries=33.0, included_deliveries_per_month=5e6)
    quote = saas_quote(offer, _demand(messages_per_month=10e6, deliveries_per_month=20e6), _workload(500))
    assert quote.fees_usd["messages"] == pytest.approx(1230 + 495)
    assert quote.monthly_cost_usd == pytest.approx(100 + 1230 + 495)


def test_events_billed_as_messages_add_receipts_and_typing():
    # 10M sent, 20M delivered; 2 receipts per delivery, 2 typing events per message:
    # sent 10 + 40 + 20 = 70M; delivered 20 + 40 receipts back to senders + 20 * 2 typing = 100M
    offer = _offer(usd_per_million_messages=1.0, usd_per_million_deliveries=1.0, events_as_messages=True)
    workload = _workload(500, messaging={"receipts_per_delivery": 2.0, "typing_events_per_message": 2.0})
    quote = saas_quote(offer, _demand(messages_per_month=10e6, deliveries_per_month=20e6), workload)
    assert quote.fees_usd["messages"] == pytest.approx(70 + 100)


DAY = 30.416666666666668  # planner.units.DAYS_PER_MONTH: messages_per_month below is 1M a day


def test_message_history_storage_per_gb_and_per_stored_message():
    # 1M messages/day * 365 days * 500 B = 182.5 GB * 8 USD = 1,460; 365M stored messages on tiers
    # 5/4/3.5 USD per million with 5M included: (50*5 + 50*4 + 265*3.5) - 5*5 = 1,352.5
    offer = _offer(included_retention_days="unlimited", message_storage_usd_per_gb_month=8.0,
                   stored_message_tiers=(SaasStepUsd(50e6, 5e-6), SaasStepUsd(100e6, 4e-6), SaasStepUsd(None, 3.5e-6)),
                   included_stored_messages=5e6)
    workload = _workload(500, messaging={"avg_message_bytes": 500}, retention={"message_days": 365})
    quote = saas_quote(offer, _demand(messages_per_month=1e6 * DAY), workload)
    assert quote.fees_usd["message_history"] == pytest.approx(1460 + 1352.5)
    assert quote.flags == ()


def test_media_storage_and_bandwidth_are_the_media_fees():
    offer = _offer(storage_usd_per_gb_month=0.5, bandwidth_usd_per_gb=0.5, included_bandwidth_gb=10)
    quote = saas_quote(offer, _demand(media_stored_gb=1000, media_egress_gb_per_month=110), _workload(500))
    assert quote.fees_usd["media"] == pytest.approx(500 + 50)
    assert quote.fees_usd["per_user"] == 0


def test_retention_beyond_the_included_days_is_priced_where_a_price_is_published():
    # 335 days beyond the 30 included: 1M/day * 335 * 500 B = 167.5 GB * 0.1 USD
    offer = _offer(included_retention_days=30, retention_extra_usd_per_gb_month=0.1)
    workload = _workload(500, messaging={"avg_message_bytes": 500}, retention={"message_days": 365})
    quote = saas_quote(offer, _demand(messages_per_month=1e6 * DAY), workload)
    assert quote.fees_usd["message_history"] == pytest.approx(16.75)
    assert quote.status == "priced" and quote.flags == ()


@pytest.mark.parametrize("included, flagged", [(7, "retention below the workload's: 7 days included"),
                                               (None, "not stated"), (400, None), ("unlimited", None)])
def test_retention_without_a_published_price_is_flagged_not_priced(included, flagged):
    workload = _workload(500, retention={"message_days": 365})
    quote = saas_quote(_offer(included_retention_days=included), _demand(messages_per_month=1e6), workload)
    assert quote.monthly_cost_usd == pytest.approx(100.0)  # the price is unchanged
    assert (flagged is None and quote.flags == ()) or flagged in quote.flags[0]


# ---------------------------------------------------------------- residency, caps, unpriced fees
@pytest.mark.parametrize("jurisdictions, residency, status, why", [
    (("CN",), ["EU"], "excluded", "data centres in CN only, outside placement.residency [EU]"),
    (None, ["EU"], "excluded", "does not state where its data centres are"),
    (("SG", "US"), ["SG"], "priced", ""),
    (("CN",), [], "priced", ""),  # no residency rule: every offer may be used
])
def test_residency_excludes_offers_outside_it_with_the_reason(jurisdictions, residency, status, why):
    quote = saas_quote(_offer(jurisdictions=jurisdictions), _demand(), _workload(500, placement={"residency": residency}))
    assert quote.status == status and why in quote.note
    assert (quote.monthly_cost_usd is None) == (status == "excluded")
    assert status == "priced" or quote.lines == ()


@pytest.mark.parametrize("cap, value, what", [
    ({"cap_delivered_messages_per_day": 5e6}, {"deliveries_per_month": 43e6 * DAY}, "messages delivered a day"),
    ({"cap_messages_per_day": 1e6}, {"messages_per_month": 2e6 * DAY}, "messages sent a day"),
    ({"cap_peak_connections": 1000}, {"peak_connections": 1500.0}, "peak connections"),
    ({"cap_peak_dau": 4000}, {"dau": 5000.0}, "peak DAU"),
])
def test_above_a_published_cap_the_offer_is_a_quote(cap, value, what):
    quote = saas_quote(_offer(**cap), _demand(**value), _workload(500))
    assert quote.status == "quote" and quote.monthly_cost_usd is None and what in quote.note
    below = saas_quote(_offer(**cap), _demand(**{k: v / 10 for k, v in value.items()}), _workload(500))
    assert below.status == "priced"


def test_mau_cap():
    assert saas_quote(_offer(cap_mau=50000), _demand(), _workload(50000)).status == "priced"
    quote = saas_quote(_offer(cap_mau=50000), _demand(), _workload(50001))
    assert quote.status == "quote" and "50,001 MAU is above the published cap of 50,000" in quote.note


def test_an_unpriced_fee_makes_a_lower_bound_not_a_price():
    offer = _offer(unpriced=(("plan fee", "not published"),), usd_per_concurrent_connection_month=1.0)
    quote = saas_quote(offer, _demand(), _workload(500))
    assert quote.status == "partial" and quote.monthly_cost_usd is None
    assert quote.published_fees_usd == pytest.approx(100 + 1500)  # base + every connection (no share included)
    assert "plan fee (not published)" in quote.note
