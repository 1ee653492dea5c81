"""The plan JSON contract (planner/plan_json.py): what `report` writes satisfies it field for field, and what it
refuses is one line naming the file, the field and what was expected."""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import BaseModel

from planner.plan_json import Plan, PlanFileError, read_plan, reference_markdown, validate_plan
from tests.planner.planner_testlib import ROOT, TINY_DIR

BUNDLE_FIXTURES = sorted((ROOT / "tests" / "bundle" / "fixtures").glob("plan-*.json"))


@pytest.fixture(scope="module")
def reported() -> dict:
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.optimize import plan
    from planner.report import plan_to_dict
    from planner.workload import load_workload

    return plan_to_dict(plan(load_workload(None, ["users.mau=20000"]), load_profile(), load_catalog(TINY_DIR)))


def _undeclared(model: BaseModel, where: str = "") -> list[str]:
    """Fields the data has but the contract does not declare, anywhere below ``model``."""
    out = [f"{where}.{k}" if where else k for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                out += _undeclared(item, f"{where}.{name}[{i}]" if where else f"{name}[{i}]")
    return out


def test_report_output_satisfies_the_contract_and_declares_every_field(reported):
    assert {s["name"] for s in reported["strategies"]} == {"public", "private", "hybrid", "serverless"}
    assert any(s["nodes"] for s in reported["strategies"]) and reported["saas"]
    model = Plan.model_validate(reported)
    assert _undeclared(model) == []
    assert validate_plan(reported, "x") is reported          # the readers get the plan itself, unchanged


def test_undeclared_fields_are_seen(reported):
    extended = copy.deepcopy(reported)
    extended["strategies"][0]["nodes"][0]["colour"] = "blue"
    assert _undeclared(Plan.model_validate(extended)) == ["strategies[0].nodes[0].colour"]


@pytest.mark.parametrize("path", BUNDLE_FIXTURES, ids=[p.name for p in BUNDLE_FIXTURES])
def test_the_committed_example_plans_satisfy_the_contract(path):
    assert read_plan(path)["strategies"]


def _write(tmp_path, data) -> object:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, expected", [
    (lambda p: p["workload"].update(mau=True), "workload.mau: Input should be a valid integer (got true)"),
    (lambda p: p["strategies"][0]["breakdown"].update(compute=False), "breakdown.compute: Input should be a valid "
                                                                      "number (got false)"),
    (lambda p: p["strategies"][0].update(name="cloudy"), "strategies[0].name: Input should be 'public'"),
    (lambda p: p["strategies"][0]["nodes"][0].update(count=1.5), "nodes[0].count: Input should be a valid "
                                                                 "integer (got 1.5)"),
    (lambda p: p["strategies"][0]["nodes"][0].update(count=-1), "nodes[0].count: Input should be greater than "
                                                                "or equal to 0"),
    (lambda p: p["strategies"][0]["nodes"][0].update(tier="gateway+warp"), "nodes[0].tier: unknown tier 'warp'"),
    (lambda p: p["strategies"][0]["nodes"][0].pop("vcpu"), "strategies[0].nodes[0].vcpu: Field required"),
    (lambda p: p["saas"].append(copy.deepcopy(p["saas"][0])), "SaaS offer chatco/"),
    (lambda p: p["catalogs"].append(copy.deepcopy(p["catalogs"][0])), "catalog chatco listed more than once"),
    (lambda p: p["saas"][0].update(status="free"), "saas[0].status: Input should be 'priced'"),
    (lambda p: p["workload"]["derived"].update(dau="many"), "workload.derived.dau: Input should be a valid number"),
])
def test_a_broken_plan_is_one_line_naming_the_field(tmp_path, reported, edit, expected):
    bad = copy.deepcopy(reported)
    edit(bad)
    path = _write(tmp_path, bad)
    with pytest.raises(PlanFileError) as info:
        read_plan(path, "--plan ")
    message = str(info.value)
    assert message.startswith(f"--plan {path}: not an implan plan JSON: ") and "\n" not in message
    assert expected in message, message


def test_a_newer_minor_version_may_add_fields(reported):
    newer = copy.deepcopy(reported)
    newer["schema_version"] = "2.7"
    newer["strategies"][0]["carbon_kg"] = 12.5
    assert validate_plan(newer, "newer.json") is newer


def test_docs_embed_the_generated_field_table():
    # regenerate with: python -c "from planner.plan_json import reference_markdown; print(reference_markdown())"
    table = reference_markdown()
    assert "| `strategies[].nodes[].purchase` | one of `commit_1y`" in table
    assert "| `strategies[].monthly_cost_usd` | number or null | yes |" in table
    assert table in (ROOT / "docs" / "plan-json.md").read_text(encoding="utf-8")
