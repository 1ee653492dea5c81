"""Hetzner Cloud API pricing (GET https://api.hetzner.cloud/v1/pricing, JSON) -> servers, load balancers, volumes
and traffic of each network zone.

Format: https://docs.hetzner.cloud/#pricing-get-all-prices — `pricing` {currency, vat_rate, volume
{price_per_gb_month}, primary_ips[] {type, prices[] {location, price_hourly, price_monthly}}, floating_ips[],
server_types[] / load_balancer_types[] {name, prices[] {location, price_hourly, price_monthly, included_traffic
(bytes), price_per_tb_traffic}}}; every price is {net, gross} as decimal strings in `currency`: the net figure (VAT
excluded) is used, as in every catalog. The catalog's regions are network zones (eu-central = fsn1, nbg1, hel1), so
the directory must also hold GET /v1/locations (locations[] {name, network_zone}); GET /v1/server_types
(server_types[] {name, cores, memory, architecture, cpu_type}) is optional and gives new types their shape.
A server is priced as its monthly cap plus the location's primary IPv4 / 730 h (what an always-on, reachable server
pays; the catalog's convention), the highest figure of the zone's locations when they differ.
"""

from __future__ import annotations

import re

from planner.catalog.importers.common import (ImportedRow, ImportResult, InputFile, Options, PriceFileError, keep,
                                              monthly_to_hourly, number, price, require, whole)
from planner.units import BYTES_PER_GB, GB_PER_TB, HOURS_PER_MONTH

URL = "https://api.hetzner.cloud/v1/pricing"
VOLUME_NAME = "cloud-volume"  # the block_storage row name of the Hetzner catalog


def net(value: dict, where: str) -> float:
    """The price without VAT: Hetzner gives {net, gross} and gross adds the buyer's VAT rate."""
    return number(require(value, "net", str, where), f"{where}.net")


def _by_key(files: list[InputFile], key: str) -> InputFile | None:
    return next((f for f in files if isinstance(f.data, dict) and key in f.data), None)


def _zones(files: list[InputFile]) -> dict[str, str]:
    found = _by_key(files, "locations")
    if found is None:
        raise PriceFileError("hetzner: --from needs a directory with the pricing JSON and GET /v1/locations "
                             "(locations[] with network_zone), which maps locations to the catalog's regions")
    return {str(loc.get("name")): str(loc.get("network_zone"))
            for loc in require(found.data, "locations", list, str(found.path))}


def _shapes(files: list[InputFile]) -> dict[str, dict]:
    found = _by_key(files, "server_types")
    if found is None:
        return {}
    out = {}
    for t in require(found.data, "server_types", list, str(found.path)):
        arch = "arm64" if str(t.get("architecture")).startswith("arm") else "x86_64"
        out[str(t["name"])] = {"vcpu": int(t["cores"]), "memory_gib": whole(float(t["memory"])), "arch": arch,
                               "class": "dedicated" if t.get("cpu_type") == "dedicated" else "general"}
    return out


def _per_zone(prices: list[dict], zones: dict[str, str], options: Options, where: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for p in prices:
        zone = zones.get(str(p.get("location")))
        if zone is None:
            raise PriceFileError(f"{where}: location {p.get('location')!r} is not in the locations file")
        if keep(options, zone):
            out.setdefault(zone, []).append(p)
    return out


def _highest(values: dict[str, float]) -> tuple[float, str]:
    """The highest figure of a zone's locations, and a note when the locations differ."""
    top = max(values.values())
    differs = len(set(values.values())) > 1
    return top, ("locations differ (" + ", ".join(f"{k} {v:g}" for k, v in sorted(values.items())) +
                 "); the highest is used") if differs else ""


def parse(files: list[InputFile], options: Options) -> ImportResult:
    if options.as_of is None:
        raise PriceFileError("hetzner: the pricing response carries no date: give --as-of DATE (the day you "
                             "fetched it)")
    found = _by_key(files, "pricing")
    if found is None:
        raise PriceFileError("hetzner: no pricing JSON among the inputs (expected an object with a 'pricing' key, "
                             "the GET /v1/pricing response)")
    where = f"{found.path}: pricing"
    pricing = require(found.data, "pricing", dict, str(found.path))
    currency = require(pricing, "currency", str, where)
    zones, shapes = _zones(files), _shapes(files)
    ipv4 = {str(p["location"]): net(p["price_monthly"], f"{where}.primary_ips")
            for ip in pricing.get("primary_ips", []) if ip.get("type") == "ipv4" for p in ip.get("prices", [])}
    rows, traffic = [], {}
    for st in require(pricing, "server_types", list, where):
        name = str(st.get("name"))
        family = re.match(r"[a-z]*", name).group(0) or name  # cx33 -> cx, the family the catalog names
        if options.families is not None and family not in options.families:
            continue
        for zone, prices in _per_zone(st.get("prices", []), zones, options, f"{where}.server_types.{name}").items():
            monthly = {p["location"]: net(p["price_monthly"], f"{where}.server_types.{name}") +
                       ipv4.get(p["location"], 0.0) for p in prices}
            top, differs = _highest(monthly)
            included_gb = min(int(p.get("included_traffic", 0)) for p in prices) / BYTES_PER_GB
            for p in prices:
                traffic.setdefault(zone, {})[p["location"]] = net(p["price_per_tb_traffic"], f"{where}.{name}")
            fields = {"on_demand_per_hour": price(monthly_to_hourly(top)),
                      "included_egress_gb_per_month": round(included_gb)}
            basis = (f"{top:.2f} {currency}/month net (server price_monthly + primary IPv4) / 730 h; Hetzner bills "
                     "the lower of hourly rate x hours and the monthly cap, so an always-on server costs the cap")
            shape = shapes.get(name)
            rows.append(ImportedRow("compute", zone, name, {**fields, **(shape or {})}, family=family,
                                    currency=currency, estimates={"on_demand_per_hour": basis}, note=differs,
                                    needs_shape=shape is None))
    for lb in pricing.get("load_balancer_types", []):
        name = str(lb.get("name"))
        for zone, prices in _per_zone(lb.get("prices", []), zones, options, f"{where}.load_balancer_types").items():
            top, differs = _highest({p["location"]: net(p["price_monthly"], f"{where}.{name}") for p in prices})
            included_gb = min(int(p.get("included_traffic", 0)) for p in prices) / BYTES_PER_GB
            rows.append(ImportedRow(
                "load_balancers", zone, name,
                {"per_hour": 0, "per_capacity_unit_hour": price(monthly_to_hourly(top)),
                 "unit_gb_per_hour": round(included_gb / HOURS_PER_MONTH, 2), "fixed_size": True},
                currency=currency, note=differs, needs_shape=True,
                estimates={"per_capacity_unit_hour": f"{top:.2f} {currency}/month net / 730 h (one unit = one LB)",
                           "unit_gb_per_hour": "included traffic spread over the month (730 h)"}))
    for zone, by_location in sorted(traffic.items()):
        top, differs = _highest(by_location)
        rows.append(ImportedRow("transfer", zone, "internet", {"tiers": [{"per_gb": price(top / GB_PER_TB)}]},
                                currency=currency, note=differs,
                                estimates={"tiers": f"{top:g} {currency}/TB beyond the included traffic / 1000 GB "
                                                    "per TB"}))
        volume = net(require(require(pricing, "volume", dict, where), "price_per_gb_month", dict, f"{where}.volume"),
                     f"{where}.volume.price_per_gb_month")
        rows.append(ImportedRow("block_storage", zone, VOLUME_NAME, {"per_gb_month": price(volume)},
                                currency=currency))
    skipped = ["floating IPs and images (no catalog field; the primary IPv4 is added to each server's price)"]
    return ImportResult("hetzner", rows, options.as_of,
                        title=f"Hetzner Cloud API GET /v1/pricing ({found.path.name}), net of VAT (vat_rate "
                              f"{pricing.get('vat_rate', '?')} not applied), {currency}",
                        url=URL, files=files, skipped=skipped)
