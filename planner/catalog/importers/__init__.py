"""Importers of the providers' own price files into implan catalogs (`implan pricing import`): one module per
provider turns its files into rows (`common.ImportedRow`), `merge` merges them into a catalog file and reports the
changes. Nothing here uses the network."""

from __future__ import annotations

from planner.catalog.importers import aws, azure, gcp, hetzner
from planner.catalog.importers.common import ImportResult, Options, PriceFileError, read_json_inputs

PROVIDERS = {"aws": aws, "azure": azure, "gcp": gcp, "hetzner": hetzner}
WHAT = {"aws": "an AWS Price List offer file (AmazonEC2 index.json)",
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
