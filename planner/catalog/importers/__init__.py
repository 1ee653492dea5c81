"""Importers of the providers' own price files into implan catalogs (`implan pricing import`): one module per
provider turns its files into rows (`common.ImportedRow`), `merge` merges them into a catalog file and reports the
changes. Nothing here uses the network."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from planner.catalog.importers import aws, azure, gcp, hetzner
from planner.catalog.importers.common import ImportResult, Options, PriceFileError, read_json_inputs
from planner.catalog.importers.merge import MergeResult, merge
from planner.catalog.loader import check_catalog_text, read_catalog_file
from planner.catalog.writer import dump_catalog

PROVIDERS = {"aws": aws, "azure": azure, "gcp": gcp, "hetzner": hetzner}
WHAT = {"aws": "AWS Price List offer files (AmazonEC2, AmazonS3, AWSDataTransfer index.json; Compute Savings Plans)",
        "azure": "Azure Retail Prices API pages (Items, NextPageLink)",
        "gcp": "Cloud Billing Catalog SKU pages (skus)",
        "hetzner": "Hetzner Cloud API responses (/v1/pricing, /v1/locations)"}


def parse_files(provider: str, path, options: Options) -> ImportResult:
    """The provider's rows from FILE or DIR (one line and exit 2 for a missing file, bad JSON, an unknown
    provider, a --regions filter that keeps nothing)."""
    if provider not in PROVIDERS:
        raise PriceFileError(f"unknown provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
    files = read_json_inputs(path, WHAT[provider])
    result = PROVIDERS[provider].parse(files, options)
    if not result.rows:
        what = []
        if options.regions is not None:
            what.append(f"--regions {','.join(sorted(options.regions))}")
        if options.families is not None:
            what.append(f"--families {','.join(sorted(options.families))}")
        raise PriceFileError(f"{path}: no {provider} price matches " + (" and ".join(what) if what else
                             "(no product the importer reads: " + WHAT[provider] + ")"))
    return result


@dataclass
class Refreshed:
    text: str  # the merged catalog, checked against the schema
    merged: MergeResult
    result: ImportResult

    def report_lines(self, out: Path | None) -> list[str]:
        """The change report: one line per changed row, a summary, then what was skipped and why."""
        m, r = self.merged, self.result
        counts = {k: sum(1 for c in m.changes if c.change == k) for k in ("added", "changed", "removed")}
        return [c.text() for c in m.changes] + [
            f"{r.provider}: {m.imported} rows imported from {len(r.files)} file(s) as of {r.as_of} (source "
            f"{m.source_key}): {counts['added']} added, {counts['changed']} changed price, {counts['removed']} "
            f"removed, {m.untouched} rows not covered kept as they were" + (f" -> {out}" if out is not None else "")
        ] + [f"skipped: {line}" for line in m.skipped]


def refresh_catalog(provider: str, path: Path, options: Options, base: Path, target: Path,
                    today: dt.date) -> Refreshed:
    """The catalog file `base` with the provider's files at `path` merged in, as the text to write to `target`."""
    result = parse_files(provider, path, options)
    if not base.is_file():
        raise PriceFileError(f"{base}: no {provider} catalog to merge into (its regions, storage and network prices "
                             "are not in the price file): give --out an existing catalog or --pricing DIR")
    merged = merge(read_catalog_file(base), result, options, today)
    header = (f"Catalog of {provider}; prices of {merged.source_key} imported by `implan pricing import {provider}` "
              f"into {base.name}.\nConventions: pricing/README.md. YAML comments are not kept by the import: notes "
              "go into note fields.")
    text = dump_catalog(merged.catalog, header)
    check_catalog_text(text, target)
    return Refreshed(text, merged, result)
