"""`implan` through typer's CliRunner (COLUMNS=120): golden files on the tiny catalog, the JSON contract,
csv, --out, --export-model, workload and pricing commands, --version."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pulp
import pytest
import yaml

import planner
from planner.optimize import solver as solver_mod
from planner.workload import Workload, load_workload, workload_to_dict
from planner_testlib import ROOT, TINY_DIR, strip_timing

GOLDEN = Path(__file__).parent / "golden"
SMALL = ["--pricing", str(TINY_DIR), "--set", "users.mau=20000"]


@pytest.fixture
def frozen_clock(monkeypatch):
    """Solver seconds read 0.00 (they are stripped from golden files too, but a fixed value also keeps the
    rich tables' column widths stable)."""
    monkeypatch.setattr(solver_mod, "time", SimpleNamespace(perf_counter=lambda: 0.0))


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    text = strip_timing(text)
    if update:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run pytest tests/planner --update-golden and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file (--update-golden)"


def test_strip_timing_removes_only_seconds():
    assert strip_timing("optimal (highs, gap 0.00%, 12.34 s)  \n") == "optimal (highs, gap 0.00%, <t> s)\n"


def test_golden_compare_table(cli, frozen_clock, update_golden):
    result = cli("compare", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 120  # the pinned width holds
    check_golden("compare-tiny.txt", result.stdout, update_golden)


def test_golden_plan_markdown(cli, frozen_clock, update_golden):
    result = cli("plan", *SMALL, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    check_golden("plan-tiny.md", result.stdout, update_golden)


def test_golden_plan_table(cli, frozen_clock, update_golden):
    result = cli("plan", *SMALL, "-s", "public", "-s", "private")
    assert result.exit_code == 0, result.stderr
    check_golden("plan-tiny-table.txt", result.stdout, update_golden)


# ---------------------------------------------------------------- the JSON contract
@pytest.fixture(scope="module")
def plan_json():
    from typer.testing import CliRunner

    from planner.cli import app
    result = CliRunner().invoke(app, ["plan", *SMALL, "--format", "json"], env={"COLUMNS": "120"},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_json_contract_fields(plan_json):
    d = plan_json
    assert isinstance(d["schema_version"], str) and d["schema_version"]
    assert d["workload"]["name"] == "consumer-chat-1m"
    derived = d["workload"]["derived"]
    assert {"dau", "peak_concurrent_connections", "peak_msgs_per_s", "media_stored_gb"} <= set(derived)
    assert derived["dau"] == pytest.approx(10000)  # 20,000 MAU * 0.5
    assert {c["name"] for c in d["catalogs"]} == {"cloudx", "colox", "chatco"}
    for c in d["catalogs"]:
        assert c["as_of"] == "2026-11-01" and len(c["sha256"]) == 64
        assert c["sha256"] == __import__("hashlib").sha256((TINY_DIR / f"{c['name']}.yaml").read_bytes()).hexdigest()
    assert [s["name"] for s in d["strategies"]] == ["public", "private", "hybrid", "serverless"]
    for s in d["strategies"]:
        assert s["status"] == "optimal"
        assert s["monthly_cost_usd"] > 0
        assert s["cost_per_mau_usd"] == pytest.approx(s["monthly_cost_usd"] / 20000, abs=1e-6)
        assert sum(s["breakdown"].values()) == pytest.approx(s["monthly_cost_usd"], abs=0.05)
        assert bool(s["nodes"]) == (s["name"] != "serverless")  # serverless runs no nodes of its own
        for n in s["nodes"]:
            assert {"tier", "provider", "region", "type", "count", "purchase", "monthly_cost_usd"} <= set(n)
            assert isinstance(n["count"], int) and n["count"] >= 1
        assert {"name", "status", "gap", "seconds"} <= set(s["solver"])
        assert s["solver"]["name"] in ("highs", "cbc") and s["solver"]["status"] == "optimal"
        assert s["solver"]["objective_usd"] == pytest.approx(s["monthly_cost_usd"], abs=0.011)
    (q,) = d["saas"]
    assert (q["provider"], q["plan"]) == ("chatco", "pro")
    assert q["monthly_cost_usd"] > 380  # 380 for users (see test_costs) plus media storage
    options = [s["monthly_cost_usd"] for s in d["strategies"]] + [q["monthly_cost_usd"]]
    assert d["cheapest"]["monthly_cost_usd"] == pytest.approx(min(options))


def test_json_nodes_match_the_catalog(plan_json):
    from planner.catalog.loader import load_catalog
    catalog = load_catalog(TINY_DIR)
    types = {(c.provider, c.region, c.type) for c in catalog.compute}
    skus = {(s.provider, s.region, k.sku) for s in catalog.private_sites for k in s.servers}
    for s in plan_json["strategies"]:
        for n in s["nodes"]:
            assert (n["provider"], n["region"], n["type"]) in types | skus
            assert n["catalog"] in ("cloudx", "colox") and n["as_of"] and n["url"]  # traceable to a source


def test_csv(cli):
    result = cli("compare", *SMALL, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["name"] for r in rows] == ["public", "private", "hybrid", "serverless", "chatco/pro"]
    assert [r["kind"] for r in rows] == ["strategy"] * 4 + ["saas"]
    for r in rows:
        assert float(r["monthly_cost_usd"]) > 0
    assert {"compute", "labour", "saas_fees"} <= set(rows[0])


def test_out_writes_the_file_and_prints_nothing(cli, tmp_path):
    target = tmp_path / "plan.json"
    result = cli("plan", *SMALL, "-s", "public", "--format", "json", "--out", target)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    data = json.loads(target.read_text())
    assert data["strategies"][0]["name"] == "public"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary file left behind


def test_export_model_resolves_to_the_same_objective(cli, tmp_path):
    out = tmp_path / "models"
    result = cli("plan", *SMALL, "--format", "json", "--export-model", out)
    assert result.exit_code == 0, result.stderr
    strategies = {s["name"]: s for s in json.loads(result.stdout)["strategies"]}
    assert sorted(p.name for p in out.iterdir()) == ["hybrid.mps", "private.mps", "public.mps", "serverless.mps"]
    for name, s in strategies.items():
        _, prob = pulp.LpProblem.fromMPS(str(out / f"{name}.mps"))
        prob.solve(pulp.PULP_CBC_CMD(msg=False))  # another solver than the planner's HiGHS
        assert pulp.LpStatus[prob.status] == "Optimal", name
        assert pulp.value(prob.objective) == pytest.approx(s["solver"]["objective_usd"], abs=0.011), name


# ---------------------------------------------------------------- workload commands
def test_workload_init_then_plan(cli, tmp_path):
    path = tmp_path / "mine.yaml"
    result = cli("workload", "init", path)
    assert result.exit_code == 0 and path.exists()
    assert "#" in path.read_text()  # commented
    assert load_workload(path) == load_workload(None)
    planned = cli("plan", path, *SMALL, "-s", "public", "--format", "json")
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["strategies"][0]["status"] == "optimal"


def test_workload_init_to_stdout(cli):
    result = cli("workload", "init")
    assert result.exit_code == 0
    assert Workload.model_validate(yaml.safe_load(result.stdout)) == load_workload(None)


def _leaf_paths(data, prefix=""):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaf_paths(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip(".")


def test_workload_show_prints_every_default(cli):
    result = cli("workload", "show")
    assert result.exit_code == 0
    shown = yaml.safe_load(result.stdout)
    assert shown == workload_to_dict(load_workload(None))
    # every field of the schema, including those the default file leaves out, with its default filled in
    assert set(_leaf_paths(workload_to_dict(Workload()))) == set(_leaf_paths(shown))
    assert shown["solver"]["time_limit_s"] == 60 and shown["purchase"]["spot_max_share"] == 0.5
    as_json = cli("workload", "show", "--format", "json", "--set", "users.mau=7")
    assert json.loads(as_json.stdout)["users"]["mau"] == 7


# ---------------------------------------------------------------- pricing commands (shipped catalogs: structure only)
LIST_COLUMNS = {"provider", "region", "type", "vcpu", "memory_gib", "usd_per_hour", "usd_per_hour_commit_1y",
                "usd_per_hour_spot"}


def test_pricing_list_json(cli):
    result = cli("pricing", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(LIST_COLUMNS <= set(r) for r in rows)
    assert {"aws", "gcp", "azure"} <= {r["provider"] for r in rows}
    assert all(r["vcpu"] > 0 and r["memory_gib"] > 0 and r["usd_per_hour"] > 0 for r in rows)
    assert len({(r["provider"], r["region"], r["type"]) for r in rows}) == len(rows)


def test_pricing_list_csv_and_filters(cli):
    result = cli("pricing", "list", "--format", "csv", "--pricing", TINY_DIR)
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert LIST_COLUMNS <= set(rows[0])
    assert [(r["type"], float(r["usd_per_hour"]), r["usd_per_hour_spot"]) for r in rows] == [
        ("small", 0.10, "0.03"), ("big", 0.40, "")]
    shipped = cli("pricing", "list", "--format", "csv", "--provider", "aws")
    assert {r["provider"] for r in csv.DictReader(io.StringIO(shipped.stdout))} == {"aws"}


def test_pricing_validate_shipped(cli):
    # the installed default directory loads and validates; its freshness (18 months) is the CI check in
    # test_pricing_validate.py, run on the source tree's pricing/ (an editable install may map the default elsewhere)
    result = cli("pricing", "validate", "--max-age-months", "1200")
    assert result.exit_code == 0, result.output
    assert "catalogs valid" in result.stdout


def test_pricing_validate_exits_1_on_a_stale_source(cli):
    # the tiny catalog's prices are from 2026-11-01: with a 0-day limit every source is stale, and none is marked
    result = cli("pricing", "validate", "--pricing", TINY_DIR, "--max-age-days", "0")
    assert result.exit_code == 1
    assert "error: cloudx: source test: as_of 2026-11-01" in result.stdout


def test_pricing_show(cli):
    result = cli("pricing", "show", "cloudx", "--pricing", TINY_DIR)
    assert result.exit_code == 0 and "cloudx" in result.stdout and "sha256" in result.stdout


# ---------------------------------------------------------------- version
def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"implan {planner.__version__}"


def test_python_m_planner_version():
    done = subprocess.run([sys.executable, "-m", "planner", "--version"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"implan {planner.__version__}"


def test_a_row_older_than_its_source_makes_the_catalog_stale(cli, tmp_path):
    # a price row may carry its own as_of; the catalog is as old as its oldest price, sources or rows
    from planner.catalog.loader import load_catalog
    from planner_testlib import tiny_files, write_catalogs
    files = tiny_files()
    files["cloudx"]["compute"][1]["as_of"] = "2020-01-01"
    directory = write_catalogs(tmp_path / "cat", files)
    info = {i.name: i.as_of.isoformat() for i in load_catalog(directory).infos}
    assert info == {"cloudx": "2020-01-01", "colox": "2026-11-01", "chatco": "2026-11-01"}
    import datetime as dt
    max_age = (dt.date.today() - dt.date(2026, 11, 1)).days + 30  # the tiny prices are fresh, 2020 is not
    result = cli("pricing", "validate", "--pricing", directory, "--max-age-days", str(max_age))
    assert result.exit_code == 1
    assert "error: cloudx: source test: as_of 2020-01-01" in result.stdout
    assert "colox" not in result.stdout.split("catalogs loaded")[0]
