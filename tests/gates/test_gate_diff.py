"""implan diff: per-strategy price/load/topology attribution that sums to the total change, and its bad inputs."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import solve_dict

from planner.diff import diff_plans
from planner.plan_json import PlanFileError, validate_plan


def _check_sums(d: dict) -> None:
    for s in d["strategies"]:
        if s["delta_usd"] is None:
            continue
        a = s["attribution"]
        assert round(a["price"] + a["load"] + a["topology"], 2) == s["delta_usd"], s["name"]
        assert round(s["old_usd"] + s["delta_usd"], 2) == s["new_usd"]


def test_identical_plans_have_no_change(plan_20k):
    d = diff_plans(plan_20k, copy.deepcopy(plan_20k))
    assert not d["prices_changed"] and not d["load_changed"] and d["catalog_changes"] == []
    for s in d["strategies"]:
        assert s["delta_usd"] == 0 and s["attribution"] == {"price": 0, "load": 0, "topology": 0}
        assert s["lines"] == []


def test_load_change_is_attributed_to_load(plan_20k):
    new = solve_dict(24000)
    d = diff_plans(plan_20k, new)
    _check_sums(d)
    assert d["load_changed"] and not d["prices_changed"]
    public = next(s for s in d["strategies"] if s["name"] == "public")
    # same nodes at 20k and 24k MAU on the tiny catalog: storage, egress and LB units grow with the users
    assert public["attribution"]["price"] == 0 and public["attribution"]["topology"] == 0
    assert public["attribution"]["load"] == public["delta_usd"] > 0
    assert {r["field"] for r in d["demand_changes"]} >= {"mau", "dau", "media_stored_gb"}


def _repriced(plan: dict) -> float:
    """What the `pricier` catalog adds to the old public plan's own quantities (by its lines)."""
    public = next(s for s in plan["strategies"] if s["name"] == "public")
    hours = sum(x["quantity"] for x in public["lines"] if x["item"].startswith(("gateway", "message", "database",
                                                                                "cache"))
                and "small, commit_1y" in x["item"])
    egress = sum(x["quantity"] for x in public["lines"] if x["item"].startswith("internet egress"))
    return 0.01 * hours + 0.01 * egress


def test_price_change_reprices_the_old_topology(plan_20k, pricier):
    d = diff_plans(plan_20k, solve_dict(20000, pricier))
    _check_sums(d)
    assert [c["name"] for c in d["catalog_changes"]] == ["cloudx"] and not d["load_changed"]
    public = next(s for s in d["strategies"] if s["name"] == "public")
    # the old quantities at the new prices: committed small-node hours x +0.01 $/h, internet egress GB x +0.01 $/GB
    assert public["attribution"]["price"] == pytest.approx(_repriced(plan_20k), abs=0.02)
    assert public["attribution"]["price"] > 0
    assert public["attribution"]["load"] == 0
    private = next(s for s in d["strategies"] if s["name"] == "private")  # colox did not change
    assert private["delta_usd"] == 0 and private["attribution"]["price"] == 0


def test_price_and_load_change_together(plan_20k, pricier):
    d = diff_plans(plan_20k, solve_dict(24000, pricier))
    _check_sums(d)
    public = next(s for s in d["strategies"] if s["name"] == "public")
    # the price part re-prices the OLD quantities: the same as the price-only case
    assert public["attribution"]["price"] == pytest.approx(_repriced(plan_20k), abs=0.02)
    assert public["attribution"]["load"] > 0


def test_topology_change_without_load_or_price_change(plan_20k):
    d = diff_plans(plan_20k, solve_dict(20000, extra=["placement.pooling=dedicated"]))
    _check_sums(d)
    assert not d["load_changed"] and not d["prices_changed"]
    public = next(s for s in d["strategies"] if s["name"] == "public")
    assert public["delta_usd"] > 0  # pooled was cheaper (the default `auto` picked it)
    assert public["attribution"]["topology"] == public["delta_usd"]
    assert {n["change"] for n in public["nodes"]} >= {"added", "removed"}
    assert any(w["path"] == "placement.pooling" for w in d["workload_changes"])


def test_diff_formats(run, tmp_path, baseline_file, tiny):
    new = tmp_path / "new.json"
    assert run("plan", "--pricing", tiny, "--set", "users.mau=24000", "-f", "json", "-o", new).exit_code == 0
    r = run("diff", baseline_file, new, "-f", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["strategies"][0]["name"] == "public" and data["load_changed"]
    md = run("diff", baseline_file, new, "-f", "markdown")
    assert md.exit_code == 0 and "▲ +$" in md.stdout and "<details>" in md.stdout
    table = run("diff", baseline_file, new)
    assert table.exit_code == 0 and "implan diff" in table.stdout and "topology" in table.stdout
    out = tmp_path / "d.md"
    assert run("diff", baseline_file, new, "-f", "markdown", "-o", out).exit_code == 0
    assert out.read_text(encoding="utf-8") == md.stdout


BAD = [
    ("missing", None, "plan JSON file not found"),
    ("empty.json", "", "empty file"),
    ("broken.json", '{"schema_version": "1.0",\n  "workload": }', "not valid JSON: Expecting value at line 2"),
    ("list.json", "[]", "expected a JSON object at the top, found list"),
    ("noschema.json", "{}", "missing 'schema_version'"),
    ("v9.json", '{"schema_version": "9.0"}', "schema_version 9.0 is not supported"),
]


@pytest.mark.parametrize("name,text,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_plan_files_exit_2_with_one_line(run, tmp_path, baseline_file, name, text, expected):
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    r = run("diff", path, baseline_file)
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_malformed_strategy_is_named(run, tmp_path, plan_20k, baseline_file):
    bad = copy.deepcopy(plan_20k)
    bad["strategies"][1]["lines"][0].pop("quantity")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    r = run("diff", baseline_file, path)
    assert r.exit_code == 2 and "strategies[1].lines[0].quantity: Field required" in r.stderr


def test_diff_reads_a_schema_1_baseline(plan_20k):
    # plans written before cost terms (schema 1.0) have no unit prices on their lines; diff reads them alike
    old = json.loads(json.dumps(plan_20k))
    old["schema_version"] = "1.0"
    for s in old["strategies"]:
        for line in s["lines"]:
            line.pop("usd_per_unit", None)
            line.pop("tiers", None)
            line.pop("basis", None)
    d = diff_plans(validate_plan(old, "old.json"), solve_dict(24000))
    _check_sums(d)
    assert plan_20k["schema_version"] == "2.2"
    with pytest.raises(PlanFileError, match="expected 1.x or 2.x"):
        validate_plan({**old, "schema_version": "3.0"}, "future.json")


def _edited_plan(plan: dict, edit) -> dict:
    bad = copy.deepcopy(plan)
    edit(bad)
    return bad


MALFORMED = [
    ("breakdown-string", lambda p: p["strategies"][0]["breakdown"].update(compute="lots"),
     'strategies[0].breakdown.compute: Input should be a valid number (got "lots")'),
    ("breakdown-null", lambda p: p["strategies"][0]["breakdown"].update(compute=None),
     "strategies[0].breakdown.compute: Input should be a valid number (got null)"),
    ("catalog-object", lambda p: p["strategies"][0]["lines"][0].update(catalog={"name": "cloudx"}),
     "strategies[0].lines[0].catalog: Input should be a valid string (got an object)"),
    ("duplicate-strategy", lambda p: p["strategies"].append(copy.deepcopy(p["strategies"][0])),
     "strategy public listed more than once"),
    ("huge-cost", lambda p: p["strategies"][0].update(monthly_cost_usd=1e300),
     "strategies[0].monthly_cost_usd: Input should be less than or equal to"),
]


@pytest.mark.parametrize("name,edit,expected", MALFORMED, ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("command", ["diff", "check"])
def test_malformed_baseline_is_one_line(run, tmp_path, plan_20k, baseline_file, tiny, command, name, edit, expected):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(_edited_plan(plan_20k, edit)), encoding="utf-8")
    args = ("diff", path, baseline_file) if command == "diff" else (
        "check", "--pricing", tiny, "--set", "users.mau=20000", "--baseline", path)
    r = run(*args)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1, (r.exit_code, r.output)
    assert str(path) in lines[0] and expected in lines[0], lines[0]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_number_in_a_baseline_is_rejected(run, tmp_path, plan_20k, baseline_file, constant):
    text = json.dumps(plan_20k).replace(f'"monthly_cost_usd": {plan_20k["strategies"][0]["monthly_cost_usd"]}',
                                        f'"monthly_cost_usd": {constant}', 1)
    assert constant in text
    path = tmp_path / "nan.json"
    path.write_text(text, encoding="utf-8")
    r = run("diff", path, baseline_file, "-f", "json")
    assert r.exit_code == 2 and "is not a number (a plan JSON holds finite numbers only)" in r.stderr, r.output
    assert r.stdout == ""


def test_json_output_never_holds_non_finite_numbers():
    from planner.errors import OutputError
    from planner.report import to_json

    assert to_json({"x": 1.5}) == '{\n  "x": 1.5\n}\n'
    with pytest.raises(OutputError, match="non-finite number"):
        to_json({"x": float("nan")})
