"""AWS Price List bulk offer file for AmazonEC2 (one region's index.json) -> compute rows and gp3 volumes; `parse`
also takes the AmazonS3 (aws_s3), AWSDataTransfer (aws_transfer) and Compute Savings Plans (aws_savings) files of the
same --from directory, told apart by offerCode / terms.savingsPlan.
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

from planner.catalog.importers import aws_offer, aws_s3, aws_savings, aws_transfer
from planner.catalog.importers.common import (ImportedRow, ImportResult, InputFile, Options, PriceFileError, keep,
                                              number, parse_date, price, require, term_hourly, whole)

URL = aws_offer.OFFER_URL.replace("{offer}", "AmazonEC2")
OFFERS = ("AmazonEC2", "AmazonS3", "AWSDataTransfer")
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
    return next((aws_offer.usd(dim, at) for at, dim in aws_offer.dimensions(terms, where) if dim.get("unit") == "Hrs"),
                None)


def _shape(attrs: dict, where: str) -> dict:
    memory = str(attrs.get("memory", ""))
    if not memory.endswith(" GiB"):
        raise PriceFileError(f"{where}.attributes.memory: expected '<n> GiB', got {memory!r}")
    processor = str(attrs.get("physicalProcessor", ""))
    return {"vcpu": int(number(attrs.get("vcpu"), f"{where}.attributes.vcpu")),
            "memory_gib": whole(number(memory[:-4].replace(",", ""), f"{where}.attributes.memory")),
            "arch": "arm64" if "Graviton" in processor or attrs.get("processorArchitecture") == "ARM" else "x86_64"}


def _kind(f: InputFile) -> str:
    if aws_savings.is_savings_plan_file(f.data):
        return "savings_plan"
    offer = f.data.get("offerCode") if isinstance(f.data, dict) else None
    if offer not in OFFERS:
        raise PriceFileError(f"{f.path}: not an AWS offer file the importer reads (expected offerCode "
                             f"{', '.join(repr(o) for o in OFFERS)} with products and terms, or a Compute Savings "
                             "Plans file with terms.savingsPlan; see docs/pricing.md)")
    return offer


def parse(files: list[InputFile], options: Options) -> ImportResult:
    """Rows of every file: EC2 (compute, gp3), S3 (object storage), data transfer (internet tiers, network); the
    Savings Plans files only add commitment prices to EC2 rows."""
    files = [InputFile(f.path, f.sha256, aws_offer.as_offer(f.data, str(f.path))) for f in files]
    kinds = [(_kind(f), f) for f in files]
    dates = [parse_date(require(f.data, "publicationDate", str, str(f.path)), f"{f.path}.publicationDate")
             for _, f in kinds]
    versions = [f"{'ComputeSavingsPlans' if kind == 'savings_plan' else kind} {f.data.get('version', '')}"
                for kind, f in kinds]
    plans: dict[str, dict[int, float]] = {}
    for kind, f in kinds:
        if kind == "savings_plan":
            for sku, rates in aws_savings.no_upfront_rates(f).items():
                plans.setdefault(sku, {}).update(rates)
    rows, skipped, used = [], {}, {"Reserved over Savings Plan": 0}  # plan rates not used
    for kind, f in kinds:
        if kind == "AmazonEC2":
            rows += _ec2_rows(f, options, plans, skipped, used)
        elif kind == "AmazonS3":
            rows += aws_s3.rows(f, options)
        elif kind == "AWSDataTransfer":
            rows += aws_transfer.rows(f, options)
    if plans and not any(k == "AmazonEC2" for k, _ in kinds):
        raise PriceFileError(f"{kinds[0][1].path}: a Savings Plans file prices EC2 SKUs of the AmazonEC2 offer file: "
                             "give both in the --from directory")
    wanted = PURCHASE_OPTIONS[options.upfront]
    note = (f"offer versions {', '.join(sorted(set(versions)))}; commitments: standard Reserved Instances, {wanted}, "
            "effective hourly = upfront / term hours (8,760 a year) + hourly"
            + ("; Compute Savings Plans No Upfront where lower or no such Reserved term is listed" if plans else ""))
    offers = sorted({k for k, _ in kinds})
    regions = sorted({r.region for r in rows})
    region = regions[0] if len(regions) == 1 else "REGION"
    url = aws_savings.URL.format(region=region) if offers == ["savings_plan"] else \
        aws_offer.OFFER_URL.format(offer=offers[0] if len(offers) == 1 else "OFFER", region=region)
    notes = [f"{n} SKUs of {what}" for what, n in sorted(skipped.items())]
    if used["Reserved over Savings Plan"]:
        notes.append(f"{used['Reserved over Savings Plan']} Compute Savings Plan rate(s) not used: the standard "
                     "Reserved rate of the same term is as low or lower (docs/pricing.md)")
    names = ", ".join("Compute Savings Plans" if o == "savings_plan" else o for o in offers)
    return ImportResult("aws", rows, options.as_of or min(dates),
                        title=f"AWS Price List bulk offer file {names} ({', '.join(f.path.name for f in files)}; "
                              f"{note})",
                        url=url, files=files, skipped=notes)


def _ec2_rows(f: InputFile, options: Options, plans: dict[str, dict[int, float]], skipped: dict,
              used: dict) -> list[ImportedRow]:
    """Compute rows (Linux, shared, no software) and gp3 of one AmazonEC2 offer file."""
    rows, where = [], str(f.path)
    wanted = PURCHASE_OPTIONS[options.upfront]
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
        rows.append(ImportedRow("compute", region, itype, fields, family=family,
                                note=_savings_plan(fields, plans.get(sku, {}), options, used)))
    return rows


def _savings_plan(fields: dict, rates: dict[int, float], options: Options, used: dict) -> str:
    """The SKU's Compute Savings Plan rates (No Upfront only: --upfront none) as commitment prices where the Reserved
    terms give none or a higher one: the lower published rate for the same commitment wins (docs/pricing.md)."""
    if options.upfront != "none":
        return ""
    parts = []
    for years, rate in sorted(rates.items()):
        field = f"commit_{years}y_per_hour"
        reserved = fields.get(field)
        if reserved is not None and reserved <= price(rate):
            used["Reserved over Savings Plan"] += 1
            continue
        fields[field] = price(rate)
        why = "no standard Reserved term in the file" if reserved is None else \
            f"below the standard Reserved {reserved:g}"
        parts.append(f"{field}: Compute Savings Plan, No Upfront ({why})")
    return "; ".join(parts)


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
