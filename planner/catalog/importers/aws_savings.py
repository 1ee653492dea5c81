"""AWS Compute Savings Plans price list (one region's index.json) -> the 1-year and 3-year No Upfront rate of each
EC2 SKU it discounts, for the AmazonEC2 importer to use where the offer file has no standard Reserved term of that
length or a higher one.

Format: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-savings-plans.html
— `version`, `publicationDate`, `regionCode`, `products[]` {sku, productFamily (ComputeSavingsPlans,
EC2InstanceSavingsPlans, ...), serviceCode, attributes {purchaseOption, granularity, usageType
"ComputeSP:1yrNoUpfront", ...}}, `terms.savingsPlan[]` {sku (the plan's product), description, effectiveDate,
leaseContractLength {duration, unit "year"}, rates[] {discountedSku (the AmazonEC2 product SKU), discountedUsageType,
discountedOperation, discountedServiceCode, rateCode, unit "Hrs", discountedRate {price, currency}}}.
Only Compute Savings Plans with purchaseOption "No Upfront" are read (the catalogs' commitment convention); the
discountedRate is what one hour of that SKU costs under the plan.
"""

from __future__ import annotations

from planner.catalog.importers.common import InputFile, PriceFileError, number, require

URL = "https://pricing.us-east-1.amazonaws.com/savingsPlan/v1.0/aws/AWSComputeSavingsPlan/current/{region}/index.json"
PLAN_FAMILY = "ComputeSavingsPlans"
PURCHASE_OPTION = "No Upfront"


def is_savings_plan_file(data) -> bool:
    return isinstance(data, dict) and isinstance((data.get("terms") or {}).get("savingsPlan"), list)


def _years(term: dict, where: str) -> int:
    length = require(term, "leaseContractLength", dict, where)
    duration, unit = length.get("duration"), str(length.get("unit", "")).lower()
    if unit not in ("year", "years") or str(duration) not in ("1", "3"):
        raise PriceFileError(f"{where}.leaseContractLength: expected 1 or 3 years, got {duration!r} {unit!r}")
    return int(duration)


def no_upfront_rates(f: InputFile) -> dict[str, dict[int, float]]:
    """{EC2 SKU: {years: USD per hour}} of the file's Compute Savings Plans, No Upfront."""
    where = str(f.path)
    plans = {str(p.get("sku")) for p in require(f.data, "products", list, where)
             if isinstance(p, dict) and p.get("productFamily") == PLAN_FAMILY
             and (p.get("attributes") or {}).get("purchaseOption") == PURCHASE_OPTION}
    out: dict[str, dict[int, float]] = {}
    for index, term in enumerate(require(require(f.data, "terms", dict, where), "savingsPlan", list, where)):
        at = f"{where}: terms.savingsPlan[{index}]"
        if not isinstance(term, dict) or term.get("sku") not in plans:
            continue
        years = _years(term, at)
        for n, rate in enumerate(require(term, "rates", list, at)):
            if rate.get("discountedServiceCode") != "AmazonEC2" or rate.get("unit") != "Hrs":
                continue
            money = require(rate, "discountedRate", dict, f"{at}.rates[{n}]")
            if money.get("currency") != "USD":
                raise PriceFileError(f"{at}.rates[{n}].discountedRate.currency: expected USD, got "
                                     f"{money.get('currency')!r}")
            out.setdefault(str(rate.get("discountedSku")), {})[years] = number(
                money.get("price"), f"{at}.rates[{n}].discountedRate.price")
    return out
