"""AWS Price List bulk offer file for AmazonEC2 (one region's index.json) -> compute rows and gp3 volumes.
Also read: the Price List Query API's answer (`aws pricing get-products --service-code AmazonEC2 --filters ...`),
whose `PriceList[]` holds the same product + terms per SKU as JSON strings: a filtered, small download.

Format: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-an-offer.html — `products` keyed by
SKU (attributes: instanceType, vcpu, memory "8 GiB", regionCode, operatingSystem, tenancy, preInstalledSw,
capacitystatus, licenseModel, ...), `terms.OnDemand` and `terms.Reserved` keyed by SKU then offer term, each with
`priceDimensions` (unit "Hrs" or, for an upfront fee, "Quantity"; pricePerUnit.USD) and, for Reserved,
`termAttributes` {LeaseContractLength 1yr|3yr, OfferingClass standard|convertible, PurchaseOption}.
Kept: Linux, shared tenancy, no pre-installed software, capacitystatus Used, no licence (BYOL excluded) — what a
chat backend runs on; Reserved: the standard offering class, the purchase option --upfront names.
"""

from __future__ import annotations

import json

from planner.catalog.importers.common import (ImportedRow, ImportResult, InputFile, Options, PriceFileError, keep,
                                              number, parse_date, price, require, term_hourly, whole)

URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/current/{region}/index.json"
PURCHASE_OPTIONS = {"none": "No Upfront", "partial": "Partial Upfront", "all": "All Upfront"}
CLASSES = {"General purpose": "general", "Compute optimized": "compute", "Memory optimized": "memory"}
BURSTABLE_FAMILIES = ("t",)  # t2/t3/t3a/t4g: general purpose in the file, CPU credits in practice
LINUX_SHARED = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
                "licenseModel": "No License required"}


def reserved_hourly(term: dict, where: str) -> tuple[int, str, float]:
    """(years, purchase option, effective hourly) of one Reserved offer term: the "Quantity" dimension is the upfront
    fee, the "Hrs" dimension the hourly rate; effective hourly = upfront / term hours + hourly."""
    attrs = require(term, "termAttributes", dict, where)
    length = attrs.get("LeaseContractLength")
    if length not in ("1yr", "3yr"):
        raise PriceFileError(f"{where}.termAttributes.LeaseContractLength: expected 1yr or 3yr, got {length!r}")
    upfront = hourly = 0.0
    for key, dim in require(term, "priceDimensions", dict, where).items():
        usd = number(require(dim, "pricePerUnit", dict, f"{where}.{key}").get("USD"), f"{where}.{key}.pricePerUnit.USD")
        unit = dim.get("unit")
        if unit == "Quantity":
            upfront += usd
        elif unit == "Hrs":
            hourly += usd
        else:
            raise PriceFileError(f"{where}.{key}.unit: expected Hrs or Quantity, got {unit!r}")
    return int(length[0]), attrs.get("PurchaseOption", ""), term_hourly(upfront, hourly, int(length[0]))


def _on_demand_hourly(terms: dict, where: str) -> float | None:
    for code, term in terms.items():
        for key, dim in require(term, "priceDimensions", dict, f"{where}.{code}").items():
            if dim.get("unit") == "Hrs":
                return number(require(dim, "pricePerUnit", dict, key).get("USD"), f"{where}.{code}.{key}")
    return None


def _shape(attrs: dict, where: str) -> dict:
    memory = str(attrs.get("memory", ""))
    if not memory.endswith(" GiB"):
        raise PriceFileError(f"{where}.attributes.memory: expected '<n> GiB', got {memory!r}")
    processor = str(attrs.get("physicalProcessor", ""))
    return {"vcpu": int(number(attrs.get("vcpu"), f"{where}.attributes.vcpu")),
            "memory_gib": whole(number(memory[:-4].replace(",", ""), f"{where}.attributes.memory")),
            "arch": "arm64" if "Graviton" in processor or attrs.get("processorArchitecture") == "ARM" else "x86_64"}


def as_offer(data, where: str):
    """A get-products answer ({"FormatVersion": "aws_v1", "PriceList": ["{product, terms, ...}", ...]}) as an offer
    file (products and terms keyed by SKU); an offer file as it is."""
    if not isinstance(data, dict) or "PriceList" not in data:
        return data
    offer = {"offerCode": None, "products": {}, "terms": {"OnDemand": {}, "Reserved": {}}}
    for index, text in enumerate(require(data, "PriceList", list, where)):
        try:
            item = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError as exc:
            raise PriceFileError(f"{where}: PriceList[{index}]: not valid JSON ({exc.msg})") from None
        product = require(item, "product", dict, f"{where}: PriceList[{index}]")
        sku = require(product, "sku", str, f"{where}: PriceList[{index}].product")
        offer["products"][sku] = product
        for kind in ("OnDemand", "Reserved"):
            offer["terms"][kind][sku] = item.get("terms", {}).get(kind, {})
        offer["offerCode"] = item.get("serviceCode")
        offer["publicationDate"] = item.get("publicationDate")
        offer["version"] = item.get("version", "")
    return offer


def parse(files: list[InputFile], options: Options) -> ImportResult:
    rows, skipped, dates, offers = [], {}, [], []
    wanted = PURCHASE_OPTIONS[options.upfront]
    for f in files:
        where = str(f.path)
        f = InputFile(f.path, f.sha256, as_offer(f.data, where))
        if not isinstance(f.data, dict) or f.data.get("offerCode") != "AmazonEC2":
            raise PriceFileError(f"{where}: not an AmazonEC2 offer file (expected offerCode 'AmazonEC2', products, "
                                 "terms; see docs/pricing.md)")
        dates.append(parse_date(require(f.data, "publicationDate", str, where), f"{where}.publicationDate"))
        offers.append(str(f.data.get("version", "")))
        terms = require(f.data, "terms", dict, where)
        on_demand, reserved = terms.get("OnDemand", {}), terms.get("Reserved", {})
        for sku, product in require(f.data, "products", dict, where).items():
            at = f"{where}: products.{sku}"
            attrs = product.get("attributes", {})
            if product.get("productFamily") == "Storage" and attrs.get("volumeApiName") == "gp3":
                rows += _gp3(sku, attrs, on_demand.get(sku, {}), options, at)
                continue
            if product.get("productFamily") != "Compute Instance":
                continue
            if any(attrs.get(k) != v for k, v in LINUX_SHARED.items()):
                continue
            itype = str(attrs.get("instanceType", ""))
            family = itype.split(".")[0]
            region = str(attrs.get("regionCode", ""))
            if not keep(options, region, family):
                continue
            klass = "burstable" if family.startswith(BURSTABLE_FAMILIES) and family[1:2].isdigit() else \
                CLASSES.get(str(attrs.get("instanceFamily")))
            if klass is None:
                what = f"instance family {attrs.get('instanceFamily')!r} (no catalog class)"
                skipped[what] = skipped.get(what, 0) + 1
                continue
            hourly = _on_demand_hourly(on_demand.get(sku, {}), f"{at} terms.OnDemand")
            if not hourly:
                continue  # a SKU without an hourly on-demand price is not offered on demand
            fields = {**_shape(attrs, at), "class": klass, "on_demand_per_hour": price(hourly)}
            for code, term in reserved.get(sku, {}).items():
                years, option, effective = reserved_hourly(term, f"{at} terms.Reserved.{code}")
                if option == wanted and term["termAttributes"].get("OfferingClass") == "standard":
                    fields[f"commit_{years}y_per_hour"] = price(effective)
            rows.append(ImportedRow("compute", region, itype, fields, family=family))
    regions = sorted({r.region for r in rows})
    note = (f"offer version {', '.join(sorted(set(offers)))}; commitments: standard Reserved Instances, {wanted}, "
            "effective hourly = upfront / term hours (8,760 a year) + hourly")
    return ImportResult("aws", rows, options.as_of or min(dates),
                        title=f"AWS Price List bulk offer file AmazonEC2 ({', '.join(f.path.name for f in files)}; "
                              f"{note})",
                        url=URL.format(region=regions[0] if len(regions) == 1 else "REGION"),
                        files=files, skipped=[f"{n} SKUs of {what}" for what, n in sorted(skipped.items())])


def _gp3(sku: str, attrs: dict, terms: dict, options: Options, where: str) -> list[ImportedRow]:
    region = str(attrs.get("regionCode", ""))
    if not keep(options, region):
        return []
    for code, term in terms.items():
        for key, dim in term.get("priceDimensions", {}).items():
            if dim.get("unit") == "GB-Mo":
                usd = number(dim.get("pricePerUnit", {}).get("USD"), f"{where} terms.OnDemand.{code}.{key}")
                return [ImportedRow("block_storage", region, "gp3", {"per_gb_month": price(usd)})]
    return []
