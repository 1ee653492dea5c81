"""AWS Price List offer file for AWSDataTransfer (index.json, or the get-products answer) -> the `transfer` rows of
kind internet (graduated tiers) and the `network` rows (cross-AZ and inter-region price per GB).

Format: the offer file of every AWS service (aws_offer); products of productFamily "Data Transfer" with attributes
transferType, fromRegionCode, toRegionCode, fromLocation, toLocation, usagetype:
- transferType "AWS Outbound", toLocation "External": internet egress, priced in tiers of one month's GB
  (beginRange / endRange in GB, "Inf" for the last; 1 TB = 1024 GB). AWS bills them "beyond the global free tier"
  (the 100 GB a month free across all services and regions is not in the file): the rows are marked so that the
  merge keeps a free first tier of the catalog's row in front of them (merge.py).
- transferType "IntraRegion" (fromRegionCode = toRegionCode): between availability zones, billed on each side (out
  of one AZ and into the other), so the catalog's cross_zone_per_gb (per GB crossing) is twice the file's rate.
- transferType "InterRegion Outbound": out of fromRegionCode to toRegionCode; the catalog has one figure per region,
  so the highest rate to the destinations kept (--regions, else every destination of the file) is used, and the note
  names the range when they differ.
"""

from __future__ import annotations

from planner.catalog.importers import aws_offer
from planner.catalog.importers.common import ImportedRow, InputFile, Options, keep, price, require, whole

FAMILY = "Data Transfer"
AZ_SIDES = 2  # a GB crossing availability zones is billed out of one and into the other


def internet_tiers(terms: dict, where: str) -> list[dict]:
    """The catalog's tiers (up_to_gb cumulative, the last unbounded) of a tiered egress price."""
    return [({"up_to_gb": whole(end)} if end is not None else {}) | {"per_gb": price(rate)}
            for end, rate in aws_offer.graduated(terms, "GB", where)]


def rows(f: InputFile, options: Options) -> list[ImportedRow]:
    where = str(f.path)
    on_demand = require(require(f.data, "terms", dict, where), "OnDemand", dict, f"{where}.terms")
    internet, cross, inter = {}, {}, {}
    for sku, product in require(f.data, "products", dict, where).items():
        if product.get("productFamily") != FAMILY:
            continue
        attrs = product.get("attributes", {})
        kind, source, target = attrs.get("transferType"), attrs.get("fromRegionCode"), attrs.get("toRegionCode")
        at = f"{where}: terms.OnDemand.{sku}"
        if not keep(options, str(source)):
            continue
        if kind == "AWS Outbound" and attrs.get("toLocation") == "External":
            internet[source] = internet_tiers(on_demand.get(sku, {}), at)
        elif kind == "IntraRegion" and target == source:
            cross[source] = aws_offer.flat(on_demand.get(sku, {}), "GB", at)
        elif kind == "InterRegion Outbound" and target != source and keep(options, str(target)):
            inter.setdefault(source, {})[target] = aws_offer.flat(on_demand.get(sku, {}), "GB", at)
    out = [ImportedRow("transfer", region, "internet", {"tiers": tiers}, beyond_free_tier=True,
                       note="tiers from the file's AWS Outbound to External ranges, which count GB beyond the "
                            "global free tier (not in the file)")
           for region, tiers in sorted(internet.items())]
    for region in sorted(set(cross) | set(inter)):
        fields, notes = {}, []
        if region in cross:
            fields["cross_zone_per_gb"] = price(cross[region] * AZ_SIDES)
            notes.append(f"cross_zone_per_gb: {cross[region]:g} USD/GB IntraRegion, billed out and in")
        if region in inter:
            rates = inter[region]
            fields["inter_region_per_gb"] = price(max(rates.values()))
            if len(set(rates.values())) > 1:
                notes.append("inter_region_per_gb: the highest rate out of the region, to " + ", ".join(
                    f"{k} {v:g}" for k, v in sorted(rates.items())))
        out.append(ImportedRow("network", region, "", fields, note="; ".join(notes)))
    return out
