"""What every price-file importer shares: reading the input files (with their sha256), the filters, the row an
importer yields, and the unit conversions of published prices to the catalog's fields.

An importer turns a provider's own price file into `ImportedRow`s: one catalog row (section + key) with the price
fields it sets. Shape fields (vCPU, GiB, class) come from the file where it has them (AWS), else from the catalog the
rows are merged into (`needs_shape`): Azure, GCP and the Hetzner pricing endpoint publish prices per SKU name only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from planner.errors import PlannerError
from planner.inputs import read_input
from planner.units import HOURS_PER_MONTH

HOURS_PER_YEAR = HOURS_PER_MONTH * 12  # 8760: the catalogs' 730 h month, as the providers count a term
PRICE_DIGITS = 6  # catalog prices are stored to a millionth of a currency unit
# a whole-region AWS offer file is hundreds of MB (parsed JSON takes several times that in memory): docs/pricing.md
# shows how to fetch only the products a catalog uses (AWS get-products with filters, Azure $filter)
MAX_PRICE_FILE_BYTES = 2 * 1024**3


class PriceFileError(PlannerError):
    """A price file is missing, malformed, or holds nothing the filters keep (exit 2)."""


@dataclass(frozen=True)
class InputFile:
    path: Path
    sha256: str
    data: Any  # the parsed JSON


@dataclass(frozen=True)
class Options:
    regions: frozenset[str] | None = None  # None: every region of the file
    families: frozenset[str] | None = None
    as_of: dt.date | None = None  # overrides the file's own date
    upfront: str = "none"  # AWS reserved purchase option stored as the commitment price: none | partial | all
    keep_unlisted: bool = False  # a partial download: covered rows the files do not list stay instead of going


@dataclass
class ImportedRow:
    """One catalog row as the price file gives it: section + identity + the fields the file prices."""

    section: str  # a CatalogFile list: compute, block_storage, object_storage, transfer, network, load_balancers
    region: str
    name: str  # compute: type; block_storage / load_balancers: name; object_storage: storage_class; transfer: kind
    fields: dict[str, Any]  # price fields (and, from files that have them, shape fields)
    family: str = ""  # compute: the family the --families filter and the coverage match on
    currency: str = "USD"
    estimates: dict[str, str] = field(default_factory=dict)  # field -> basis (unit conversions, derivations)
    note: str = ""  # how the row was derived, when it is not a plain copy of one published figure
    needs_shape: bool = False  # shape fields must come from the catalog's row of the same key
    # transfer: the file's tiers count GB beyond a free allowance it does not list (AWS: "beyond the global free
    # tier"), so a free first tier of the catalog's row is kept in front of them (`after_free_tier`)
    beyond_free_tier: bool = False


@dataclass
class ImportResult:
    provider: str
    rows: list[ImportedRow]
    as_of: dt.date
    title: str  # what the files are, for the catalog's sources: block
    url: str  # where they are published (the documented endpoint)
    files: list[InputFile]
    skipped: list[str] = field(default_factory=list)  # one line per kind of product left out, and why
    # rows priced per unit of shape (GCP: per vCPU and GiB) -> one row per machine type of the catalog's rows
    expand: Callable[[ImportedRow, list[dict]], list[ImportedRow]] | None = None


def read_json_inputs(path: Path, what: str) -> list[InputFile]:
    """FILE, or every *.json of DIR (sorted by name), parsed; each with the sha256 of its bytes."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file())
        if not files:
            raise PriceFileError(f"{path}: no *.json files in the directory (expected {what})")
    else:
        files = [path]
    out = []
    for p in files:
        raw = read_input(p, what, PriceFileError, MAX_PRICE_FILE_BYTES)
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise PriceFileError(f"{p}: cannot read {what}: not UTF-8 text ({exc.reason} at byte "
                                 f"{exc.start})") from None
        except json.JSONDecodeError as exc:
            raise PriceFileError(f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); expected "
                               f"{what}") from None
        out.append(InputFile(p, hashlib.sha256(raw).hexdigest(), data))
    return out


def require(data: Any, key: str, kind: type, where: str) -> Any:
    """data[key] checked to be of `kind`: a price file with another shape gets one line naming file and key."""
    if not isinstance(data, dict) or key not in data:
        raise PriceFileError(f"{where}: no {key!r} key (expected {kind.__name__})")
    value = data[key]
    if not isinstance(value, kind):
        raise PriceFileError(f"{where}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def number(text: Any, where: str) -> float:
    """A published price: the files give decimal strings ("0.0725000000") or numbers."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise PriceFileError(f"{where}: expected a price (a decimal number), got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise PriceFileError(f"{where}: expected a finite price >= 0, got {text!r}")
    return value


def whole(value: float) -> float | int:
    """8.0 GiB is written 8, as in the hand-kept rows."""
    return int(value) if float(value).is_integer() else value


def price(value: float) -> float:
    return round(value, PRICE_DIGITS)


def term_hourly(upfront: float, hourly: float, years: int) -> float:
    """Effective hourly price of a commitment: the upfront fee spread over the term's hours plus the hourly rate."""
    return upfront / (years * HOURS_PER_YEAR) + hourly


def after_free_tier(free_gb: float, tiers: list[dict]) -> list[dict]:
    """Graduated tiers counted from the end of a free allowance, as tiers counted from 0: a free first tier up to
    `free_gb`, then each bound moved up by it (10 TB "beyond the free tier" ends at 100 + 10,240 GB)."""
    return [{"up_to_gb": free_gb, "per_gb": 0}] + [
        ({"up_to_gb": whole(t["up_to_gb"] + free_gb)} if t.get("up_to_gb") is not None else {}) |
        {"per_gb": t["per_gb"]} for t in tiers]


def monthly_to_hourly(monthly: float) -> float:
    return monthly / HOURS_PER_MONTH


def parse_date(text: Any, where: str) -> dt.date:
    """The date part of an ISO timestamp ("2026-11-20T22:41:46Z")."""
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        raise PriceFileError(f"{where}: expected an ISO date or timestamp, got {text!r}") from None


def keep(options: Options, region: str, family: str | None = None) -> bool:
    """The --regions and --families filters."""
    if options.regions is not None and region not in options.regions:
        return False
    return family is None or options.families is None or family in options.families
