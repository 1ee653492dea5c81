"""Chat SaaS prices for the workload: the billed units of each offer and its monthly fees."""

from __future__ import annotations

import math

from planner.catalog.records import SaasOfferUsd
from planner.demand import Demand
from planner.model import SAAS_FEES, CostLine, SaasQuote
from planner.workload import Workload

EPS = 1e-9


def saas_units(offer: SaasOfferUsd, demand: Demand, workload: Workload) -> float:
    if offer.metric == "mau":
        return float(workload.users.mau)
    if offer.metric in ("dau", "peak_dau"):
        return demand.dau
    return demand.peak_connections


def _steps_cost(units: float, offer: SaasOfferUsd) -> float:
    """Graduated per-unit price on the units beyond the included ones, billed in step_size blocks."""
    billable_upper = offer.included_units + math.ceil(max(units - offer.included_units, 0) / offer.step_size - EPS) \
        * offer.step_size
    cost, lower = 0.0, 0.0
    for step in offer.steps:
        upper = math.inf if step.up_to is None else step.up_to
        lo, hi = max(lower, offer.included_units), min(upper, billable_upper)
        if hi > lo:
            cost += (hi - lo) * step.usd_per_unit
        lower = upper
    return cost


def saas_quote(offer: SaasOfferUsd, demand: Demand, workload: Workload) -> SaasQuote:
    units = saas_units(offer, demand, workload)
    if offer.max_units is not None and units > offer.max_units:
        return SaasQuote(offer.provider, offer.plan, offer.metric, units, None, (),
                         f"{units:,.0f} {offer.metric} is above the largest published tier "
                         f"({offer.max_units:,.0f}): sales quote only")
    ref = offer.ref
    lines = [CostLine(SAAS_FEES, "base fee", 1, "month", offer.base_usd_per_month, ref),
             CostLine(SAAS_FEES, f"{offer.metric} beyond {offer.included_units:,.0f} included",
                      max(units - offer.included_units, 0), offer.metric, _steps_cost(units, offer), ref)]
    storage_gb = max(demand.media_stored_gb - offer.included_storage_gb, 0)
    if offer.storage_usd_per_gb_month:
        lines.append(CostLine(SAAS_FEES, "media storage", storage_gb, "GB-month",
                              storage_gb * offer.storage_usd_per_gb_month, ref))
    bandwidth_gb = max(demand.media_egress_gb_per_month - offer.included_bandwidth_gb, 0)
    if offer.bandwidth_usd_per_gb:
        lines.append(CostLine(SAAS_FEES, "media bandwidth", bandwidth_gb, "GB",
                              bandwidth_gb * offer.bandwidth_usd_per_gb, ref))
    if offer.usd_per_concurrent_connection_month:
        extra = max(demand.peak_connections - offer.included_concurrent_share_of_mau * workload.users.mau, 0)
        lines.append(CostLine(SAAS_FEES, "concurrent connections beyond included", extra, "connections",
                              extra * offer.usd_per_concurrent_connection_month, ref))
    if offer.usd_per_million_messages:
        extra = max(demand.messages_per_month - offer.included_messages_per_month, 0)
        lines.append(CostLine(SAAS_FEES, "messages beyond included", extra, "messages",
                              extra / 1e6 * offer.usd_per_million_messages, ref))
    return SaasQuote(offer.provider, offer.plan, offer.metric, units, sum(x.monthly_cost_usd for x in lines),
                     tuple(lines))
