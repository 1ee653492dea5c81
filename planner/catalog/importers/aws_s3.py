"""AWS Price List offer file for AmazonS3 (one region's index.json, or the get-products answer) -> object_storage
rows: S3 Standard ("standard") and S3 Standard-IA ("infrequent").

Format: the offer file of every AWS service (aws_offer); the usage types are those of S3's billing
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/aws-usage-report-understand.html), region-prefixed outside
us-east-1 ("EUC1-TimedStorage-ByteHrs"): TimedStorage-ByteHrs / TimedStorage-SIA-ByteHrs (GB-Mo, tiered by
beginRange / endRange: the first tier is the catalog's per_gb_month, as the hand-kept rows take it), Requests-Tier1
(PUT, COPY, POST, LIST) / Requests-Tier2 (GET and the rest) and their -SIA- twins (unit Requests: the price per
request x 1000 is put_per_1k / get_per_1k), Retrieval-SIA (GB retrieved from Standard-IA).
Standard-IA's 30-day minimum storage duration is not in the price file: it stays from the catalog's row, so a new
infrequent row is added only when the catalog lists it (skipped otherwise, with the reason).
"""

from __future__ import annotations

from planner.catalog.importers import aws_offer
from planner.catalog.importers.common import ImportedRow, InputFile, Options, keep, price, require, whole

# usage type -> (storage class, catalog field, unit, catalog units per file unit)
USAGE = {
    "TimedStorage-ByteHrs": ("standard", "per_gb_month", "GB-Mo", 1),
    "TimedStorage-SIA-ByteHrs": ("infrequent", "per_gb_month", "GB-Mo", 1),
    "Requests-Tier1": ("standard", "put_per_1k", "Requests", 1000),
    "Requests-Tier2": ("standard", "get_per_1k", "Requests", 1000),
    "Requests-SIA-Tier1": ("infrequent", "put_per_1k", "Requests", 1000),
    "Requests-SIA-Tier2": ("infrequent", "get_per_1k", "Requests", 1000),
    "Retrieval-SIA": ("infrequent", "retrieval_per_gb", "GB", 1),
}


def rows(f: InputFile, options: Options) -> list[ImportedRow]:
    where = str(f.path)
    on_demand = require(require(f.data, "terms", dict, where), "OnDemand", dict, f"{where}.terms")
    fields: dict[tuple[str, str], dict] = {}
    notes: dict[tuple[str, str], str] = {}
    for sku, product in require(f.data, "products", dict, where).items():
        attrs = product.get("attributes", {})
        found = USAGE.get(aws_offer.usage(attrs))
        region = str(attrs.get("regionCode", ""))
        if found is None or not keep(options, region):
            continue
        klass, field, unit, factor = found
        at = f"{where}: terms.OnDemand.{sku}"
        if field == "per_gb_month":
            tiers = aws_offer.graduated(on_demand.get(sku, {}), unit, at)
            first_end, value = tiers[0]
            if first_end is not None:  # tiered: the first tier, as the hand-kept rows take it
                notes[(region, klass)] = f"per_gb_month: the first storage tier (first {whole(first_end / 1024)} " \
                                         "TB/month)"
        else:
            value = aws_offer.flat(on_demand.get(sku, {}), unit, at)
        fields.setdefault((region, klass), {})[field] = price(value * factor)
    return [ImportedRow("object_storage", region, klass, row, note=notes.get((region, klass), ""),
                        needs_shape=klass == "infrequent")
            for (region, klass), row in sorted(fields.items()) if "per_gb_month" in row]
