"""GCP Cloud Billing Catalog SKUs of Compute Engine (GET https://cloudbilling.googleapis.com/v1/services/
6F81-5844-456A/skus, JSON) -> machine-type prices from the per-vCPU and per-GiB SKUs.

Format: https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list — `skus[]` with description,
category {resourceFamily, resourceGroup, usageType OnDemand|Preemptible|Commit1Yr|Commit3Yr}, serviceRegions[],
pricingInfo[] {pricingExpression {usageUnit "h" | "GiBy.h", tieredRates[] {startUsageAmount, unitPrice {currencyCode,
units, nanos}}}, effectiveTime}; `nextPageToken` (save each page, give the directory).
Compute Engine bills a predefined machine type as vCPU x the series' core price + GiB x its RAM price; the SKU
descriptions name the series ("N2 Instance Core running in Americas", "Spot Preemptible N2 Instance Ram running in
...", "Commitment v1: N2 Cpu in Americas for 1 Year"). Machine types come from the catalog (the API has no shapes).
"""

from __future__ import annotations

import re

from planner.catalog.importers.common import (ImportedRow, ImportResult, InputFile, Options, PriceFileError, keep,
                                              number, parse_date, price, require)

URL = "https://cloudbilling.googleapis.com/v1/services/6F81-5844-456A/skus"
_RUNNING = re.compile(r"^(?:Spot Preemptible )?(?P<series>[A-Z][A-Z0-9]*)(?: AMD| Intel)?(?: Predefined)? "
                      r"Instance (?P<res>Core|Ram) running in .+$")
_COMMIT = re.compile(r"^Commitment v1: (?P<series>[A-Z][A-Z0-9]*)(?: AMD| Intel)? (?P<res>Cpu|Ram) in .+ "
                     r"for [13] Years?$")
FIELDS = {"OnDemand": "on_demand_per_hour", "Preemptible": "spot_per_hour", "Commit1Yr": "commit_1y_per_hour",
          "Commit3Yr": "commit_3y_per_hour"}
UNITS = {"core": "h", "ram": "GiBy.h"}


def unit_price(rate: dict, where: str) -> float:
    """A google.type.Money: whole units plus nanos (10^-9 units)."""
    money = require(rate, "unitPrice", dict, where)
    return number(money.get("units", 0) or 0, f"{where}.unitPrice.units") + \
        number(money.get("nanos", 0) or 0, f"{where}.unitPrice.nanos") / 1e9


def _sku_rate(sku: dict, where: str) -> tuple[float, str, str, str]:
    """(price of the first tier, usageUnit, currency, effective date) of a SKU's current pricingInfo."""
    info = require(sku, "pricingInfo", list, where)
    if not info:
        raise PriceFileError(f"{where}.pricingInfo: empty")
    expr = require(info[-1], "pricingExpression", dict, f"{where}.pricingInfo")
    tiers = sorted(require(expr, "tieredRates", list, f"{where}.pricingExpression"),
                   key=lambda t: float(t.get("startUsageAmount", 0) or 0))
    if not tiers:
        raise PriceFileError(f"{where}.pricingExpression.tieredRates: empty")
    # machine SKUs have one tier; where a free allowance comes first, the first paid tier is the price
    rate = next((p for p in (unit_price(t, where) for t in tiers) if p > 0), 0.0)
    currency = str(tiers[0].get("unitPrice", {}).get("currencyCode", "USD"))
    return rate, str(expr.get("usageUnit", "")), currency, str(info[-1].get("effectiveTime", ""))


def series_rates(files: list[InputFile], options: Options) -> tuple[dict, list, dict]:
    """{(region, series, field): {"core": price, "ram": price}}, the effective dates, and currencies by region."""
    rates: dict[tuple[str, str, str], dict[str, float]] = {}
    dates, currencies = [], {}
    for f in files:
        for index, sku in enumerate(require(f.data, "skus", list, str(f.path))):
            where = f"{f.path}: skus[{index}]"
            if not isinstance(sku, dict):
                raise PriceFileError(f"{where}: expected an object")
            category = sku.get("category", {})
            field = FIELDS.get(category.get("usageType"))
            if category.get("resourceFamily") != "Compute" or field is None:
                continue
            desc = str(sku.get("description", ""))
            match = _RUNNING.match(desc) or _COMMIT.match(desc)
            if match is None:
                continue  # custom, sole-tenant, GPU, licence SKUs: not a predefined machine's core or RAM
            resource = "core" if match["res"] in ("Core", "Cpu") else "ram"
            value, unit, currency, effective = _sku_rate(sku, where)
            if unit != UNITS[resource]:
                raise PriceFileError(f"{where}: {desc!r} is priced per {unit!r}, expected {UNITS[resource]!r}")
            if effective:
                dates.append(parse_date(effective, f"{where}.pricingInfo.effectiveTime"))
            for region in sku.get("serviceRegions", []):
                if keep(options, region, match["series"].lower()):
                    rates.setdefault((region, match["series"].lower(), field), {})[resource] = value
                    currencies[region] = currency
    return rates, dates, currencies


def machine_price(vcpu: int, memory_gib: float, core: float, ram: float) -> float:
    """What Compute Engine bills a predefined machine type an hour: vCPU x core price + GiB x RAM price."""
    return vcpu * core + memory_gib * ram


def parse(files: list[InputFile], options: Options) -> ImportResult:
    """Rows per (region, series) and pricing field; the merge multiplies them out per machine type
    (`expand_machine_types`), since only the catalog knows the types' vCPU and GiB."""
    rates, dates, currencies = series_rates(files, options)
    rows = []
    for (region, series, field), parts in sorted(rates.items()):
        if set(parts) == {"core", "ram"}:
            rows.append(ImportedRow("compute", region, f"{series}-*", {field: parts}, family=series,
                                    currency=currencies[region], needs_shape=True))
    if options.as_of is None and not dates:
        raise PriceFileError("gcp: the SKUs carry no pricingInfo.effectiveTime: give --as-of DATE")
    return ImportResult("gcp", _merge_fields(rows), options.as_of or max(dates),
                        title="Google Cloud Billing Catalog API, Compute Engine SKUs "
                              f"({', '.join(f.path.name for f in files)}): predefined machine types = vCPU x core "
                              "SKU + GiB x RAM SKU",
                        url=URL, files=files, expand=expand_machine_types)


def _merge_fields(rows: list[ImportedRow]) -> list[ImportedRow]:
    merged: dict[tuple[str, str], ImportedRow] = {}
    for row in rows:
        key = (row.region, row.family)
        if key in merged:
            merged[key].fields.update(row.fields)
        else:
            merged[key] = row
    return list(merged.values())


def expand_machine_types(row: ImportedRow, catalog_rows: list[dict]) -> list[ImportedRow]:
    """One compute row per machine type of the catalog in the series and region, priced from the series' rates."""
    out = []
    for base in catalog_rows:
        if base.get("region") != row.region or base.get("family") != row.family:
            continue
        fields, notes = {}, []
        for field, parts in row.fields.items():
            fields[field] = price(machine_price(base["vcpu"], base["memory_gib"], parts["core"], parts["ram"]))
            notes.append(f"{field} = {base['vcpu']} vCPU x {parts['core']:g} + {base['memory_gib']:g} GiB x "
                         f"{parts['ram']:g}")
        if "on_demand_per_hour" in fields:
            out.append(ImportedRow("compute", row.region, base["type"], fields, family=row.family,
                                   currency=row.currency, note="; ".join(notes), needs_shape=True))
    return out
