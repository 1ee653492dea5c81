"""Azure Retail Prices API pages (GET https://prices.azure.com/api/retail/prices, JSON) -> compute prices.

Format: https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices — each page has
`Items[]` (currencyCode, retailPrice, unitPrice, armRegionName, armSkuName, meterName, productName, skuName,
serviceName, unitOfMeasure, type Consumption|Reservation|DevTestConsumption, reservationTerm "1 Year"|"3 Years")
and `NextPageLink` (null on the last page). Save each page as a file and give the directory.
Kept: serviceName "Virtual Machines", Linux (productName without "Windows"), type Consumption (pay-as-you-go; with
"Spot" in meterName: spot; "Low Priority" left out) and Reservation (priced for the whole term: / term hours).
The API has no machine shapes: prices go to the VM sizes (armSkuName) the catalog lists.
"""

from __future__ import annotations

from planner.catalog.importers.common import (HOURS_PER_YEAR, ImportedRow, ImportResult, InputFile, Options,
                                              PriceFileError, keep, number, price, require)

URL = "https://prices.azure.com/api/retail/prices?$filter=serviceName eq 'Virtual Machines'"
TERMS = {"1 Year": 1, "3 Years": 3}


def reservation_hourly(term_price: float, years: int) -> float:
    """A reservation item's price is for the whole term (unitOfMeasure says "1 Hour" regardless)."""
    return term_price / (years * HOURS_PER_YEAR)


def _field(item: dict) -> tuple[str, float] | None:
    """(catalog field, hourly price) of one item, None for items the catalog has no field for."""
    where = f"item {item.get('meterId', '?')}"
    kind, meter = item.get("type"), str(item.get("meterName", ""))
    value = number(item.get("unitPrice", item.get("retailPrice")), f"{where}.unitPrice")
    if kind == "Consumption" and "Low Priority" not in meter:
        if item.get("unitOfMeasure") != "1 Hour":
            raise PriceFileError(f"{where}: unitOfMeasure {item.get('unitOfMeasure')!r}, expected '1 Hour'")
        return ("spot_per_hour" if "Spot" in meter else "on_demand_per_hour"), value
    if kind == "Reservation" and item.get("reservationTerm") in TERMS:
        years = TERMS[item["reservationTerm"]]
        return f"commit_{years}y_per_hour", reservation_hourly(value, years)
    return None


def parse(files: list[InputFile], options: Options) -> ImportResult:
    if options.as_of is None:
        raise PriceFileError("azure: the Retail Prices pages carry no retrieval date: give --as-of DATE (the day "
                             "you downloaded them)")
    prices: dict[tuple[str, str], dict[str, float]] = {}
    currencies: dict[tuple[str, str], str] = {}
    for f in files:
        items = require(f.data, "Items", list, str(f.path))
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise PriceFileError(f"{f.path}: Items[{index}]: expected an object")
            if item.get("serviceName") != "Virtual Machines" or "Windows" in str(item.get("productName", "")):
                continue
            region, sku = str(item.get("armRegionName", "")), str(item.get("armSkuName", ""))
            if not sku or not keep(options, region):
                continue
            got = _field(item)
            if got is None:
                continue
            key = (region, sku)
            prices.setdefault(key, {})[got[0]] = price(got[1])
            currencies[key] = str(item.get("currencyCode", "USD"))
    rows = [ImportedRow("compute", region, sku, fields, currency=currencies[(region, sku)], needs_shape=True)
            for (region, sku), fields in sorted(prices.items()) if "on_demand_per_hour" in fields]
    return ImportResult("azure", rows, options.as_of,
                        title=f"Azure Retail Prices API, Virtual Machines, Linux ({len(files)} page(s): "
                              f"{', '.join(f.path.name for f in files)}; reservations / term hours (8,760 a year))",
                        url=URL, files=files,
                        skipped=[f"{len(prices) - len(rows)} VM sizes with reservation or spot prices but no "
                                 "pay-as-you-go price"] if len(prices) > len(rows) else [])
