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
    level: str  # "warning" (stale, suspicious) — schema errors are raised by the loader instead
    catalog: str
    message: str


def validate(catalog: Catalog, max_age_days: int, today: dt.date) -> list[Finding]:
    """Checks beyond the schema: stale prices, price order, implausible shapes."""
    findings = []
    limit = today - dt.timedelta(days=max_age_days)
    for info in catalog.infos:
        if info.as_of < limit:
            findings.append(Finding("warning", info.name, f"oldest price is from {info.as_of.isoformat()}, more than "
                                    f"{max_age_days} days old: re-check the sources"))
    if catalog.fx_as_of is not None and catalog.fx_as_of < limit:
        findings.append(Finding("warning", "fx", f"exchange rates are from {catalog.fx_as_of.isoformat()}"))
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
