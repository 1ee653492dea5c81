"""What the AWS Price List files of every service share: the offer file's shape (`products` keyed by SKU,
`terms.OnDemand` keyed by SKU then offer term, each term's `priceDimensions` with unit, pricePerUnit.USD and, for
tiered prices, beginRange / endRange), the get-products answer that holds the same per SKU, and usage types.

Format: https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html
"""

from __future__ import annotations

import json
import re

from planner.catalog.importers.common import PriceFileError, number, require

OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}[0-9]*-")  # "EUC1-TimedStorage-ByteHrs"; us-east-1 has none


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


def usage(attrs: dict) -> str:
    """The usage type without its region prefix: "EUC1-Requests-Tier1" -> "Requests-Tier1"."""
    return _REGION_PREFIX.sub("", str(attrs.get("usagetype", "")))


def dimensions(terms: dict, where: str) -> list[tuple[str, dict]]:
    """(where, dimension) of every price dimension of one SKU's on-demand terms, lowest beginRange first."""
    out = []
    for code, term in terms.items():
        for key, dim in require(term, "priceDimensions", dict, f"{where}.{code}").items():
            out.append((f"{where}.{code}.{key}", dim))
    return sorted(out, key=lambda d: _bound(d[1].get("beginRange", "0"), f"{d[0]}.beginRange"))


def usd(dim: dict, where: str) -> float:
    return number(require(dim, "pricePerUnit", dict, where).get("USD"), f"{where}.pricePerUnit.USD")


def _bound(text, where: str) -> float:
    return float("inf") if text == "Inf" else number(text, where)


def graduated(terms: dict, unit: str, where: str) -> list[tuple[float | None, float]]:
    """(endRange in `unit`, None for "Inf"; price) of each tier of a tiered on-demand price, checked to start at 0 and
    to follow on without gaps: the file's beginRange / endRange are the tier bounds of one month's usage."""
    tiers, start = [], 0.0
    for at, dim in dimensions(terms, where):
        if dim.get("unit") != unit:
            raise PriceFileError(f"{at}.unit: expected {unit!r}, got {dim.get('unit')!r}")
        begin, end = _bound(dim.get("beginRange", "0"), f"{at}.beginRange"), _bound(dim.get("endRange", "Inf"),
                                                                                   f"{at}.endRange")
        if begin != start or end <= begin:
            raise PriceFileError(f"{at}: tier {dim.get('beginRange')}-{dim.get('endRange')} does not follow on from "
                                 f"{start:g} (expected contiguous beginRange/endRange from 0)")
        tiers.append((None if end == float("inf") else end, usd(dim, at)))
        start = end
    if not tiers or tiers[-1][0] is not None:
        raise PriceFileError(f"{where}: the last tier must end at 'Inf' (got {tiers[-1][0] if tiers else 'no tier'})")
    return tiers


def flat(terms: dict, unit: str, where: str) -> float:
    """The one price of an untiered on-demand price in `unit`."""
    dims = dimensions(terms, where)
    if len(dims) != 1 or dims[0][1].get("unit") != unit:
        raise PriceFileError(f"{where}: expected one price dimension per {unit!r}, got "
                             f"{[d.get('unit') for _, d in dims]}")
    return usd(dims[0][1], dims[0][0])
