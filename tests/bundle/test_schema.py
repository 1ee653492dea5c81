"""Rendered AWS and GCP Terraform against the providers' schemas, offline (issue 11, part 2).

The schemas come from the cdktf provider wheels (see provider_schema.py); `.ci/run` downloads the pinned wheels
into .cache/provider-wheels (or set IMPLAN_PROVIDER_WHEELS). Every resource and data type must exist, every
argument and block must be one the provider knows (recursively, `dynamic` blocks included), every required
argument must be set, and `versions.tf` must pin the provider version the wheel was generated from.
Hetzner has no such wheel: its subset (the resource types the template uses) was derived from the hcloud
provider repository's docs at v1.68.0 by derive_hcloud_schema.py and is kept in fixtures/hcloud-schema.json
(nested blocks whose docs do not list them separately are accepted as a whole, not checked inside).
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import pytest

from planner.render import render_bundle
from tests.bundle.conftest import FIXTURES, REPO, load_fixture_plan, require_tool
from tests.bundle.provider_schema import check, load, load_json

hcl2 = pytest.importorskip("hcl2")
WHEELS = {"aws": "cdktf_cdktf_provider_aws-19.65.1-py3-none-any.whl",
          "google": "cdktf_cdktf_provider_google-16.12.1-py3-none-any.whl"}
PREFIX = {"aws": "aws_", "google": "google_"}
# the 20M-MAU plans: `implan plan --set users.mau=20000000 --set "placement.providers=[aws]" -s public -f json`
# (and gcp): 46 and 35 nodes, autoscaled spot and on-demand rows, 29 / 15 database instances
CASES = [("plan-aws-public.json", "public", "aws"), ("plan-aws-hybrid.json", "hybrid", "aws"),
         ("plan-gcp-public.json", "public", "google"), ("plan-aws-public-20m.json", "public", "aws"),
         ("plan-gcp-public-20m.json", "public", "google")]


@lru_cache(maxsize=None)
def _schema(provider: str):
    folder = Path(os.environ.get("IMPLAN_PROVIDER_WHEELS") or REPO / ".cache" / "provider-wheels")
    wheel = folder / WHEELS[provider]
    require_tool(str(wheel) if wheel.is_file() else None, f"provider schema wheel {wheel}")
    return load(wheel)


@pytest.mark.parametrize("plan_name,strategy,provider", CASES, ids=lambda v: str(v).removesuffix(".json"))
def test_rendered_terraform_matches_the_provider_schema(plan_name, strategy, provider):
    schema = _schema(provider)
    files = render_bundle(load_fixture_plan(plan_name), strategy)
    problems, checked = [], 0
    for path, text in files.items():
        if path.endswith(".tf"):
            parsed = hcl2.loads(text)
            checked += sum(len(named) for e in parsed.get("resource", []) for t, named in e.items()
                           if t.strip('"').startswith(PREFIX[provider]))
            problems += [f"{path}: {p}" for p in check(parsed, schema, PREFIX[provider])]
    assert checked > 10
    assert not problems, "\n".join(problems)
    versions = next(t for p, t in files.items() if p.endswith(".tf") and "required_providers" in t)
    pinned = re.search(rf'{provider} = \{{\s*source\s*=\s*"hashicorp/{provider}"\s*version\s*=\s*"([^"]+)"', versions)
    assert pinned and pinned.group(1) == f"~> {schema.version}", (pinned and pinned.group(1), schema.version)


def test_the_checker_catches_a_misspelled_and_a_missing_argument():
    schema = _schema("aws")
    parsed = hcl2.loads('resource "aws_lb_target_group_attachment" "x" {\n  target_group_arnn = "a"\n}\n')
    problems = check(parsed, schema, "aws_")
    assert any("unknown argument or block 'target_group_arnn'" in p for p in problems)
    assert any("missing required argument 'target_group_arn'" in p for p in problems)
    assert check(hcl2.loads('resource "aws_nosuch" "x" {\n}\n'), schema, "aws_")


def test_rendered_hetzner_terraform_matches_the_derived_hcloud_subset():
    schema = load_json(FIXTURES / "hcloud-schema.json")
    text = render_bundle(load_fixture_plan("plan-hetzner-public.json"), "public")["terraform/hetzner/main.tf"]
    problems = check(hcl2.loads(text), schema, "hcloud_")
    assert not problems, "\n".join(problems)
    assert re.search(r'source\s*=\s*"hetznercloud/hcloud"\s*version\s*=\s*"~> 1\.68"', text)
    assert schema.resources["hcloud_load_balancer_service"].blocks["health_check"].arguments["retries"] is True


WITNESS_CASES = {"aws": ("us-east-1", "t4g.nano", "aws_"), "gcp": ("us-central1", "e2-micro", "google_"),
                 "hetzner": ("eu-central", "cx22", "hcloud_")}


def witness_plan(provider: str) -> dict:
    """The saved private plan over two cabinets, its quorum witness moved to `provider`."""
    plan = load_fixture_plan("plan-private-witness.json")
    region, instance, _ = WITNESS_CASES[provider]
    entry = next(s for s in plan["strategies"] if s["name"] == "private")
    (row,) = [n for n in entry["nodes"] if n["tier"] == "witness"]
    row.update(provider=provider, region=region, type=instance)
    return plan


@pytest.mark.parametrize("provider", sorted(WITNESS_CASES))
def test_the_witness_terraform_matches_the_provider_schema(provider):
    prefix = WITNESS_CASES[provider][2]
    schema = (load_json(FIXTURES / "hcloud-schema.json") if provider == "hetzner"
              else _schema("google" if provider == "gcp" else "aws"))
    files = render_bundle(witness_plan(provider), "private")
    assert [p for p in files if p.startswith("terraform/")] == ["terraform/witness/main.tf"]
    parsed = hcl2.loads(files["terraform/witness/main.tf"])
    types = {t.strip('"') for e in parsed.get("resource", []) for t in e}
    assert any(t.endswith(("_instance", "_server")) for t in types), types
    problems = check(parsed, schema, prefix)
    assert not problems, "\n".join(problems)
