"""What the plan prices is what the bundle creates (issue 11, part 3): per group, the rendered Terraform holds the
plan's peak node count (fixed instances, or an autoscaling group's maximum with the always-on base as its
minimum), and on Hetzner as many fixed-size load balancers as the plan's "load balancers" line buys.

Plans: the saved 20k-MAU AWS/GCP plans, the default 1M-MAU public plan (Hetzner) and 20M-MAU plans per provider.
A 20M-MAU Hetzner plan needs more servers than one Hetzner network holds: the bundle refuses it in one line.
"""
from __future__ import annotations

import math
from collections import defaultdict

import pytest

from planner.errors import PlannerError
from planner.render import render_bundle
from tests.bundle.conftest import load_fixture_plan

hcl2 = pytest.importorskip("hcl2")

AUTOSCALED = ("on_demand (autoscaled)", "spot (autoscaled)")
CASES = {"plan-aws-public.json": "aws", "plan-gcp-public.json": "gcp", "plan-hetzner-public.json": "hetzner",
         "plan-aws-public-20m.json": "aws", "plan-gcp-public-20m.json": "gcp"}


def _plan_groups(plan: dict) -> dict[str, tuple[int, int]]:
    """{group name: (always-on count, peak count)} from the plan's node rows (a group = one tier string)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in next(s for s in plan["strategies"] if s["name"] == "public")["nodes"]:
        name = row["tier"].replace("+", "_")
        out[name][1] += row["count"]
        if row["purchase"] not in AUTOSCALED:
            out[name][0] += row["count"]
    return {k: (v[0], v[1]) for k, v in out.items()}


def _resources(files: dict) -> dict[str, dict[str, dict]]:
    """{resource type: {name: body}} over every rendered .tf file."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    for path, text in files.items():
        if path.endswith(".tf"):
            for block in hcl2.loads(text).get("resource", []):
                for rtype, named in block.items():
                    out[rtype.strip('"')].update({n.strip('"'): body for n, body in named.items()})
    return out


def _rendered_groups(resources: dict, provider: str) -> dict[str, tuple[int, int]]:
    """{group name: (minimum, maximum)} of what the Terraform creates."""
    out = {}
    if provider == "aws":
        out.update({n: (b["count"], b["count"]) for n, b in resources.get("aws_instance", {}).items()})
        out.update({n: (b["min_size"], b["max_size"]) for n, b in resources.get("aws_autoscaling_group", {}).items()})
    elif provider == "gcp":
        managers = resources.get("google_compute_region_instance_group_manager", {})
        scalers = resources.get("google_compute_region_autoscaler", {})
        for n, b in managers.items():
            policy = scalers[n]["autoscaling_policy"][0] if n in scalers else None
            out[n] = ((policy["min_replicas"], policy["max_replicas"]) if policy
                      else (b["target_size"], b["target_size"]))
    else:
        out.update({n: (b["count"], b["count"]) for n, b in resources.get("hcloud_server", {}).items()})
    return out


@pytest.mark.parametrize("plan_name", list(CASES), ids=lambda v: v.removesuffix(".json"))
def test_every_group_gets_the_plans_node_count(plan_name):
    provider = CASES[plan_name]
    plan = load_fixture_plan(plan_name)
    expected = _plan_groups(plan)
    rendered = _rendered_groups(_resources(render_bundle(plan, "public")), provider)
    assert set(rendered) == set(expected), (sorted(rendered), sorted(expected))
    for name, (base, peak) in expected.items():
        low, high = rendered[name]
        assert high == peak, (name, rendered[name], expected[name])
        # autoscaling groups never scale below the always-on base (at least one node); fixed groups run the peak
        assert low in (max(base, 1), peak), (name, rendered[name], expected[name])


def test_hetzner_creates_the_load_balancers_the_plan_prices():
    plan = load_fixture_plan("plan-hetzner-public.json")
    entry = next(s for s in plan["strategies"] if s["name"] == "public")
    (line,) = [ln for ln in entry["lines"] if ln["unit"] == "load balancers"]
    resources = _resources(render_bundle(plan, "public"))
    count = math.ceil(line["quantity"])
    assert count > 1          # the default workload's busiest hour needs more than one lb11
    for rtype in ("hcloud_load_balancer", "hcloud_load_balancer_network", "hcloud_load_balancer_service"):
        (body,) = resources[rtype].values()
        assert body["count"] == count, rtype
    assert resources["hcloud_load_balancer"]["main"]["load_balancer_type"].strip('"') == line["item"].split()[0]
    for target in resources["hcloud_load_balancer_target"].values():
        assert target["count"] == count


def test_a_20m_mau_hetzner_plan_is_refused_in_one_line():
    plan = load_fixture_plan("plan-hetzner-public-20m.json")
    with pytest.raises(PlannerError, match=r"need \d+ servers in one private network; Hetzner allows 100") as err:
        render_bundle(plan, "public")
    assert "\n" not in str(err.value)
