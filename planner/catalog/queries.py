"""Pure queries over a loaded Catalog: the compute table and validation findings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from planner.catalog.records import Catalog

COMPUTE_COLUMNS = ["provider", "region", "type", "family", "class", "arch", "vcpu", "memory_gib", "usd_per_hour",
                   "usd_per_hour_commit_1y", "usd_per_hour_commit_3y", "usd_per_hour_spot",
                   "included_egress_gb_per_month", "estimated", "as_of", "source"]


def compute_rows(catalog: Catalog, provider: str | None = None, region: str | None = None) -> list[dict]:
    """One row per compute offering (the COMPUTE_COLUMNS), prices in USD per hour; optionally one provider or
    region only."""
    return [{
        "provider": c.provider, "region": c.region, "type": c.type, "family": c.family, "class": c.klass,
        "arch": c.arch, "vcpu": c.vcpu, "memory_gib": c.memory_gib, "usd_per_hour": round(c.usd_per_hour, 6),
        "usd_per_hour_commit_1y": None if c.usd_per_hour_commit_1y is None else round(c.usd_per_hour_commit_1y, 6),
        "usd_per_hour_commit_3y": None if c.usd_per_hour_commit_3y is None else round(c.usd_per_hour_commit_3y, 6),
        "usd_per_hour_spot": None if c.usd_per_hour_spot is None else round(c.usd_per_hour_spot, 6),
        "included_egress_gb_per_month": c.included_egress_gb_per_month,
        "estimated": ",".join(c.ref.estimated), "as_of": c.ref.as_of.isoformat(), "source": c.ref.title,
    } for c in catalog.compute if (provider is None or c.provider == provider) and (region is None or c.region == region)]


@dataclass(frozen=True)
class Finding:
    level: str  # "error" (an unmarked stale source) or "warning" (marked stale, suspicious); schema errors are
    # raised by the loader instead
    catalog: str
    message: str


def months_before(today: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier (clamped to the month's last day): 18 months before
    2026-12-04 is 2025-06-04."""
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    days_in_month = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(today.day, days_in_month))


def whole_months(since: dt.date, today: dt.date) -> int:
    """Completed calendar months from `since` to `today` (a price's age as a reader counts it)."""
    months = (today.year - since.year) * 12 + today.month - since.month
    return months - (1 if today.day < since.day else 0)


def stale_sources(catalog: Catalog, oldest_allowed: dt.date, today: dt.date) -> list[Finding]:
    """One finding per source older than `oldest_allowed`: an error, or a warning naming the reason when the source
    carries a known-stale mark (`stale:`, what was searched and found). Staleness is judged per source, not per
    file, so a refreshed catalog with one old source names exactly that source."""
    named = [(info.name, age) for info in catalog.infos for age in info.sources]
    if catalog.fx_source is not None:
        named.append(("fx", catalog.fx_source))
    findings = []
    for name, age in named:
        if age.as_of >= oldest_allowed:
            continue
        what = (f"source {age.key}: as_of {age.as_of.isoformat()}, {whole_months(age.as_of, today)} months old "
                f"(limit {oldest_allowed.isoformat()})")
        if age.stale:
            findings.append(Finding("warning", name, f"{what}; marked stale: {age.stale}"))
        else:
            findings.append(Finding("error", name, f"{what}: refresh it, or mark it `stale:` with what was "
                                    "searched and found"))
    return findings


def validate(catalog: Catalog, oldest_allowed: dt.date, today: dt.date) -> list[Finding]:
    """Checks beyond the schema: stale sources, price order, implausible shapes."""
    findings = stale_sources(catalog, oldest_allowed, today)
    for c in catalog.compute:
        for label, price in (("commit_1y", c.usd_per_hour_commit_1y), ("commit_3y", c.usd_per_hour_commit_3y),
                             ("spot", c.usd_per_hour_spot)):
            if price is not None and price > c.usd_per_hour:
                findings.append(Finding("warning", c.ref.catalog, f"{c.key}: {label} price {price:.4f} is above "
                                        f"on-demand {c.usd_per_hour:.4f}"))
        one, three = c.usd_per_hour_commit_1y, c.usd_per_hour_commit_3y
        if one and three and three > one:
            findings.append(Finding("warning", c.ref.catalog, f"{c.key}: 3-year commitment dearer than 1-year"))
        ratio = c.memory_gib / c.vcpu
        if not 0.5 <= ratio <= 32:
            findings.append(Finding("warning", c.ref.catalog, f"{c.key}: {ratio:g} GiB per vCPU is implausible"))
    for r in catalog.public_regions:
        prices = [t.usd_per_gb for t in r.internet_egress]
        if any(b > a for a, b in zip(prices[1:], prices[2:])):
            findings.append(Finding("warning", r.internet_egress_ref.catalog,
                                    f"{r.provider}/{r.region}: internet egress tiers get dearer with volume"))
    return findings
