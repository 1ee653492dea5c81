"""Metamorphic tests: relations between runs that must hold whatever the exact prices are."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from planner.catalog.loader import load_catalog
from planner.optimize import plan as run_plan
from planner.workload import Workload
from planner_testlib import SOURCES, tiny_files, write_catalogs

STRATEGIES = ["public", "private", "hybrid", "serverless"]


def _costs(result) -> dict[str, float]:
    return {s.name: s.monthly_cost_usd for s in result.strategies}


def _workload(**data) -> Workload:
    return Workload.model_validate({"saas": {"compare": False}, **data})


# ---------------------------------------------------------------- more MAU is never cheaper
MAUS = [2000, 30000, 400000, 2000000]


@pytest.mark.parametrize("shape", ["consumer-evening", "flat"])
def test_more_mau_is_never_cheaper_tiny(tiny_catalog, profile, shape):
    series = []
    for mau in MAUS:
        result = run_plan(_workload(users={"mau": mau}, load_profile={"shape": shape}), profile, tiny_catalog)
        assert all(s.status == "optimal" for s in result.strategies)
        series.append(_costs(result))
    for name in STRATEGIES:
        costs = [c[name] for c in series]
        # within the solver's relative gap (1e-4): a cheaper plan for more users would be a modelling bug
        assert all(b >= a * (1 - 1e-4) for a, b in zip(costs, costs[1:])), (name, costs)
    assert series[-1]["public"] > series[0]["public"]  # and the series is not flat


def test_more_mau_is_never_cheaper_shipped(shipped_catalog, profile):
    series = [_costs(run_plan(_workload(users={"mau": mau}), profile, shipped_catalog, ["public", "private"]))
              for mau in (20000, 300000, 1000000)]
    for name in ("public", "private"):
        costs = [c[name] for c in series]
        assert all(b >= a * (1 - 1e-4) for a, b in zip(costs, costs[1:])), (name, costs)


# ---------------------------------------------------------------- scaling every price by k scales the cost by k
def test_scaling_every_price_by_k_scales_every_cost_by_k(tmp_path, tiny_catalog, profile):
    # every tiny catalog priced in a made-up currency worth k USD: every price in the plan is k times the USD one
    k = 2.5
    files = tiny_files()
    for data in files.values():
        data["currency"] = "XTS"
    fx = {"schema": "implan-fx/1", "as_of": "2026-11-01", "source": SOURCES["test"], "usd_per_unit": {"XTS": k}}
    scaled = load_catalog(write_catalogs(tmp_path / "scaled", files, fx))
    # labour is priced by the workload (the team's cost), not by a catalog: scale it with the same k
    workload = Workload.model_validate({"users": {"mau": 300000}, "labour": {"usd_per_fte_year": 100000}})
    scaled_workload = Workload.model_validate({"users": {"mau": 300000}, "labour": {"usd_per_fte_year": 100000 * k}})
    base, times_k = run_plan(workload, profile, tiny_catalog), run_plan(scaled_workload, profile, scaled)
    for a, b in zip(base.strategies, times_k.strategies):
        assert b.monthly_cost_usd == pytest.approx(k * a.monthly_cost_usd, rel=1e-6), a.name
        assert b.breakdown() == pytest.approx({c: k * v for c, v in a.breakdown().items()}, rel=1e-6)
    assert [q.monthly_cost_usd for q in times_k.saas] == pytest.approx([k * q.monthly_cost_usd for q in base.saas])


# ---------------------------------------------------------------- unused offerings do not matter, dominating ones win
def _extended_files():
    files = tiny_files()
    files["cloudx"]["compute"].append(
        {"type": "mid", "region": "r1", "family": "m", "class": "compute", "arch": "arm64", "vcpu": 4,
         "memory_gib": 8, "on_demand_per_hour": 0.17, "commit_1y_per_hour": 0.11, "spot_per_hour": 0.07,
         "source": "test"})
    files["colox"]["servers"].append(
        {"sku": "c16", "role": "compute", "vcpu": 16, "memory_gib": 64, "storage_tb": 2, "watts": 150,
         "rack_units": 1, "capex": 3500, "amortization_years": 5, "source": "test"})
    return files


def _node_set(plan):
    return sorted((n.tier, n.type, n.count, n.purchase) for n in plan.nodes)


@pytest.mark.parametrize("mau", [20000, 1500000])
def test_removing_an_unused_offering_changes_nothing(tmp_path, profile, mau):
    workload = _workload(users={"mau": mau})
    files = _extended_files()
    before = run_plan(workload, profile, load_catalog(write_catalogs(tmp_path / "all", files)))
    used = {n.type for s in before.strategies for n in s.nodes}
    unused_types = [c["type"] for c in files["cloudx"]["compute"] if c["type"] not in used]
    unused_skus = [s["sku"] for s in files["colox"]["servers"] if s["sku"] not in used]
    assert unused_types or unused_skus, "the instance has no unused offering: pick another workload"
    trimmed = copy.deepcopy(files)
    trimmed["cloudx"]["compute"] = [c for c in files["cloudx"]["compute"] if c["type"] not in unused_types]
    trimmed["colox"]["servers"] = [s for s in files["colox"]["servers"] if s["sku"] not in unused_skus]
    after = run_plan(workload, profile, load_catalog(write_catalogs(tmp_path / "trimmed", trimmed)))
    for a, b in zip(before.strategies, after.strategies):
        assert b.monthly_cost_usd == pytest.approx(a.monthly_cost_usd, rel=1e-9), a.name
        assert _node_set(b) == _node_set(a), a.name


@pytest.mark.parametrize("mau", [20000, 1500000])
def test_a_strictly_dominating_offering_gets_used(tmp_path, profile, mau):
    workload = _workload(users={"mau": mau}, strategies=["public", "private"])
    files = _extended_files()
    before = run_plan(workload, profile, load_catalog(write_catalogs(tmp_path / "before", files)))
    # 'mega' is at least as large as every cloudx type and cheaper than each in every purchase option;
    # 'c128' has more of everything than every compute server, draws less, takes 1 U and costs less
    files["cloudx"]["compute"].append(
        {"type": "mega", "region": "r1", "family": "x", "class": "general", "arch": "x86_64", "vcpu": 8,
         "memory_gib": 32, "on_demand_per_hour": 0.05, "commit_1y_per_hour": 0.03, "spot_per_hour": 0.015,
         "source": "test"})
    files["colox"]["servers"].append(
        {"sku": "c128", "role": "compute", "vcpu": 128, "memory_gib": 512, "storage_tb": 8, "watts": 140,
         "rack_units": 1, "capex": 3000, "amortization_years": 5, "source": "test"})
    after = run_plan(workload, profile, load_catalog(write_catalogs(tmp_path / "after", files)))
    public_b, private_b = before.strategies
    public_a, private_a = after.strategies
    assert {n.type for n in public_a.nodes} == {"mega"}
    assert public_a.monthly_cost_usd < public_b.monthly_cost_usd
    assert {n.type for n in private_a.nodes if n.tier not in ("object_storage", "witness")} == {"c128"}
    assert private_a.monthly_cost_usd < private_b.monthly_cost_usd


# ---------------------------------------------------------------- residency
@pytest.mark.parametrize("jurisdiction", ["EU", "US"])
def test_residency_keeps_every_node_in_the_jurisdiction(shipped_catalog, profile, jurisdiction):
    workload = _workload(users={"mau": 20000}, placement={"residency": [jurisdiction]})
    result = run_plan(workload, profile, shipped_catalog, ["public", "private"])
    where = {(r.provider, r.region): r.jurisdiction for r in shipped_catalog.public_regions}
    where.update({(s.provider, s.region): s.jurisdiction for s in shipped_catalog.private_sites})
    assert any(s.monthly_cost_usd is not None for s in result.strategies)
    for s in result.strategies:
        if s.monthly_cost_usd is None:
            assert s.status == "infeasible" and "placement.residency" in s.message
            continue
        assert s.nodes
        assert {where[(n.provider, n.region)] for n in s.nodes} == {jurisdiction}, s.name


def test_residency_to_a_single_region_of_the_tiny_catalog(tmp_path, profile):
    # a second, cheaper cloudx region in the EU: with residency [US] it must not be used
    files = tiny_files()
    cloudx = files["cloudx"]
    cloudx["regions"].append({"id": "r2", "name": "Region Two", "jurisdiction": "EU", "failure_domains": 3})
    for section in ("compute", "block_storage", "object_storage", "transfer", "network", "load_balancers"):
        for row in list(cloudx[section]):
            twin = {**copy.deepcopy(row), "region": "r2"}
            for key in ("on_demand_per_hour", "commit_1y_per_hour", "spot_per_hour"):
                if key in twin:
                    twin[key] = round(twin[key] / 2, 4)
            cloudx[section].append(twin)
    catalog = load_catalog(write_catalogs(tmp_path / "cat", files))
    anywhere = run_plan(_workload(users={"mau": 20000}, strategies=["public"]), profile, catalog)
    us_only = run_plan(_workload(users={"mau": 20000}, strategies=["public"], placement={"residency": ["US"]}),
                       profile, catalog)
    assert {n.region for n in anywhere.strategies[0].nodes} == {"r2"}
    assert {n.region for n in us_only.strategies[0].nodes} == {"r1"}
    assert us_only.strategies[0].monthly_cost_usd > anywhere.strategies[0].monthly_cost_usd


# ---------------------------------------------------------------- --set equals editing the file
def _comparable(stdout: str) -> dict:
    data = json.loads(stdout)
    for s in data["strategies"]:
        s["solver"]["seconds"] = None
    return data


def test_set_overrides_equal_editing_the_file(tmp_path, cli, tiny_dir):
    base = {"name": "sweep", "users": {"mau": 50000}, "load_profile": {"shape": "consumer-evening"}}
    edited = copy.deepcopy(base)
    edited["users"]["mau"] = 20000
    edited["load_profile"]["shape"] = "flat"
    edited["placement"] = {"residency": ["US"]}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump(edited))
    overridden = cli("plan", tmp_path / "base.yaml", "--pricing", tiny_dir, "--format", "json",
                     "--set", "users.mau=20000", "--set", "load_profile.shape=flat", "--set", "placement.residency=[US]")
    direct = cli("plan", tmp_path / "edited.yaml", "--pricing", tiny_dir, "--format", "json")
    assert overridden.exit_code == 0 and direct.exit_code == 0, overridden.stderr + direct.stderr
    a, b = _comparable(overridden.stdout), _comparable(direct.stdout)
    assert a["workload"]["resolved"]["users"]["mau"] == 20000
    assert a == b


# ---------------------------------------------------------------- hybrid can always fall back to all-private
@pytest.mark.parametrize("target", [99.95, 99.0])
def test_hybrid_never_costs_more_than_private_plus_the_cloud_entry(tiny_catalog, profile, target):
    # with a cloud share of 0 in every hour, the dedicated hybrid plan is the dedicated private plan plus the
    # chosen region's load-balancer hours (tiny: 0.02 * 730 = 14.60): the optimum can only be cheaper
    from planner.optimize import plan_strategy
    from planner.optimize.context import PlanContext
    lb_hours = 0.02 * 730
    for mau in (20000, 3000000):
        workload = _workload(users={"mau": mau}, availability={"target_percent": target},
                             placement={"pooling": "dedicated"})
        ctx = PlanContext.build(workload, profile, tiny_catalog)
        private, hybrid = plan_strategy(ctx, "private"), plan_strategy(ctx, "hybrid")
        assert hybrid.monthly_cost_usd <= private.monthly_cost_usd + lb_hours + 1e-6, mau


def test_placement_filters_regions_and_providers(tmp_path, profile):
    files = tiny_files()
    cloudy = copy.deepcopy(files["cloudx"])
    cloudy["provider"] = "cloudy"
    for row in cloudy["compute"]:
        row["on_demand_per_hour"] /= 2
        row["commit_1y_per_hour"] /= 2
    files["cloudy"] = cloudy
    catalog = load_catalog(write_catalogs(tmp_path / "cat", files))

    def provider(**placement):
        result = run_plan(_workload(users={"mau": 20000}, strategies=["public"], placement=placement), profile,
                          catalog)
        return {n.provider for n in result.strategies[0].nodes}

    assert provider() == {"cloudy"}  # cheaper
    assert provider(providers=["cloudx"]) == {"cloudx"}
    assert provider(public_regions=["cloudx/r1"]) == {"cloudx"}


# ---------------------------------------------------------------- a faster server never costs more
def test_more_capacity_per_vcpu_never_costs_more(tmp_path, tiny_catalog, profile):
    # a measured profile (--profile) that doubles every per-vCPU throughput coefficient
    from planner.capacity import load_profile
    tiers = {}
    for tier, coefficients in profile.coefficients.items():
        for key, c in coefficients.items():
            if key.endswith("_per_vcpu"):
                tiers.setdefault(tier, {})[key] = {"value": 2 * c.value, "unit": c.unit, "source": "test bench",
                                                   "as_of": "2026-11-01", "basis": "measured"}
    path = tmp_path / "fast.yaml"
    path.write_text(yaml.safe_dump({"schema": "implan-capacity-profile/1", "name": "fast", "as_of": "2026-11-01",
                                    "source": "test", "tiers": tiers}))
    fast = load_profile(path)
    assert fast.names == ("public-anchors", "fast")
    workload = _workload(users={"mau": 3000000})
    slow_costs = _costs(run_plan(workload, profile, tiny_catalog))
    fast_costs = _costs(run_plan(workload, fast, tiny_catalog))
    for name in STRATEGIES:
        assert fast_costs[name] <= slow_costs[name] * (1 + 1e-4), name
    assert fast_costs["public"] < slow_costs["public"]
