"""A workload's price change (uncertainty.price_change): every catalog price of a category or a provider times 1 + x.

Prices a year from now are not today's: `uncertainty.price_change: {compute: 0.05, aws: -0.1}` plans with compute
5 % dearer and every AWS price 10 % cheaper (a category and a provider change multiply). Each value may be a
distribution (planner.distributions) that `implan uncertainty` samples. The change is applied once, to the loaded
catalog, before any cost is computed: every cost function then sees the changed price, so nothing is priced twice.

Categories, by the catalog rows they scale (every USD figure of the row; quantities and capacities stay):
compute (instance prices, on-demand, committed and spot), storage (block, object, backup), network (internet and
CDN egress, cross-zone and inter-region transfer, transit), load_balancer, servers (server and network-gear capex),
colo (cabinets, rack space, remote hands), power (USD per kWh), saas (every fee of the chat SaaS offers). Labour is
not a catalog price: give labour.usd_per_fte_year a distribution instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from planner.catalog.records import Catalog, ComputeOffering, PrivateSite, PublicRegion, SaasOfferUsd
from planner.errors import WorkloadError

PRICE_CATEGORIES = ("compute", "storage", "network", "load_balancer", "servers", "colo", "power", "saas")

# field-name prefix -> category, for the records that mix categories; "" matches every field
_FIELD_CATEGORIES: dict[type, tuple[tuple[str, str], ...]] = {
    ComputeOffering: (("", "compute"),),
    SaasOfferUsd: (("", "saas"),),
    PublicRegion: (("block_storage_", "storage"), ("object_", "storage"), ("internet_egress", "network"),
                   ("cdn_egress", "network"), ("cross_zone_", "network"), ("inter_region_", "network"),
                   ("load_balancer", "load_balancer")),
    PrivateSite: (("power_", "power"), ("remote_hands_usd", "colo"), ("products", "colo"), ("transit", "network"),
                  ("backup", "storage"), ("servers", "servers"), ("network_gear", "servers")),
}


def _scaled(value: Any, factor: float, name: str) -> Any:
    """`value` with every USD figure in it times `factor`: a float field whose name says usd, recursively through
    nested records (transfer tiers, colo products, SaaS steps) and tuples of them."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return value * factor if "usd" in name else value
    if isinstance(value, tuple):
        return tuple(_scaled(v, factor, name) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _scaled(getattr(value, f.name), factor, f.name)
                                             for f in dataclasses.fields(value)})
    return value


def _category(record_type: type, field: str) -> str | None:
    for prefix, category in _FIELD_CATEGORIES[record_type]:
        if field.startswith(prefix):
            return category
    return None


def _apply(record, changes: dict[str, float]):
    """A SaaS offer's `provider` is the vendor, not a catalog's: SaaS prices change by the saas category only."""
    by_provider = 1.0 if isinstance(record, SaasOfferUsd) else 1 + changes.get(record.provider, 0.0)
    changed = {}
    for f in dataclasses.fields(record):
        factor = (1 + changes.get(_category(type(record), f.name) or "", 0.0)) * by_provider
        if factor != 1:
            changed[f.name] = _scaled(getattr(record, f.name), factor, f.name)
    return dataclasses.replace(record, **changed) if changed else record


def check_price_change(changes: dict[str, float], catalog: Catalog) -> None:
    providers = sorted({c.provider for c in catalog.infos if c.kind != "saas"})
    for key in changes:
        if key not in PRICE_CATEGORIES and key not in providers:
            raise WorkloadError(f"uncertainty.price_change.{key}: not a price category ({', '.join(PRICE_CATEGORIES)})"
                                f" nor a provider of the loaded catalogs ({', '.join(providers)})")


def apply_price_change(catalog: Catalog, changes: dict[str, float]) -> Catalog:
    """The catalog with each category's and provider's prices times 1 + change; the same catalog when none."""
    if not changes:
        return catalog
    check_price_change(changes, catalog)
    if not any(changes.values()):
        return catalog
    return dataclasses.replace(
        catalog, compute=tuple(_apply(c, changes) for c in catalog.compute),
        public_regions=tuple(_apply(r, changes) for r in catalog.public_regions),
        private_sites=tuple(_apply(s, changes) for s in catalog.private_sites),
        saas=tuple(_apply(q, changes) for q in catalog.saas))
