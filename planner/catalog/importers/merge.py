"""Merge imported rows into a catalog file without losing what people keep by hand, and say what changed.

Rules (docs/pricing.md): an imported row replaces the price fields it sets on the catalog's row of the same key and
keeps every other field; a price the file does not give (AWS offer files have no spot prices) stays, with its
estimate mark, and the note says which source it is kept from. Estimate marks of fields the import sets are dropped
(the figure is now published). Hand-written note text is kept; the parts the import writes start with "import: " or
"kept from " and are rewritten on every import. Rows the import does not cover (other regions, other families,
other sections, other transfer kinds) are left as they are; a covered row the file no longer lists is removed and
reported. Transfer tiers the file counts beyond a free allowance it does not list (AWS) keep the catalog's free first
tier in front of them, noted as kept.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from planner.catalog.importers.common import ImportedRow, ImportResult, Options, PriceFileError, after_free_tier
from planner.catalog.rowdiff import PRICE_FIELDS, ROW_KEYS, RowChange, diff_sections, row_key, rows_by_key

NOTE_SEPARATOR = " | "
IMPORT_PREFIX, KEPT_PREFIX = "import: ", "kept from "
_KEPT = re.compile(r"^kept from (?P<source>\S+) \((?P<as_of>[0-9-]+)\): (?P<fields>.+)$")
# the catalog field ImportedRow.name fills, per section (None: the region alone identifies the row)
IDENTITY = {"compute": "type", "block_storage": "name", "object_storage": "storage_class", "load_balancers": "name",
            "transfer": "kind", "network": None}
FREE_TIER = "tiers[0]"  # how a kept free first tier is named in the note
SHAPE_FIELDS = ("family", "class", "arch", "vcpu", "memory_gib")
# the order rows are written in: the schema's field order, the rest after
FIELD_ORDER = ("type", "sku", "region", "name", "kind", "storage_class", "family", "class", "arch", "vcpu",
               "memory_gib", "on_demand_per_hour", "commit_1y_per_hour", "commit_3y_per_hour", "spot_per_hour",
               "included_egress_gb_per_month", "per_gb_month", "per_hour", "per_capacity_unit_hour",
               "unit_active_connections", "unit_new_connections_per_s", "unit_gb_per_hour", "fixed_size", "put_per_1k", "get_per_1k",
               "retrieval_per_gb", "min_storage_days", "cross_zone_per_gb", "inter_region_per_gb", "tiers", "currency",
               "as_of", "source", "note", "estimates")


@dataclass
class MergeResult:
    catalog: dict
    changes: list[RowChange]
    imported: int  # rows the files priced that are in the output
    untouched: int  # rows of the catalog the import does not cover, left as they were
    source_key: str
    skipped: list[str] = field(default_factory=list)


def source_key(result: ImportResult) -> str:
    """One source per import: rows of earlier imports keep pointing at the files they came from."""
    digest = hashlib.sha256("".join(f.sha256 for f in result.files).encode()).hexdigest()[:8]
    return f"{result.provider}_import_{digest}"


def _index(rows: list[dict], section: str) -> dict[str, dict]:
    return {row_key(section, row): row for row in rows}


def _with_shapes(result: ImportResult, base: dict, options: Options) -> tuple[list[ImportedRow], list[str]]:
    """Expand per-unit rows to machine types, take shapes from the catalog's rows, apply --families and drop rows of
    regions the catalog does not declare (their jurisdiction and failure domains are not in any price file)."""
    rows, skipped = [], []
    if result.expand is not None:
        expanded = [r for row in result.rows for r in result.expand(row, base.get("compute") or [])]
        if result.rows and not expanded:
            skipped.append(f"{len(result.rows)} series rate(s): the catalog lists no machine type of those series "
                           "and regions")
        candidates = expanded
    else:
        candidates = result.rows
    no_shape = []
    indexes = {section: _index(base.get(section) or [], section) for section in IDENTITY}
    declared = {r["id"] for r in base.get("regions") or []}
    undeclared = set()
    for row in candidates:
        if row.region not in declared:
            undeclared.add(row.region)
            continue
        if row.needs_shape:
            match = indexes[row.section].get(_key(row))
            if match is None:
                no_shape.append(f"{row.region}/{row.name}")
                continue
            row.family = row.family or str(match.get("family", ""))
        if row.section == "compute" and options.families is not None and row.family not in options.families:
            continue
        rows.append(row)
    if undeclared:
        skipped.append(f"rows of region(s) {', '.join(sorted(undeclared))}: not declared under regions: in the "
                       "catalog (add each with its jurisdiction and failure domains first)")
    if no_shape:
        skipped.append(f"{len(no_shape)} row(s) the file prices but the catalog does not list (the file has no "
                       f"shape for them; add them by hand first): {', '.join(sorted(no_shape)[:8])}"
                       + (" ..." if len(no_shape) > 8 else ""))
    return rows, skipped


def _key(row: ImportedRow) -> str:
    identity = IDENTITY[row.section]
    return row_key(row.section, {"region": row.region} | ({identity: row.name} if identity else {}))


def _scope(section: str, region, sub) -> tuple:
    """What an import covers: compute rows by region and family, transfer rows by region and kind (an egress import
    leaves the CDN rows alone), the other sections by region."""
    return section, region, sub if section in ("compute", "transfer") else ""


def _free_tier(old: dict | None, row: ImportedRow) -> dict | None:
    """The catalog row's free first tier, to keep in front of tiers that the file counts beyond it."""
    tiers = (old or {}).get("tiers") or []
    if not row.beyond_free_tier or not tiers or tiers[0].get("per_gb") != 0 or tiers[0].get("up_to_gb") is None:
        return None
    return None if row.fields["tiers"][0]["per_gb"] == 0 else tiers[0]  # a file with its own free tier: as it is


def _kept_note(old: dict, kept: list[str], sources: dict, default_as_of) -> list[str]:
    """"kept from SOURCE (DATE): fields" parts: carried over from the old note for fields still kept, new ones for
    fields the old row's own source priced."""
    parts, covered = [], set()
    for part in str(old.get("note", "")).split(NOTE_SEPARATOR):
        m = _KEPT.match(part)
        if m:
            still = [f for f in m["fields"].split(", ") if f in kept]
            if still:
                parts.append(f"{KEPT_PREFIX}{m['source']} ({m['as_of']}): {', '.join(still)}")
                covered.update(still)
    rest = [f for f in kept if f not in covered]
    if rest:
        as_of = old.get("as_of") or sources.get(old.get("source"), {}).get("as_of") or default_as_of
        parts.append(f"{KEPT_PREFIX}{old.get('source')} ({as_of}): {', '.join(rest)}")
    return parts


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _merged_row(row: ImportedRow, old: dict | None, key: str, result: ImportResult, catalog: dict,
                dropped: list[str]) -> dict:
    new: dict[str, Any] = copy.deepcopy(old) if old else {}
    if old is None:
        new.update(({IDENTITY[row.section]: row.name} if IDENTITY[row.section] else {}) | {"region": row.region})
        if row.section == "compute":
            new["family"] = row.family
            missing = [f for f in SHAPE_FIELDS if f not in new and f not in row.fields]
            if missing:
                raise PriceFileError(f"{key}: the file gives no {', '.join(missing)} for a new row")
    new.update(copy.deepcopy(row.fields))
    free = _free_tier(old, row)
    if free is not None:
        new["tiers"] = after_free_tier(free["up_to_gb"], new["tiers"])
    base_currency = catalog.get("currency", "USD")
    old_currency = (old or {}).get("currency") or base_currency
    kept = [f for f in PRICE_FIELDS[row.section] if old and f in old and f not in row.fields]
    if kept and old_currency != row.currency:  # a figure in another currency cannot stay beside the new ones
        for f in kept:
            new.pop(f, None)
        dropped.append(f"{key}: {', '.join(kept)} dropped (priced in {old_currency}, the file in {row.currency})")
        kept = []
    estimates = {f: why for f, why in (old or {}).get("estimates", {}).items() if f not in row.fields}
    estimates.update(row.estimates)
    new.pop("estimates", None)
    if estimates:
        new["estimates"] = estimates
    kept_parts = _kept_note(old or {}, kept + ([FREE_TIER] if free is not None else []), catalog.get("sources", {}),
                            result.as_of)
    hand = [p for p in str((old or {}).get("note", "")).split(NOTE_SEPARATOR)
            if p.strip() and not p.startswith((IMPORT_PREFIX, KEPT_PREFIX))]
    note = NOTE_SEPARATOR.join(([IMPORT_PREFIX + row.note] if row.note else []) + kept_parts + hand)
    new.pop("note", None)
    if note:
        new["note"] = note
    # a kept figure is as old as its source: the row is judged by its oldest price
    dates = [result.as_of] + [_as_date(_KEPT.match(p)["as_of"]) for p in kept_parts]
    new["as_of"] = min(dates)
    new["currency"] = row.currency
    new["source"] = source_key(result)
    return {k: new[k] for k in FIELD_ORDER if k in new} | {k: v for k, v in new.items() if k not in FIELD_ORDER}


def merge(base: dict, result: ImportResult, options: Options, today: dt.date) -> MergeResult:
    """The catalog `base` (raw YAML data, schema-checked) with the import merged in; `base` is not modified."""
    if base.get("provider") != result.provider:
        raise PriceFileError(f"the catalog is for provider {base.get('provider')!r}, the import for "
                             f"{result.provider!r}: give --out the {result.provider} catalog")
    rows, skipped = _with_shapes(result, base, options)
    skipped = result.skipped + skipped
    if not rows:
        raise PriceFileError(f"{result.provider}: nothing to import: " + ("; ".join(skipped) or
                                                                         "no product of the file passes the filters"))
    catalog = copy.deepcopy(base)
    key = source_key(result)
    imported: dict[str, dict[str, ImportedRow]] = {}
    for row in rows:
        imported.setdefault(row.section, {})[_key(row)] = row
    covered = {_scope(r.section, r.region, r.family if r.section == "compute" else r.name) for r in rows}
    dropped: list[str] = []
    untouched = 0
    for section, new_rows in imported.items():
        old_rows = catalog.get(section) or []
        out, seen = [], set()
        for old in old_rows:
            k = row_key(section, old)
            if k in new_rows:
                out.append(_merged_row(new_rows[k], old, k, result, catalog, dropped))
                seen.add(k)
            elif not options.keep_unlisted and _scope(
                    section, old.get("region"), old.get("family" if section == "compute" else "kind")) in covered:
                continue  # covered by the import and no longer in the file: removed
            else:
                out.append(old)
                untouched += 1
        out += [_merged_row(new_rows[k], None, k, result, catalog, dropped) for k in sorted(new_rows) if k not in seen]
        catalog[section] = out
    untouched += sum(len(catalog.get(s) or []) for s in ROW_KEYS if s not in imported)
    catalog.setdefault("sources", {})[key] = {
        "title": result.title, "url": result.url, "as_of": result.as_of,
        "note": f"imported by implan pricing import on {today.isoformat()}",
        "files": {f.path.name: f.sha256 for f in result.files}}
    used = {row.get("source") for s in ROW_KEYS for row in catalog.get(s) or []}
    for name in [n for n in catalog["sources"] if "_import_" in n and n not in used]:
        del catalog["sources"][name]  # an earlier import none of whose rows is left
    currency = catalog.get("currency", "USD")
    changes = diff_sections(rows_by_key(base), rows_by_key(catalog), lambda r: r.get("currency") or currency)
    return MergeResult(catalog, changes, len(rows), untouched, key, skipped + dropped)
