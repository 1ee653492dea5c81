"""`implan pricing import` and `implan pricing diff`: each importer on its fixture (tests/fixtures/price-files/, in
the providers' published formats), known answers for the effective hourly of commitments, the merge that keeps
hand-kept rows, bad input, and the round trip import -> plan == hand-written catalog -> plan."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from planner.catalog.importers import parse_files
from planner.catalog.importers.aws import reserved_hourly
from planner.catalog.importers.azure import reservation_hourly
from planner.catalog.importers.common import Options, PriceFileError
from planner.catalog.importers.gcp import machine_price
from planner_testlib import ROOT
from test_bad_input import assert_one_line_error

FILES = ROOT / "tests" / "fixtures" / "price-files"
BASE = FILES / "catalogs"
EXPECTED = FILES / "expected"
AS_OF = ["--as-of", "2026-12-03"]  # Azure and Hetzner files carry no date


def _rows(provider: str, **options) -> dict[str, dict]:
    result = parse_files(provider, FILES / provider, Options(**options))
    return {f"{r.section}/{r.region}/{r.name}": r.fields for r in result.rows}


def _pricing_dir(tmp_path: Path, name: str, *catalogs: Path) -> Path:
    d = tmp_path / name
    d.mkdir()
    shutil.copy(BASE / "fx.yaml", d)
    for c in catalogs:
        shutil.copy(c, d)
    return d


def _import(cli, tmp_path, provider: str, *extra: str, source: Path | None = None):
    d = _pricing_dir(tmp_path, f"{provider}-imported", BASE / f"{provider}.yaml")
    result = cli("pricing", "import", provider, "--from", source or FILES / provider, "--out", d / f"{provider}.yaml",
                 *extra)
    assert result.exit_code == 0, result.output
    return d, result


# ---------------------------------------------------------------- known answers: effective hourly of commitments
def test_aws_reserved_effective_hourly_of_each_option():
    """c7g.large in the fixture offer file; effective hourly = upfront / (years x 8,760 h) + hourly."""
    data = json.loads((FILES / "aws" / "index.json").read_text())
    terms = data["terms"]["Reserved"]["Q7RYG5WWQ5BQZ9JR"]
    got = {(y, o): round(h, 9) for y, o, h in (reserved_hourly(t, code) for code, t in terms.items()
                                                if t["termAttributes"]["OfferingClass"] == "standard")}
    assert got == {
        (1, "No Upfront"): 0.0457,  # 0 / 8760 + 0.0457
        (1, "Partial Upfront"): 0.044560274,  # 195 / 8760 = 0.022260274 + 0.0223
        (1, "All Upfront"): 0.043607306,  # 382 / 8760 + 0
        (3, "No Upfront"): 0.0314,  # 0 / 26280 + 0.0314
        (3, "Partial Upfront"): 0.030810959,  # 405 / 26280 = 0.015410959 + 0.0154
        (3, "All Upfront"): 0.030175038,  # 793 / 26280 + 0
    }


@pytest.mark.parametrize("upfront, one, three", [("none", 0.0457, 0.0314), ("partial", 0.04456, 0.030811),
                                                 ("all", 0.043607, 0.030175)])
def test_aws_upfront_option_chooses_the_commitment_price(upfront, one, three):
    row = _rows("aws", upfront=upfront)["compute/us-east-1/c7g.large"]
    assert (row["commit_1y_per_hour"], row["commit_3y_per_hour"]) == (one, three)  # rounded to 6 decimals


def test_azure_reservation_is_priced_for_the_whole_term():
    assert round(reservation_hourly(495.99, 1), 9) == 0.056619863  # 495.99 USD / 8760 h
    assert round(reservation_hourly(959.07, 3), 9) == 0.036494292  # 959.07 USD / 26280 h


def test_gcp_machine_type_is_vcpu_times_core_plus_gib_times_ram():
    assert round(machine_price(4, 16, 0.031611, 0.004237), 9) == 0.194236  # 0.126444 + 0.067792


# ---------------------------------------------------------------- each importer on its fixture
def test_aws_importer_keeps_linux_shared_no_software_used_capacity():
    rows = _rows("aws")
    assert sorted(rows) == ["block_storage/us-east-1/gp3", "compute/us-east-1/c7g.large",
                            "compute/us-east-1/c7g.xlarge", "compute/us-east-1/m7i.large"]
    # Windows, dedicated tenancy, an unused capacity reservation and SQL Web are other SKUs of the same types
    assert rows["compute/us-east-1/m7i.large"] == {
        "vcpu": 2, "memory_gib": 8, "arch": "x86_64", "class": "general", "on_demand_per_hour": 0.1008,
        "commit_1y_per_hour": 0.0635, "commit_3y_per_hour": 0.0437}
    assert rows["compute/us-east-1/c7g.large"]["arch"] == "arm64"  # Graviton
    assert rows["compute/us-east-1/c7g.large"]["on_demand_per_hour"] == 0.0725  # not SQL Web's 0.0925
    assert rows["block_storage/us-east-1/gp3"] == {"per_gb_month": 0.08}


def test_aws_families_filter():
    assert sorted(_rows("aws", families=frozenset({"m7i"}))) == ["block_storage/us-east-1/gp3",
                                                                 "compute/us-east-1/m7i.large"]


def test_azure_importer_reads_consumption_spot_and_reservations_of_linux_vms():
    rows = _rows("azure", as_of=__import__("datetime").date(2026, 12, 3))
    assert rows["compute/eastus/Standard_D2s_v5"] == {
        "on_demand_per_hour": 0.096,  # not Windows 0.188, not DevTest, not Low Priority 0.0192
        "spot_per_hour": 0.01056, "commit_1y_per_hour": 0.05662, "commit_3y_per_hour": 0.036494}
    assert rows["compute/eastus/Standard_D4s_v5"]["commit_3y_per_hour"] == 0.072989  # 1918.14 / 26280
    assert "compute/westus/Standard_D2s_v5" in rows  # filtered out later: the catalog does not declare westus


def test_gcp_importer_prices_series_from_core_and_ram_skus(cli, tmp_path):
    d, result = _import(cli, tmp_path, "gcp")
    rows = {r["type"]: r for r in yaml.safe_load((d / "gcp.yaml").read_text())["compute"]}
    n2 = rows["n2-standard-8"]
    # 8 x 0.031611 + 32 x 0.004237; spot 8 x 0.007731 + 32 x 0.001036; 1y 8 x 0.019915 + 32 x 0.002669
    assert (n2["on_demand_per_hour"], n2["spot_per_hour"], n2["commit_1y_per_hour"], n2["commit_3y_per_hour"]) == \
        (0.388472, 0.095, 0.244728, 0.174824)
    assert "on_demand_per_hour = 8 vCPU x 0.031611 + 32 GiB x 0.004237" in n2["note"]
    assert rows["n2d-standard-4"]["on_demand_per_hour"] == 0.168984  # N2D AMD SKUs; custom / sole tenancy ignored
    assert rows["e2-standard-4"]["source"] == "skypilot_gcp"  # no E2 SKU in the pages: untouched


def test_hetzner_importer_uses_net_prices_and_adds_the_primary_ipv4(cli, tmp_path):
    d, result = _import(cli, tmp_path, "hetzner", *AS_OF)
    data = yaml.safe_load((d / "hetzner.yaml").read_text())
    rows = {r["type"]: r for r in data["compute"]}
    assert rows["cx33"]["on_demand_per_hour"] == 0.012315  # (8.49 net + 0.50 IPv4) / 730; gross would be 0.014655
    assert rows["cx33"]["currency"] == "EUR" and rows["cx33"]["included_egress_gb_per_month"] == 21990
    assert rows["ccx13"]["on_demand_per_hour"] == 0.06026  # hel1 43.49 + 0.50 is the zone's highest, / 730
    assert "locations differ" in rows["ccx13"]["note"]
    assert rows["cx53"]["vcpu"] == 16 and rows["cx53"]["class"] == "general"  # new type, shape from server_types
    lbs = {r["name"].split()[0]: r for r in data["load_balancers"]}
    assert lbs["lb21"]["per_capacity_unit_hour"] == 0.029438  # 21.49 / 730
    assert lbs["lb21"]["unit_active_connections"] == 20000  # kept: /v1/pricing has no connection caps
    assert "us-east" in result.output  # ash's prices are left out: the catalog does not declare that zone


# ---------------------------------------------------------------- merge: hand-kept rows, change report
def test_merge_keeps_hand_kept_rows_and_reports_changes(cli, tmp_path):
    d, result = _import(cli, tmp_path, "aws")
    out = result.stdout
    assert "changed  compute us-east-1/c7g.large: on_demand_per_hour 0.07 -> 0.0725 (+3.57%)" in out
    assert "removed  compute us-east-1/c7g.2xlarge" in out  # c7g is covered and the file no longer lists it
    assert "added    compute us-east-1/m7i.large" in out
    assert "1 added, 2 changed price, 1 removed" in out
    data = yaml.safe_load((d / "aws.yaml").read_text())
    rows = {r["type"]: r for r in data["compute"]}
    assert "c7g.2xlarge" not in rows
    assert rows["c6g.large"] == yaml.safe_load((BASE / "aws.yaml").read_text())["compute"][3]  # untouched
    large = rows["c7g.large"]
    assert large["spot_per_hour"] == 0.0529  # the offer file has no spot price: kept, with its estimate mark
    assert large["estimates"] == {"spot_per_hour": "median of 5 per-AZ spot prices"}  # commit marks dropped
    assert large["note"] == "kept from skypilot (2026-07-20): spot_per_hour | hand note: seen in the console too"
    assert str(large["as_of"]) == "2026-07-20"  # as old as its oldest figure
    source = data["sources"][large["source"]]
    assert source["files"]["index.json"] == __import__("hashlib").sha256(
        (FILES / "aws" / "index.json").read_bytes()).hexdigest()
    assert str(source["as_of"]) == "2026-11-20"  # the offer file's publicationDate
    assert data["object_storage"] == yaml.safe_load((BASE / "aws.yaml").read_text())["object_storage"]


def test_a_second_import_changes_nothing(cli, tmp_path):
    d, _ = _import(cli, tmp_path, "aws")
    before = (d / "aws.yaml").read_text()
    again = cli("pricing", "import", "aws", "--from", FILES / "aws", "--out", d / "aws.yaml")
    assert again.exit_code == 0, again.output
    assert "0 added, 0 changed price, 0 removed" in again.stdout
    after = (d / "aws.yaml").read_text()
    assert [l for l in after.splitlines() if "imported by implan" not in l] == \
        [l for l in before.splitlines() if "imported by implan" not in l]


def test_without_out_the_catalog_goes_to_stdout_and_the_report_to_stderr(cli):
    result = cli("pricing", "import", "aws", "--from", FILES / "aws", "--pricing", BASE)
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["provider"] == "aws"
    assert "2 changed price" in result.stderr


# ---------------------------------------------------------------- bad input: one line, exit 2
def test_missing_file(cli, tmp_path):
    assert_one_line_error(cli("pricing", "import", "aws", "--from", tmp_path / "nope.json", "--pricing", BASE),
                          "nope.json", "not found")


def test_malformed_json(cli, tmp_path):
    bad = tmp_path / "index.json"
    bad.write_text('{"offerCode": "AmazonEC2", "products": {', encoding="utf-8")
    assert_one_line_error(cli("pricing", "import", "aws", "--from", bad, "--pricing", BASE), "index.json",
                          "not valid JSON", "line 1")


def test_unknown_provider(cli):
    assert_one_line_error(cli("pricing", "import", "oracle", "--from", FILES / "aws"), "unknown provider 'oracle'",
                          "aws, azure, gcp, hetzner")


def test_region_filter_that_matches_nothing(cli):
    assert_one_line_error(cli("pricing", "import", "aws", "--from", FILES / "aws", "--regions", "mars-1",
                              "--pricing", BASE), "no aws price matches --regions mars-1")


def test_wrong_kind_of_file(cli):
    assert_one_line_error(cli("pricing", "import", "aws", "--from", FILES / "gcp" / "skus-page-1.json",
                              "--pricing", BASE), "not an AWS offer file the importer reads", "'AmazonS3'")


def test_azure_needs_a_date(cli):
    assert_one_line_error(cli("pricing", "import", "azure", "--from", FILES / "azure", "--pricing", BASE),
                          "--as-of")


def test_a_failed_import_leaves_the_catalog_as_it_was(cli, tmp_path):
    d = _pricing_dir(tmp_path, "keep", BASE / "aws.yaml")
    before = (d / "aws.yaml").read_bytes()
    assert_one_line_error(cli("pricing", "import", "aws", "--from", FILES / "aws", "--regions", "eu-west-9",
                              "--out", d / "aws.yaml"), "eu-west-9")
    assert (d / "aws.yaml").read_bytes() == before


def test_unknown_provider_error_from_the_library():
    with pytest.raises(PriceFileError, match="unknown provider"):
        parse_files("ibm", FILES / "aws", Options())


# ---------------------------------------------------------------- round trip: import -> plan == hand-written -> plan
def _plan(cli, pricing: Path, tmp_path: Path) -> dict:
    out = tmp_path / f"{pricing.name}.json"
    result = cli("plan", "--pricing", pricing, "-s", "public", "-f", "json", "-o", out)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def _essence(plan: dict) -> list:
    """What a plan decides and costs, without provenance (source keys and dates differ by construction)."""
    return [(s["monthly_cost_usd"], sorted((n["type"], n["count"], n["purchase"]) for n in s["nodes"]),
             sorted((x["category"], x["item"], x["quantity"], x["usd_per_unit"]) for x in s["lines"]))
            for s in plan["strategies"]]


AWS_FILES = ("aws", "aws-s3", "aws-data-transfer", "aws-savings-plans")


def _aws_download(tmp_path: Path, *names: str, edit=None) -> Path:
    """A --from directory holding the AWS fixtures `names` (all four by default), as one refresh downloads them;
    `edit(name, data)` may change a file's JSON first."""
    d = tmp_path / "aws-download"
    d.mkdir(exist_ok=True)
    for name in names or AWS_FILES:
        data = json.loads((FILES / name / "index.json").read_text())
        if edit is not None:
            edit(name, data)
        (d / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    return d


@pytest.mark.parametrize("provider", ["aws", "azure", "gcp", "hetzner"])
def test_round_trip_import_plans_like_the_hand_written_catalog(cli, tmp_path, provider):
    """AWS: the EC2, S3, data-transfer and Savings Plans files together (expected/aws.yaml)."""
    source = _aws_download(tmp_path) if provider == "aws" else None
    imported, _ = _import(cli, tmp_path, provider, *AS_OF, source=source)
    hand = _pricing_dir(tmp_path, f"{provider}-hand", EXPECTED / f"{provider}.yaml")
    base = _pricing_dir(tmp_path, f"{provider}-base", BASE / f"{provider}.yaml")
    got = _essence(_plan(cli, imported, tmp_path))
    assert got == _essence(_plan(cli, hand, tmp_path))
    assert got != _essence(_plan(cli, base, tmp_path))  # the import did change what the plan pays


# ---------------------------------------------------------------- pricing diff
def test_pricing_diff_lists_row_changes_with_percent(cli, tmp_path):
    new, _ = _import(cli, tmp_path, "aws")
    old = _pricing_dir(tmp_path, "old", BASE / "aws.yaml")
    result = cli("pricing", "diff", old, new)
    assert result.exit_code == 0, result.output
    assert "aws: changed  compute us-east-1/c7g.large: on_demand_per_hour 0.07 -> 0.0725 (+3.57%)" in result.stdout
    assert "aws: removed  compute us-east-1/c7g.2xlarge" in result.stdout
    data = json.loads(cli("pricing", "diff", old, new, "-f", "json").stdout)
    change = next(r for r in data["row_changes"] if r["key"] == "us-east-1/c7g.large")
    assert change["prices"][0] == {"field": "on_demand_per_hour", "old": 0.07, "new": 0.0725, "change_pct": 3.57}


def test_pricing_diff_with_a_plan_splits_the_cost_change_into_price_and_topology(cli, tmp_path):
    new, _ = _import(cli, tmp_path, "aws")
    old = _pricing_dir(tmp_path, "old", BASE / "aws.yaml")
    plan_file = tmp_path / "plan.json"
    assert cli("plan", "--pricing", old, "-s", "public", "-f", "json", "-o", plan_file).exit_code == 0
    result = cli("pricing", "diff", old, new, "--plan", plan_file, "-f", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["plan"]
    assert plan["plan_made_with_old_dir"] is True and plan["load_changed"] is False
    s = plan["strategies"][0]
    a = s["attribution"]
    assert a["load"] == 0 and round(a["price"] + a["topology"], 2) == s["delta_usd"] != 0
    replanned = _plan(cli, new, tmp_path)["strategies"][0]["monthly_cost_usd"]
    assert s["new_usd"] == replanned  # the same workload planned with the new prices


def test_pricing_diff_bad_plan_file(cli, tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("[]", encoding="utf-8")
    assert_one_line_error(cli("pricing", "diff", BASE, BASE, "--plan", bad), "plan.json")


def test_aws_get_products_answer_reads_like_the_offer_file(cli, tmp_path):
    """`aws pricing get-products` pages (PriceList of JSON strings): a filtered download of the same products."""
    d = _pricing_dir(tmp_path, "gp", BASE / "aws.yaml")
    result = cli("pricing", "import", "aws", "--from", FILES / "aws-get-products", "--keep-unlisted",
                 "--out", d / "aws.yaml")
    assert result.exit_code == 0, result.output
    rows = {r["type"]: r for r in yaml.safe_load((d / "aws.yaml").read_text())["compute"]}
    assert rows["c7g.xlarge"]["commit_1y_per_hour"] == 0.0914  # the Windows m7i.large of the page is left out
    assert "m7i.large" not in rows
    assert rows["c7g.large"]["source"] == "skypilot"  # not in the partial download, kept by --keep-unlisted
    assert "0 removed" in result.stdout


def test_writer_keeps_every_shipped_catalog_as_it_is(tmp_path):
    """An import rewrites the whole file: every row of every shipped catalog must come back unchanged."""
    from planner.catalog.loader import default_pricing_dir, read_catalog_file
    from planner.catalog.writer import dump_catalog
    for path in sorted(default_pricing_dir().glob("*.yaml")):
        if path.name == "fx.yaml":
            continue
        (tmp_path / path.name).write_text(dump_catalog(read_catalog_file(path)), encoding="utf-8")
        assert read_catalog_file(tmp_path / path.name) == read_catalog_file(path), path.name


def test_out_to_a_new_file_merges_into_the_catalog_of_pricing(cli, tmp_path):
    out = tmp_path / "aws.yaml"
    result = cli("pricing", "import", "aws", "--from", FILES / "aws", "--pricing", BASE, "--out", out)
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())
    assert {r["type"] for r in data["compute"]} == {"c7g.large", "c7g.xlarge", "c6g.large", "m7i.large"}
    assert f"-> {out}" in result.stdout


def test_pricing_diff_markdown_for_a_pull_request(cli, tmp_path):
    new, _ = _import(cli, tmp_path, "hetzner", *AS_OF)
    old = _pricing_dir(tmp_path, "old", BASE / "hetzner.yaml")
    plan_file = tmp_path / "plan.json"
    assert cli("plan", "--pricing", old, "-s", "public", "-f", "json", "-o", plan_file).exit_code == 0
    result = cli("pricing", "diff", old, new, "--plan", plan_file, "-f", "markdown")
    assert result.exit_code == 0, result.output
    assert "- hetzner: added    compute eu-central/cx53: on_demand_per_hour 0.049301 EUR" in result.stdout
    assert "| strategy | baseline | new | change | price | load | topology |" in result.stdout


# ---------------------------------------------------------------- --fetch, with an opener answering from the fixtures
def _answers(pages: dict[str, Path], seen: list):
    def opener(url: str, headers: dict) -> bytes:
        seen.append((url, headers))
        return pages[url].read_bytes()
    return opener


def test_fetch_azure_follows_next_page_link(tmp_path):
    from planner.catalog.importers.fetch import fetch
    page1 = json.loads((FILES / "azure" / "prices-page-1.json").read_text())
    first = ("https://prices.azure.com/api/retail/prices?$filter=serviceName%20eq%20%27Virtual%20Machines%27%20and"
             "%20armRegionName%20eq%20%27eastus%27")
    seen: list = []
    opener = _answers({first: FILES / "azure" / "prices-page-1.json",
                       page1["NextPageLink"]: FILES / "azure" / "prices-page-2.json"}, seen)
    written = fetch("azure", tmp_path / "dl", frozenset({"eastus"}), opener)
    assert [p.name for p in written] == ["eastus-page-1.json", "eastus-page-2.json"]
    assert [u for u, _ in seen] == [first, page1["NextPageLink"]]  # stops at NextPageLink null
    options = Options(as_of=__import__("datetime").date(2026, 12, 3))
    assert [r.fields for r in parse_files("azure", tmp_path / "dl", options).rows] == \
        [r.fields for r in parse_files("azure", FILES / "azure", options).rows]


def test_fetch_hetzner_sends_the_token(tmp_path, monkeypatch):
    from planner.catalog.importers.fetch import fetch
    monkeypatch.setenv("HCLOUD_TOKEN", "t0ken")
    seen: list = []
    api = "https://api.hetzner.cloud/v1"
    opener = _answers({f"{api}/pricing": FILES / "hetzner" / "pricing.json",
                       f"{api}/locations?per_page=50": FILES / "hetzner" / "locations.json",
                       f"{api}/server_types?per_page=50": FILES / "hetzner" / "server_types.json"}, seen)
    fetch("hetzner", tmp_path / "dl", None, opener)
    assert all(h == {"Authorization": "Bearer t0ken"} for _, h in seen) and len(seen) == 3
    options = Options(as_of=__import__("datetime").date(2026, 12, 3))
    assert [r.fields for r in parse_files("hetzner", tmp_path / "dl", options).rows] == \
        [r.fields for r in parse_files("hetzner", FILES / "hetzner", options).rows]


def test_fetch_needs_regions_or_a_key(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    assert_one_line_error(cli("pricing", "import", "aws", "--fetch", "--from", tmp_path / "dl"), "--regions")
    assert_one_line_error(cli("pricing", "import", "gcp", "--fetch", "--from", tmp_path / "dl"), "GOOGLE_API_KEY")


def test_the_import_help_names_every_importer():
    from planner.catalog.importers import PROVIDERS
    from planner.cli.pricing import IMPORT_PROVIDERS

    assert tuple(sorted(PROVIDERS)) == IMPORT_PROVIDERS


# ---------------------------------------------------------------- AWS S3, data transfer, Compute Savings Plans
def test_aws_egress_tiers_from_begin_and_end_ranges():
    """beginRange / endRange in GB -> cumulative up_to_gb; then the same tiers counted after a 100 GB free tier."""
    from planner.catalog.importers.aws_transfer import internet_tiers
    from planner.catalog.importers.common import after_free_tier
    data = json.loads((FILES / "aws-data-transfer" / "index.json").read_text())
    tiers = internet_tiers(data["terms"]["OnDemand"]["AA2WR8MX3T8BEJ4H"], "egress")
    assert tiers == [{"up_to_gb": 10240, "per_gb": 0.09}, {"up_to_gb": 51200, "per_gb": 0.085},
                     {"up_to_gb": 153600, "per_gb": 0.07}, {"per_gb": 0.05}]
    assert after_free_tier(100, tiers) == [{"up_to_gb": 100, "per_gb": 0}, {"up_to_gb": 10340, "per_gb": 0.09},
                                           {"up_to_gb": 51300, "per_gb": 0.085}, {"up_to_gb": 153700, "per_gb": 0.07},
                                           {"per_gb": 0.05}]


def test_aws_s3_importer_reads_standard_and_standard_ia(tmp_path):
    rows = {f"{r.section}/{r.region}/{r.name}": (r.fields, r.note)
            for r in parse_files("aws", _aws_download(tmp_path, "aws-s3"), Options()).rows}
    assert sorted(rows) == ["object_storage/eu-central-1/standard", "object_storage/us-east-1/infrequent",
                            "object_storage/us-east-1/standard"]  # One Zone-IA is no catalog class
    # first tier 0.023 (not 0.022 / 0.021); 0.000005 and 0.0000004 USD per request x 1000
    assert rows["object_storage/us-east-1/standard"] == (
        {"per_gb_month": 0.023, "put_per_1k": 0.005, "get_per_1k": 0.0004},
        "per_gb_month: the first storage tier (first 50 TB/month)")
    assert rows["object_storage/us-east-1/infrequent"][0] == {"per_gb_month": 0.0125, "put_per_1k": 0.01,
                                                              "get_per_1k": 0.001, "retrieval_per_gb": 0.01}
    assert rows["object_storage/eu-central-1/standard"][0] == {"per_gb_month": 0.0245, "put_per_1k": 0.0054}


def test_aws_data_transfer_importer_reads_egress_cross_az_and_inter_region(tmp_path):
    rows = {f"{r.section}/{r.region}": r for r in
            parse_files("aws", _aws_download(tmp_path, "aws-data-transfer"), Options()).rows}
    assert sorted(rows) == ["network/us-east-1", "transfer/eu-central-1", "transfer/us-east-1"]  # inbound: free
    net = rows["network/us-east-1"]
    assert net.fields == {"cross_zone_per_gb": 0.02, "inter_region_per_gb": 0.02}  # 2 x 0.01; max(0.02, 0.01)
    assert "eu-central-1 0.02, us-east-2 0.01" in net.note
    only_ohio = parse_files("aws", _aws_download(tmp_path, "aws-data-transfer"),
                            Options(regions=frozenset({"us-east-1", "us-east-2"}))).rows
    assert next(r for r in only_ohio if r.section == "network").fields["inter_region_per_gb"] == 0.01


def test_aws_s3_and_transfer_merge_keeps_hand_kept_parts(cli, tmp_path):
    d, result = _import(cli, tmp_path, "aws", source=_aws_download(tmp_path, "aws-s3", "aws-data-transfer"))
    data = yaml.safe_load((d / "aws.yaml").read_text())
    base = yaml.safe_load((BASE / "aws.yaml").read_text())
    ia = next(r for r in data["object_storage"] if r["storage_class"] == "infrequent")
    assert ia["min_storage_days"] == 30 and "estimates" not in ia  # not in the file: kept; the GET price is published
    assert ia["note"] == "hand note: 30-day minimum per the S3 storage-class docs"
    internet = next(r for r in data["transfer"] if r["kind"] == "internet")
    assert internet["tiers"][:2] == [{"up_to_gb": 100, "per_gb": 0}, {"up_to_gb": 10340, "per_gb": 0.09}]
    assert "kept from infracost (2026-07-01): tiers[0]" in internet["note"]
    assert str(internet["as_of"]) == "2026-07-01"  # as old as the kept free tier
    assert next(r for r in data["transfer"] if r["kind"] == "cdn") == base["transfer"][1]  # no file prices the CDN
    assert data["compute"] == base["compute"]  # no EC2 file: compute not covered
    assert "changed  transfer us-east-1/internet: tiers[3] - -> 0.07; tiers[4] - -> 0.05 USD" in result.stdout
    again = cli("pricing", "import", "aws", "--from", tmp_path / "aws-download", "--out", d / "aws.yaml")
    assert "0 added, 0 changed price, 0 removed" in again.stdout, again.output
    assert yaml.safe_load((d / "aws.yaml").read_text())["transfer"] == data["transfer"]  # free tier not added twice


def test_aws_egress_without_a_hand_kept_free_tier_is_the_file_as_it_is(cli, tmp_path):
    base = yaml.safe_load((BASE / "aws.yaml").read_text())
    base["transfer"][0]["tiers"] = [{"per_gb": 0.09}]
    d = _pricing_dir(tmp_path, "nofree")
    (d / "aws.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    result = cli("pricing", "import", "aws", "--from", _aws_download(tmp_path, "aws-data-transfer"),
                 "--out", d / "aws.yaml")
    assert result.exit_code == 0, result.output
    internet = next(r for r in yaml.safe_load((d / "aws.yaml").read_text())["transfer"] if r["kind"] == "internet")
    assert internet["tiers"][0] == {"up_to_gb": 10240, "per_gb": 0.09} and "kept from" not in internet["note"]


def test_aws_reserved_rate_kept_where_it_is_lower_than_the_savings_plan_rate(tmp_path):
    result = parse_files("aws", _aws_download(tmp_path, "aws", "aws-savings-plans"), Options())
    rows = {r.name: r for r in result.rows if r.section == "compute"}
    assert (rows["c7g.large"].fields["commit_1y_per_hour"], rows["c7g.large"].note) == (0.0457, "")  # not 0.0519
    assert any("6 Compute Savings Plan rate(s) not used" in line for line in result.skipped)


def test_aws_savings_plan_rate_below_the_reserved_rate_wins(tmp_path):
    def cheaper_plan(name, data):
        if name == "aws-savings-plans":
            data["terms"]["savingsPlan"][0]["rates"][0]["discountedRate"]["price"] = "0.0450"  # c7g.large, 1 year
    rows = {r.name: r for r in parse_files("aws", _aws_download(tmp_path, "aws", "aws-savings-plans",
                                                                edit=cheaper_plan), Options()).rows}
    assert rows["c7g.large"].fields["commit_1y_per_hour"] == 0.045  # below the Reserved 0.0457
    assert rows["c7g.large"].fields["commit_3y_per_hour"] == 0.0314  # Reserved 0.0314 below the plan's 0.0362
    assert rows["c7g.large"].note == "commit_1y_per_hour: Compute Savings Plan, No Upfront (below the standard " \
                                     "Reserved 0.0457)"


def _drop_reserved_of_c7g_large(name: str, data: dict) -> None:
    if name == "aws":
        del data["terms"]["Reserved"]["Q7RYG5WWQ5BQZ9JR"]


@pytest.mark.parametrize("upfront, expected", [("none", (0.0519, 0.0362)), ("partial", (None, None))])
def test_aws_savings_plan_rate_fills_a_missing_reserved_term(tmp_path, upfront, expected):
    """Compute Savings Plans, No Upfront (not the Partial Upfront plan, not the EC2 Instance plan of c7g)."""
    download = _aws_download(tmp_path, "aws", "aws-savings-plans", edit=_drop_reserved_of_c7g_large)
    row = next(r for r in parse_files("aws", download, Options(upfront=upfront)).rows if r.name == "c7g.large")
    assert (row.fields.get("commit_1y_per_hour"), row.fields.get("commit_3y_per_hour")) == expected
    if upfront == "none":
        assert row.note == ("commit_1y_per_hour: Compute Savings Plan, No Upfront (no standard Reserved term in the "
                            "file); commit_3y_per_hour: Compute Savings Plan, No Upfront (no standard Reserved term in "
                            "the file)")


def test_a_savings_plans_file_needs_the_ec2_file(cli, tmp_path):
    assert_one_line_error(cli("pricing", "import", "aws", "--from", FILES / "aws-savings-plans", "--pricing", BASE),
                          "Savings Plans file", "AmazonEC2 offer file")


def test_aws_tiers_with_a_gap_are_bad_input(cli, tmp_path):
    def gap(name, data):
        dims = data["terms"]["OnDemand"]["AA2WR8MX3T8BEJ4H"]["AA2WR8MX3T8BEJ4H.JRTCKXETXF"]["priceDimensions"]
        next(d for d in dims.values() if d["beginRange"] == "10240")["beginRange"] = "10000"
    download = _aws_download(tmp_path, "aws-data-transfer", edit=gap)
    assert_one_line_error(cli("pricing", "import", "aws", "--from", download, "--pricing", BASE),
                          "aws-data-transfer.json", "does not follow on")


def test_aws_savings_plan_term_of_another_length_is_bad_input(cli, tmp_path):
    def two_years(name, data):
        if name == "aws-savings-plans":
            data["terms"]["savingsPlan"][0]["leaseContractLength"]["duration"] = 2
    download = _aws_download(tmp_path, "aws", "aws-savings-plans", edit=two_years)
    assert_one_line_error(cli("pricing", "import", "aws", "--from", download, "--pricing", BASE),
                          "terms.savingsPlan[0].leaseContractLength", "expected 1 or 3 years")


def test_fetch_aws_downloads_the_ec2_s3_and_data_transfer_files_of_each_region(tmp_path):
    from planner.catalog.importers.fetch import fetch
    base = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws"
    seen: list = []
    opener = _answers({f"{base}/AmazonEC2/current/us-east-1/index.json": FILES / "aws" / "index.json",
                       f"{base}/AmazonS3/current/us-east-1/index.json": FILES / "aws-s3" / "index.json",
                       f"{base}/AWSDataTransfer/current/us-east-1/index.json":
                           FILES / "aws-data-transfer" / "index.json"}, seen)
    written = fetch("aws", tmp_path / "dl", frozenset({"us-east-1"}), opener)
    assert [p.name for p in written] == ["us-east-1.json", "us-east-1-s3.json", "us-east-1-data-transfer.json"]
    sections = {r.section for r in parse_files("aws", tmp_path / "dl", Options()).rows}
    assert sections == {"compute", "block_storage", "object_storage", "transfer", "network"}
