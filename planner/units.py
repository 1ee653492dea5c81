"""Every unit constant and conversion of the planner lives here, and nowhere else (with the one graduated-price sum)."""

from __future__ import annotations

import math
from typing import Iterable

HOURS_PER_MONTH = 730.0  # the cloud billing convention (AWS, GCP, Azure, Infracost)
HOURS_PER_DAY = 24
SLICES_PER_DAY = 24  # the daily load curve has one slice per hour
HOURS_PER_SLICE_PER_MONTH = HOURS_PER_MONTH / SLICES_PER_DAY  # each hourly slice recurs ~30.4 times a month
DAYS_PER_MONTH = HOURS_PER_MONTH / HOURS_PER_DAY
MONTHS_PER_YEAR = 12
SECONDS_PER_HOUR = 3600
MINUTES_PER_HOUR = 60
SECONDS_PER_DAY = 86_400

BYTES_PER_GIB = 1024**3
BYTES_PER_GB = 1e9  # clouds bill transfer and object storage in decimal GB
KIB_PER_GIB = 1024**2
GB_PER_TB = 1000
BITS_PER_BYTE = 8
BITS_PER_MEGABIT = 1e6


def gib_to_gb(gib: float) -> float:
    return gib * BYTES_PER_GIB / BYTES_PER_GB


def bytes_per_s_to_mbps(bytes_per_s: float) -> float:
    return bytes_per_s * BITS_PER_BYTE / BITS_PER_MEGABIT


def mbps_to_gb_per_hour(mbps: float) -> float:
    """Decimal GB transferred in one hour at a steady rate of `mbps` megabits per second."""
    return mbps * BITS_PER_MEGABIT / BITS_PER_BYTE * SECONDS_PER_HOUR / BYTES_PER_GB


def mbps_to_gb_per_slice_month(mbps: float) -> float:
    """GB a month from one hourly slice of the daily curve at `mbps` (the slice recurs every day)."""
    return mbps_to_gb_per_hour(mbps) * HOURS_PER_SLICE_PER_MONTH


def per_year_to_per_month(amount: float) -> float:
    return amount / MONTHS_PER_YEAR


def amortized_per_month(capex: float, years: float, rate_percent_per_year: float = 0.0) -> float:
    """Monthly payment that repays `capex` over `years` at a yearly cost of capital (an annuity; at 0 % it is
    straight-line amortization): what owning the purchase costs a month, interest on the tied-up money included."""
    months = years * MONTHS_PER_YEAR
    if rate_percent_per_year <= 0:
        return capex / months
    monthly_rate = (1 + rate_percent_per_year / 100) ** (1 / MONTHS_PER_YEAR) - 1
    return capex * monthly_rate / (1 - (1 + monthly_rate) ** -months)


def graduated(amount: float, bands: Iterable[tuple[float | None, float]]) -> float:
    """Cost of `amount` under a graduated (volume-tiered) price: `bands` are (upper end or None for no end, price
    per unit) in ascending order, and each band prices only the part of the amount that falls inside it. Transfer
    tiers and SaaS ladders are billed this way."""
    cost, lower = 0.0, 0.0
    for up_to, usd_per_unit in bands:
        upper = math.inf if up_to is None else up_to
        if amount > lower:
            cost += (min(amount, upper) - lower) * usd_per_unit
        lower = upper
    return cost
