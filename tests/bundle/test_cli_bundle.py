"""`implan bundle` behaviour: bad input exits 2 with one line, deterministic output, one atomic writer."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from planner.cli import app
from planner.errors import PlannerError
from planner.render import build_context, render_bundle, write_bundle
from planner.render.context import aws_arch
from tests.bundle.conftest import FIXTURES, load_fixture_plan

AWS_PLAN = str(FIXTURES / "plan-aws-public.json")


def _run(args):
    return CliRunner().invoke(app, ["bundle", *args])


def _one_error_line(result):
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("implan: error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_plan_file(tmp_path):
    line = _one_error_line(_run(["--plan", str(tmp_path / "nope.json"), "--out", str(tmp_path / "b"), "--no-wheel"]))
    assert "--plan " in line and "nope.json: plan JSON file not found" in line
    assert not (tmp_path / "b").exists()


def test_plan_file_that_is_not_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    line = _one_error_line(_run(["--plan", str(bad), "--out", str(tmp_path / "b"), "--no-wheel"]))
    assert "not valid JSON" in line


def test_non_empty_out_dir_without_force(tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = _one_error_line(_run(["--plan", AWS_PLAN, "--out", str(out), "--no-wheel"]))
    assert "not empty" in line and "--force" in line
    assert (out / "keep.txt").read_text() == "mine"


def test_force_replaces_the_directory(tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    result = _run(["--plan", AWS_PLAN, "--out", str(out), "--no-wheel", "--force"])
    assert result.exit_code == 0, result.output
    assert not (out / "stale.txt").exists()
    assert (out / "README.md").is_file() and (out / "terraform" / "aws" / "compute.tf").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]          # no staging directory left behind


def test_unknown_strategy(tmp_path):
    line = _one_error_line(_run(["--plan", AWS_PLAN, "-s", "cloudy", "--out", str(tmp_path / "b")]))
    assert "--strategy cloudy" in line and "public, private, hybrid" in line


def test_strategy_missing_from_plan(tmp_path):
    line = _one_error_line(_run(["--plan", AWS_PLAN, "-s", "private", "--out", str(tmp_path / "b"),
                                 "--no-wheel"]))
    assert "no strategy 'private'" in line


def test_out_is_required(tmp_path):
    line = _one_error_line(_run(["--plan", AWS_PLAN]))
    assert "--out" in line


def test_plan_with_a_bad_node_row(tmp_path):
    plan = load_fixture_plan("plan-aws-public.json")
    plan["strategies"][0]["nodes"][0]["tier"] = "gateway+teleporter"
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps(plan))
    line = _one_error_line(_run(["--plan", str(bad), "--out", str(tmp_path / "b"), "--no-wheel"]))
    assert "nodes[0].tier" in line and "teleporter" in line


def test_plan_with_two_quorum_witnesses(tmp_path):
    plan = load_fixture_plan("plan-private-witness.json")
    entry = next(s for s in plan["strategies"] if s["name"] == "private")
    entry["nodes"].append(dict(next(n for n in entry["nodes"] if n["tier"] == "witness")))
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps(plan))
    line = _one_error_line(_run(["--plan", str(bad), "-s", "private", "--out", str(tmp_path / "b"), "--no-wheel"]))
    assert "one quorum witness VM, got 2" in line and not (tmp_path / "b").exists()


def test_missing_wheel_file(tmp_path):
    line = _one_error_line(_run(["--plan", AWS_PLAN, "--out", str(tmp_path / "b"),
                                 "--wheel", str(tmp_path / "x.whl")]))
    assert "--wheel" in line


def test_same_plan_renders_byte_identical_files(tmp_path):
    plan = load_fixture_plan("plan-aws-hybrid.json")
    first = render_bundle(plan, "hybrid", wheel=("implan-0.1.0-py3-none-any.whl", b"wheel"))
    second = render_bundle(json.loads(json.dumps(plan)), "hybrid", wheel=("implan-0.1.0-py3-none-any.whl", b"wheel"))
    assert first == second
    a, b = tmp_path / "a", tmp_path / "b"
    write_bundle(first, a)
    write_bundle(second, b)
    files_a = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    assert files_a == files_b and len(files_a) > 30


def test_private_strategy_emits_ansible_only_with_inventory_template_and_hardware_bom():
    files = render_bundle(load_fixture_plan("plan-tiny.json"), "private")
    assert not any(p.startswith("terraform/") for p in files)
    assert "ansible/site.yml" in files and "ansible/hosts.example.yml" in files
    bom = files["bom.csv"].splitlines()
    kinds = {row.split(",")[0] for row in bom[1:]}
    assert {"server", "rack", "transit"} <= kinds
    assert "minio" in files["ansible/hosts.example.yml"]


def test_context_is_pure_and_maps_tiers_to_roles():
    plan = load_fixture_plan("plan-aws-hybrid.json")
    snapshot = json.dumps(plan, sort_keys=True)
    ctx = build_context(plan, "hybrid")
    assert json.dumps(plan, sort_keys=True) == snapshot           # the plan is not mutated
    by_name = {g["name"]: g for g in ctx["groups"]}
    assert by_name["cache_load_balancer_own"]["roles"] == ["redis", "loadbalancer"]
    assert by_name["gateway_message"]["roles"] == ["imserver"]
    aws = ctx["aws"]["groups"][0]
    assert aws["asg"] and aws["min_size"] == 1 and aws["max_size"] == 3 and aws["on_demand_above_base_pct"] == 100
    assert ctx["media_backend"] == "minio"


def _aws_plan_with_nodes(nodes: list[dict]) -> dict:
    plan = load_fixture_plan("plan-aws-public.json")
    public = next(s for s in plan["strategies"] if s["name"] == "public")
    public["nodes"] = [{"provider": "aws", "region": "us-east-1", "monthly_cost_usd": 1.0, **n} for n in nodes]
    return plan


def test_spot_rows_become_a_mixed_instances_policy():
    plan = _aws_plan_with_nodes([
        {"tier": "gateway", "type": "c7g.large", "count": 3, "purchase": "commit_1y", "vcpu": 2, "memory_gib": 4},
        {"tier": "gateway", "type": "c7g.large", "count": 1, "purchase": "on_demand (autoscaled)", "vcpu": 2,
         "memory_gib": 4},
        {"tier": "gateway", "type": "c7g.xlarge", "count": 3, "purchase": "spot (autoscaled)", "vcpu": 4,
         "memory_gib": 8}])
    (g,) = build_context(plan, "public")["aws"]["groups"]
    # base 3 committed on-demand; above it 1 on-demand : 3 spot → 25% on-demand
    assert (g["min_size"], g["max_size"], g["on_demand_base"], g["on_demand_above_base_pct"]) == (3, 7, 3, 25)
    assert g["types"] == ["c7g.large", "c7g.xlarge"] and g["spot"]
    tf = render_bundle(plan, "public")["terraform/aws/compute.tf"]
    assert "on_demand_percentage_above_base_capacity = 25" in tf and 'instance_type = "c7g.xlarge"' in tf


def test_aws_arch_detection():
    assert aws_arch("c7g.large") == "arm64" and aws_arch("m7gd.xlarge") == "arm64"
    assert aws_arch("c7i.large") == "x86_64" and aws_arch("m7a.large") == "x86_64"


def test_unknown_purchase_is_rejected():
    plan = _aws_plan_with_nodes([{"tier": "gateway", "type": "t", "count": 1, "purchase": "lease", "vcpu": 1,
                                  "memory_gib": 1}])
    with pytest.raises(PlannerError, match=r"nodes\[0\]\.purchase: Input should be 'commit_1y'"):
        build_context(plan, "public")


def test_plan_json_is_the_input_plan_verbatim(tmp_path):
    out = tmp_path / "b"
    result = _run(["--plan", AWS_PLAN, "--out", str(out), "--no-wheel"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "plan.json").read_text()) == load_fixture_plan("plan-aws-public.json")


def test_terraform_outputs_feed_variables_the_ansible_roles_know():
    """Every key of the AWS `ansible_vars` output is a variable some role or group_vars file defines."""
    import re

    files = render_bundle(load_fixture_plan("plan-aws-public.json"), "public")
    out = files["terraform/aws/outputs.tf"]
    block = out[out.index('output "ansible_vars"'):]
    keys = re.findall(r"^\s+(\w+)\s+=", block.split("value = {", 1)[1].split("\n  }", 1)[0], flags=re.M)
    assert "imserver_s3_bucket" in keys
    known = "\n".join(text for path, text in files.items()
                      if path.startswith("ansible/") and ("defaults/" in path or "group_vars/" in path))
    for key in keys:
        assert re.search(rf"^{key}:", known, flags=re.M), f"{key} is not an Ansible variable of the bundle"


def test_out_under_a_read_only_parent(tmp_path, monkeypatch):
    # tests run as root, for whom chmod 0555 does not stop writes: make the staging directory fail instead,
    # as it does on a read-only mount or a directory the user may not write
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    line = _one_error_line(_run(["--plan", AWS_PLAN, "--out", str(tmp_path / "b"), "--no-wheel"]))
    assert f"--out {tmp_path / 'b'}: cannot write into {tmp_path}: Permission denied" in line


def test_write_failure_after_rendering_is_one_line(tmp_path, monkeypatch):
    import planner.render

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(planner.render, "write_bundle", disk_full)
    line = _one_error_line(_run(["--plan", AWS_PLAN, "--out", str(tmp_path / "b"), "--no-wheel"]))
    assert "cannot write the bundle: No space left on device" in line


@pytest.mark.parametrize("constant", ["NaN", "Infinity"])
def test_plan_with_a_non_finite_number(tmp_path, constant):
    plan = load_fixture_plan("plan-aws-public.json")
    plan["strategies"][0]["monthly_cost_usd"] = "MARK"
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps(plan).replace('"MARK"', constant))
    line = _one_error_line(_run(["--plan", str(bad), "--out", str(tmp_path / "b"), "--no-wheel"]))
    assert f"--plan {bad}" in line and f"{constant} is not a number" in line
    assert not (tmp_path / "b").exists()
