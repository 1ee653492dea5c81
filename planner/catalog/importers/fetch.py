"""`implan pricing import PROVIDER --fetch --from DIR`: download the provider's price files from its documented
endpoint into DIR, then import DIR like any other: the files stay for review and the catalog records their sha256.
The tests never reach the network: they pass an `opener` that answers from the fixtures.

Endpoints (docs/pricing.md): AWS bulk offer files per region, AmazonEC2, AmazonS3 and AWSDataTransfer (public);
Azure Retail Prices API (public, paged by NextPageLink); GCP Cloud Billing Catalog (an API key in GOOGLE_API_KEY,
paged by nextPageToken); Hetzner Cloud API (a project token in HCLOUD_TOKEN).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from planner.catalog.importers import aws, aws_offer, gcp, hetzner
from planner.catalog.importers.common import MAX_PRICE_FILE_BYTES, PriceFileError

Opener = Callable[[str, dict[str, str]], bytes]  # (url, headers) -> response body
MAX_PAGES = 10_000  # a paging loop that never ends is a bug on one side: stop it
TIMEOUT_S = 120
# besides the EC2 file, the AWS offers of a region downloaded (a few MB each); the Compute Savings Plans file of a
# region is about as large as the EC2 one and is downloaded by hand (docs/pricing.md)
AWS_SMALL_OFFERS = {"AmazonS3": "s3", "AWSDataTransfer": "data-transfer"}


def http_get(url: str, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "implan-pricing-import", **headers})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (https endpoints only)
            body = response.read(MAX_PRICE_FILE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise PriceFileError(f"{url.split('?')[0]}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PriceFileError(f"{url.split('?')[0]}: cannot download: {getattr(exc, 'reason', exc)}") from None
    if len(body) > MAX_PRICE_FILE_BYTES:
        raise PriceFileError(f"{url.split('?')[0]}: more than {MAX_PRICE_FILE_BYTES:,} bytes")
    return body


def _json(body: bytes, url: str) -> dict:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PriceFileError(f"{url.split('?')[0]}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise PriceFileError(f"{url.split('?')[0]}: expected a JSON object")
    return data


def _token(name: str, provider: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise PriceFileError(f"--fetch {provider}: set {name} (the {provider} API needs it; docs/pricing.md)")
    return value


def _pages(first: str, next_url: Callable[[dict, str], str | None], headers: dict[str, str], opener: Opener):
    url, count = first, 0
    while url:
        count += 1
        if count > MAX_PAGES:
            raise PriceFileError(f"{first.split('?')[0]}: more than {MAX_PAGES} pages")
        body = opener(url, headers)
        yield body
        url = next_url(_json(body, url), url)


def fetch(provider: str, directory: Path, regions: frozenset[str] | None, opener: Opener = http_get) -> list[Path]:
    """Download into `directory` (created); returns the files written."""
    if provider in ("aws", "azure") and not regions:
        raise PriceFileError(f"--fetch {provider}: give --regions (the files are per region)")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(name: str, body: bytes) -> None:
        path = directory / name
        path.write_bytes(body)
        written.append(path)

    if provider == "aws":
        for region in sorted(regions):
            save(f"{region}.json", opener(aws.URL.format(region=region), {}))
            for offer, suffix in AWS_SMALL_OFFERS.items():
                save(f"{region}-{suffix}.json", opener(aws_offer.OFFER_URL.format(offer=offer, region=region), {}))
    elif provider == "azure":
        for region in sorted(regions):
            query = urllib.parse.quote(f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}'")
            first = f"https://prices.azure.com/api/retail/prices?$filter={query}"
            for n, body in enumerate(_pages(first, lambda d, _: d.get("NextPageLink"), {}, opener), 1):
                save(f"{region}-page-{n}.json", body)
    elif provider == "gcp":
        key = _token("GOOGLE_API_KEY", provider)
        first = f"{gcp.URL}?key={urllib.parse.quote(key)}&pageSize=5000"

        def step(data: dict, _url: str) -> str | None:
            token = data.get("nextPageToken")
            return f"{first}&pageToken={urllib.parse.quote(token)}" if token else None

        for n, body in enumerate(_pages(first, step, {}, opener), 1):
            save(f"skus-page-{n}.json", body)
    elif provider == "hetzner":
        headers = {"Authorization": f"Bearer {_token('HCLOUD_TOKEN', provider)}"}
        base = hetzner.URL.rsplit("/", 1)[0]
        save("pricing.json", opener(hetzner.URL, headers))
        for name in ("locations", "server_types"):  # paged (50 at most a page): the pages' lists in one file
            first = f"{base}/{name}?per_page=50"

            def step(data: dict, _url: str, first=first) -> str | None:
                page = ((data.get("meta") or {}).get("pagination") or {}).get("next_page")
                return f"{first}&page={page}" if page else None

            items = [item for body in _pages(first, step, headers, opener) for item in _json(body, first).get(name, [])]
            save(f"{name}.json", json.dumps({name: items}, indent=1).encode())
    else:
        raise PriceFileError(f"unknown provider {provider!r}: expected one of aws, azure, gcp, hetzner")
    return written

