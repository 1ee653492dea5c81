"""What identifies a catalog row and which of its fields are prices, and the price changes between two versions of
a row: shared by `pricing import` (the change report of a merge) and `pricing diff` (two catalog directories)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# section -> the fields that identify a row within one catalog file (load balancer and colo names are free text:
# their first word, the provider's product name such as "lb11", identifies them)
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "compute": ("region", "type"), "block_storage": ("region", "name"),
    "object_storage": ("region", "storage_class"), "transfer": ("region", "kind"), "network": ("region",),
    "load_balancers": ("region", "name"), "servers": ("sku",), "facilities": ("region",),
    "colo_products": ("region", "name"), "transit": ("region", "name"), "backup": ("region", "name"),
    "hardware_support": (), "network_gear": ("name",), "saas": ("provider", "plan"),
    "serverless": ("offer", "region", "meter"),
}
FIRST_WORD_NAMES = ("load_balancers",)

# section -> its price fields, in the file's currency; lists of tiers or steps are compared element by element
PRICE_FIELDS: dict[str, tuple[str, ...]] = {
    "compute": ("on_demand_per_hour", "commit_1y_per_hour", "commit_3y_per_hour", "spot_per_hour"),
    "block_storage": ("per_gb_month",),
    "object_storage": ("per_gb_month", "put_per_1k", "get_per_1k", "retrieval_per_gb"),
    "transfer": ("tiers",), "network": ("cross_zone_per_gb", "inter_region_per_gb"),
    "load_balancers": ("per_hour", "per_capacity_unit_hour"), "servers": ("capex",),
    "facilities": ("power_per_kwh", "remote_hands_per_hour"), "colo_products": ("per_month", "extra_kw_per_month"),
    "transit": ("per_mbps_month", "cross_connect_per_month"), "backup": ("per_gb_month",),
    "hardware_support": ("percent_of_capex_per_year",), "network_gear": ("capex",),
    "saas": ("base_per_month", "steps", "storage_per_gb_month", "bandwidth_per_gb",
             "per_concurrent_connection_month", "per_million_messages", "per_million_deliveries",
             "message_storage_per_gb_month", "stored_message_tiers", "retention_extra_per_gb_month"),
    "serverless": ("price", "tiers"),
}
_LIST_PRICE = ("per_gb", "per_unit", "per_million", "price")  # the price of one tier or step


def row_key(section: str, row: dict) -> str:
    parts = []
    for name in ROW_KEYS[section]:
        value = str(row.get(name, ""))
        parts.append(value.split()[0] if name == "name" and section in FIRST_WORD_NAMES and value else value)
    return "/".join(parts) or section


def prices(section: str, row: dict) -> dict[str, float]:
    """The row's prices by field (tiers and steps as field[i]); absent optional prices are left out."""
    out: dict[str, float] = {}
    for name in PRICE_FIELDS[section]:
        value = row.get(name)
        if isinstance(value, list):
            for i, item in enumerate(value):
                price = next((item[k] for k in _LIST_PRICE if isinstance(item, dict) and k in item), None)
                if price is not None:
                    out[f"{name}[{i}]"] = float(price)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


@dataclass(frozen=True)
class PriceChange:
    field: str
    old: float | None  # None: the row had no such price
    new: float | None

    @property
    def percent(self) -> float | None:
        if self.old is None or self.new is None or self.old == 0:
            return None
        return (self.new - self.old) / self.old * 100

    def text(self) -> str:
        fmt = lambda v: "-" if v is None else f"{v:.10g}"  # noqa: E731  (3.10778 -> 3.107776 must show)
        pct = "" if self.percent is None else f" ({self.percent:+.2f}%)"
        return f"{self.field} {fmt(self.old)} -> {fmt(self.new)}{pct}"


def price_changes(section: str, old: dict, new: dict) -> list[PriceChange]:
    a, b = prices(section, old), prices(section, new)
    return [PriceChange(f, a.get(f), b.get(f)) for f in list(a) + [f for f in b if f not in a]
            if a.get(f) != b.get(f)]


@dataclass(frozen=True)
class RowChange:
    change: str  # added | changed | removed
    section: str
    key: str
    currency: str
    prices: tuple[PriceChange, ...] = ()  # changed: what moved; added / removed: the row's prices

    def text(self) -> str:
        head = f"{self.change:<8} {self.section} {self.key}"
        if self.change == "changed":
            return f"{head}: " + "; ".join(p.text() for p in self.prices) + f" {self.currency}"
        return head + (": " + ", ".join(f"{p.field} {(p.new if p.new is not None else p.old):.10g}"
                                         for p in self.prices) + f" {self.currency}" if self.prices else "")

    def as_dict(self) -> dict[str, Any]:
        return {"change": self.change, "section": self.section, "key": self.key, "currency": self.currency,
                "prices": [{"field": p.field, "old": p.old, "new": p.new,
                            "change_pct": None if p.percent is None else round(p.percent, 2)} for p in self.prices]}


def diff_sections(old: dict[str, dict[str, dict]], new: dict[str, dict[str, dict]], currency_of) -> list[RowChange]:
    """Changes between two {section: {key: row}} maps; currency_of(row) names the currency of a row's prices."""
    out = []
    for section in ROW_KEYS:
        a, b = old.get(section, {}), new.get(section, {})
        for key in list(a) + [k for k in b if k not in a]:
            x, y = a.get(key), b.get(key)
            if x is None:
                out.append(RowChange("added", section, key, currency_of(y),
                                     tuple(PriceChange(f, None, v) for f, v in prices(section, y).items())))
            elif y is None:
                out.append(RowChange("removed", section, key, currency_of(x),
                                     tuple(PriceChange(f, v, None) for f, v in prices(section, x).items())))
            else:
                moved = price_changes(section, x, y)
                if moved or currency_of(x) != currency_of(y):
                    out.append(RowChange("changed", section, key, f"{currency_of(x)}->{currency_of(y)}"
                                         if currency_of(x) != currency_of(y) else currency_of(y), tuple(moved)))
    return out


def rows_by_key(catalog: dict) -> dict[str, dict[str, dict]]:
    """{section: {key: row}} of one catalog file's raw data."""
    return {section: {row_key(section, row): row for row in catalog.get(section) or []} for section in ROW_KEYS}
