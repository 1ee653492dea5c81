"""Chat SaaS prices for the workload, as the plans are sold: whether an offer may hold the data at all
(placement.residency against its data centres' jurisdictions), whether the workload is inside its published caps
(else it is a sales quote), and its monthly fees grouped by kind, so that per-user, media and usage fees can be
shown apart. A fee the plan charges but does not publish makes the offer a lower bound, never a guess."""

from __future__ import annotations

import math

from planner.catalog.records import SaasOfferUsd, SaasStepUsd
from planner.demand import Demand
from planner.model import (SAAS_EXCLUDED, SAAS_FEES, SAAS_PARTIAL, SAAS_PRICED, SAAS_QUOTE, CostLine, SaasQuote)
from planner.units import BYTES_PER_GB, DAYS_PER_MONTH, graduated
from planner.workload import Workload

EPS = 1e-9

# Fee groups of a quote (SaasQuote.fees_usd and the compare columns)
FEE_BASE = "base"
FEE_PER_USER = "per_user"
FEE_CONNECTIONS = "connections"
FEE_MESSAGES = "messages"
FEE_MEDIA = "media"
FEE_HISTORY = "message_history"
FEE_GROUPS = (FEE_BASE, FEE_PER_USER, FEE_CONNECTIONS, FEE_MESSAGES, FEE_MEDIA, FEE_HISTORY)


def saas_units(offer: SaasOfferUsd, demand: Demand, workload: Workload) -> float:
    if offer.metric == "mau":
        return float(workload.users.mau)
    if offer.metric in ("dau", "peak_dau"):
        return demand.dau
    return demand.peak_connections


def _graduated(amount: float, steps: tuple[SaasStepUsd, ...]) -> float:
    """Graduated price of `amount` units: each step prices only the units inside it (up_to is absolute)."""
    return graduated(amount, ((step.up_to, step.usd_per_unit) for step in steps))


def _steps_cost(units: float, offer: SaasOfferUsd) -> float:
    """Graduated per-unit price on the units beyond the included ones, billed in step_size blocks."""
    billable_upper = offer.included_units + math.ceil(max(units - offer.included_units, 0) / offer.step_size - EPS) \
        * offer.step_size
    return max(_graduated(billable_upper, offer.steps) - _graduated(offer.included_units, offer.steps), 0.0)


def residency_reason(offer: SaasOfferUsd, workload: Workload) -> str | None:
    """Why placement.residency rules the offer out, or None when it may hold the data."""
    allowed = workload.placement.residency
    if not allowed:
        return None
    rule = f"placement.residency [{', '.join(allowed)}]"
    if offer.jurisdictions is None:
        return f"the catalog does not state where its data centres are, so {rule} cannot be met"
    if not set(offer.jurisdictions) & set(allowed):
        return f"data centres in {', '.join(offer.jurisdictions)} only, outside {rule}"
    return None


def caps_exceeded(offer: SaasOfferUsd, demand: Demand, workload: Workload) -> list[str]:
    """Every published cap (and the end of the price ladder) the workload is above."""
    units = saas_units(offer, demand, workload)
    out = []
    if offer.max_units is not None and units > offer.max_units:
        out.append(f"{units:,.0f} {offer.metric} is above the largest published tier ({offer.max_units:,.0f})")
    for label, cap, value in (
            ("MAU", offer.cap_mau, float(workload.users.mau)),
            ("peak DAU", offer.cap_peak_dau, demand.dau),
            ("peak connections", offer.cap_peak_connections, demand.peak_connections),
            ("messages sent a day", offer.cap_messages_per_day, demand.messages_per_month / DAYS_PER_MONTH),
            ("messages delivered a day", offer.cap_delivered_messages_per_day,
             demand.deliveries_per_month / DAYS_PER_MONTH)):
        if cap is not None and value > cap + EPS:
            out.append(f"{value:,.0f} {label} is above the published cap of {cap:,.0f}")
    return out


def history_gb(demand: Demand, workload: Workload, days: float) -> float:
    """Decimal GB of message text kept for `days` days (what per-GB history prices are applied to)."""
    messages_per_day = demand.messages_per_month / DAYS_PER_MONTH
    return messages_per_day * days * workload.messaging.avg_message_bytes / BYTES_PER_GB


class _Lines:
    """The quote's cost lines, each filed under one fee group."""

    def __init__(self, offer: SaasOfferUsd):
        self.ref = offer.ref
        self.items: list[tuple[str, CostLine]] = []

    def add(self, group: str, item: str, quantity: float, unit: str, usd: float,
            usd_per_unit: float | None = None) -> None:
        """usd_per_unit: the published flat price per `unit`; for a graduated price leave it out and the line
        carries the average (usd / quantity), as plan cost lines do."""
        if usd_per_unit is None and quantity > 0:
            usd_per_unit = usd / quantity
        self.items.append((group, CostLine(category=SAAS_FEES, item=item, quantity=quantity, unit=unit,
                                           monthly_cost_usd=usd, ref=self.ref, usd_per_unit=usd_per_unit)))

    def lines(self) -> tuple[CostLine, ...]:
        return tuple(line for _, line in self.items)

    def fees(self) -> dict[str, float]:
        out = {g: 0.0 for g in FEE_GROUPS}
        for group, line in self.items:
            out[group] += line.monthly_cost_usd
        return out


def _history(offer: SaasOfferUsd, demand: Demand, workload: Workload, lines: _Lines) -> list[str]:
    """Message history: included retention against the workload's, its extension price, per-GB or per-message
    storage fees. Returns the flags for what the price does not cover."""
    wanted = workload.retention.message_days
    included = offer.included_retention_days
    flags, kept_days = [], wanted
    if included is None:
        flags.append("included message retention not stated by the source")
    elif included != "unlimited" and included < wanted:
        if offer.retention_extra_usd_per_gb_month is not None:
            gb = history_gb(demand, workload, wanted - included)
            lines.add(FEE_HISTORY, f"message history beyond the {included} included days", gb, "GB-month",
                      gb * offer.retention_extra_usd_per_gb_month, offer.retention_extra_usd_per_gb_month)
        else:
            kept_days = included
            flags.append(f"retention below the workload's: {included} days included, the workload keeps {wanted}; "
                         f"no published price for longer history")
    if offer.message_storage_usd_per_gb_month:
        gb = max(history_gb(demand, workload, kept_days) - offer.included_message_storage_gb, 0)
        lines.add(FEE_HISTORY, "message history storage", gb, "GB-month", gb * offer.message_storage_usd_per_gb_month,
                  offer.message_storage_usd_per_gb_month)
    if offer.stored_message_tiers:
        stored = demand.messages_per_month / DAYS_PER_MONTH * kept_days
        extra = max(stored - offer.included_stored_messages, 0)
        lines.add(FEE_HISTORY, "stored messages beyond included", extra, "messages",
                  max(_graduated(stored, offer.stored_message_tiers)
                      - _graduated(offer.included_stored_messages, offer.stored_message_tiers), 0.0))
    return flags


def _usage_fees(offer: SaasOfferUsd, demand: Demand, workload: Workload, lines: _Lines) -> None:
    """Media storage and bandwidth, connections, messages sent and delivered."""
    storage_gb = max(demand.media_stored_gb - offer.included_storage_gb, 0)
    if offer.storage_usd_per_gb_month:
        lines.add(FEE_MEDIA, "media storage", storage_gb, "GB-month", storage_gb * offer.storage_usd_per_gb_month,
                  offer.storage_usd_per_gb_month)
    bandwidth_gb = max(demand.media_egress_gb_per_month - offer.included_bandwidth_gb, 0)
    if offer.bandwidth_usd_per_gb:
        lines.add(FEE_MEDIA, "media bandwidth", bandwidth_gb, "GB", bandwidth_gb * offer.bandwidth_usd_per_gb,
                  offer.bandwidth_usd_per_gb)
    if offer.usd_per_concurrent_connection_month:
        extra = max(demand.peak_connections - offer.included_concurrent_share_of_mau * workload.users.mau, 0)
        lines.add(FEE_CONNECTIONS, "concurrent connections beyond included", extra, "connections",
                  extra * offer.usd_per_concurrent_connection_month, offer.usd_per_concurrent_connection_month)
    sent, delivered = billed_messages(offer, demand, workload)
    what = " incl. receipts and typing" if offer.events_as_messages else ""
    if offer.usd_per_million_messages:
        extra = max(sent - offer.included_messages_per_month, 0)
        lines.add(FEE_MESSAGES, f"messages sent{what} beyond included", extra, "messages",
                  extra / 1e6 * offer.usd_per_million_messages, offer.usd_per_million_messages / 1e6)
    if offer.usd_per_million_deliveries:
        extra = max(delivered - offer.included_deliveries_per_month, 0)
        lines.add(FEE_MESSAGES, f"messages delivered{what} beyond included", extra, "deliveries",
                  extra / 1e6 * offer.usd_per_million_deliveries, offer.usd_per_million_deliveries / 1e6)


def billed_messages(offer: SaasOfferUsd, demand: Demand, workload: Workload) -> tuple[float, float]:
    """(sent, delivered) a month as the offer counts them: chat messages, plus receipts (each sent by a recipient
    and delivered to the sender) and typing indicators (fanned out like the message) where events are billed."""
    sent, delivered = demand.messages_per_month, demand.deliveries_per_month
    if offer.events_as_messages:
        m = workload.messaging
        receipts = demand.deliveries_per_month * m.receipts_per_delivery
        typing_sent = demand.messages_per_month * m.typing_events_per_message
        sent += receipts + typing_sent
        delivered += receipts + demand.deliveries_per_month * m.typing_events_per_message
    return sent, delivered


def saas_quote(offer: SaasOfferUsd, demand: Demand, workload: Workload) -> SaasQuote:
    units = saas_units(offer, demand, workload)

    def not_priced(status: str, why: str) -> SaasQuote:
        return SaasQuote(offer.provider, offer.plan, offer.metric, units, None, (), why, status=status,
                         jurisdictions=offer.jurisdictions)

    excluded = residency_reason(offer, workload)
    if excluded:
        return not_priced(SAAS_EXCLUDED, excluded)
    above = caps_exceeded(offer, demand, workload)
    if above:
        return not_priced(SAAS_QUOTE, "; ".join(above) + ": sales quote only")
    lines = _Lines(offer)
    lines.add(FEE_BASE, "base fee", 1, "month", offer.base_usd_per_month, offer.base_usd_per_month)
    lines.add(FEE_CONNECTIONS if offer.metric == "peak_concurrent" else FEE_PER_USER,
              f"{offer.metric} beyond {offer.included_units:,.0f} included", max(units - offer.included_units, 0),
              offer.metric, _steps_cost(units, offer))
    _usage_fees(offer, demand, workload, lines)
    flags = _history(offer, demand, workload, lines)
    total = sum(line.monthly_cost_usd for line in lines.lines())
    status, note, cost = SAAS_PRICED, "", total
    if offer.unpriced:
        status, cost = SAAS_PARTIAL, None
        note = ("priced only in part (a lower bound); not priced: "
                + "; ".join(f"{what} ({why})" for what, why in offer.unpriced))
    return SaasQuote(offer.provider, offer.plan, offer.metric, units, cost, lines.lines(), note, status=status,
                     fees_usd=lines.fees(), published_fees_usd=total, flags=tuple(flags),
                     jurisdictions=offer.jurisdictions)
