"""Solver honesty: a time-limited solve is never reported as optimal, an infeasible workload says what to fix."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pulp
import pytest

from planner.catalog.loader import load_catalog
from planner.optimize import plan as run_plan
from planner.optimize import plan_strategy
from planner.optimize import solver as solver_mod
from planner.optimize.context import PlanContext
from planner.optimize.hybrid import build_hybrid
from planner.optimize.public import build_public
from planner.optimize.solver import solve
from planner.workload import Workload, load_workload
from planner_testlib import read_tiny, write_catalogs


@pytest.fixture
def spy(monkeypatch):
    """Record what PuLP's solver really returned (status, sol_status) for each solve."""
    seen = []
    original = pulp.LpProblem.solve

    def wrapper(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        seen.append((self.status, self.sol_status))
        return result

    monkeypatch.setattr(pulp.LpProblem, "solve", wrapper)
    return seen


@pytest.fixture(scope="module")
def big_ctx(shipped_catalog, profile):
    # the shipped catalogs at 5M MAU: every public region and instance type, thousands of columns
    return PlanContext.build(load_workload(None, ["users.mau=5000000"]), profile, shipped_catalog)


@pytest.mark.parametrize("solver_name", ["highs", "cbc"])
@pytest.mark.parametrize("time_limit_s", [0.005, 0.05])
@pytest.mark.parametrize("build", [build_public, build_hybrid], ids=["public", "hybrid"])
def test_time_limited_solve_is_never_reported_optimal(big_ctx, spy, solver_name, time_limit_s, build):
    gap_rel = 1e-4
    model = build(big_ctx, False)
    info = solve(model.prob, solver_name, time_limit_s, gap_rel)
    (status, sol_status), = spy
    assert info.status in ("optimal", "feasible", "not_solved"), info  # never "infeasible": the model is feasible
    if info.status == "optimal":
        assert sol_status == pulp.LpSolutionOptimal
        assert info.gap is not None and info.gap <= gap_rel + 1e-12
    if sol_status == pulp.LpSolutionIntegerFeasible:
        assert info.status == "feasible"
        assert info.objective_usd is not None and "time limit" in info.message
    if info.status == "not_solved":
        assert info.objective_usd is None and "time_limit_s" in info.message


def _force_integer_feasible(monkeypatch, mip_gap=0.03):
    """Make every solve look like a time-limited one: PuLP reports an integer-feasible, unproven solution."""
    original = pulp.LpProblem.solve

    def wrapper(self, solver=None, **kwargs):
        result = original(self, solver, **kwargs)
        self.sol_status = pulp.LpSolutionIntegerFeasible
        self.solverModel = SimpleNamespace(getInfo=lambda: SimpleNamespace(mip_gap=mip_gap, mip_node_count=7))
        return result

    monkeypatch.setattr(pulp.LpProblem, "solve", wrapper)


def test_unproven_solution_is_feasible_with_its_gap(monkeypatch, tiny_catalog, profile):
    _force_integer_feasible(monkeypatch, mip_gap=0.03)
    ctx = PlanContext.build(Workload.model_validate({"users": {"mau": 20000}}), profile, tiny_catalog)
    for name in ("public", "private", "hybrid"):
        plan = plan_strategy(ctx, name)
        assert plan.status == "feasible" and plan.solver.status == "feasible", name
        assert plan.solver.gap == pytest.approx(0.03)
        assert plan.monthly_cost_usd is not None


def test_unknown_gap_is_not_reported_as_zero(monkeypatch, tiny_catalog, profile):
    # an incumbent without a finite bound has an unknown gap: saying 0.00 % would claim optimality
    _force_integer_feasible(monkeypatch, mip_gap=math.inf)
    ctx = PlanContext.build(Workload.model_validate({"users": {"mau": 20000}}), profile, tiny_catalog)
    plan = plan_strategy(ctx, "public")
    assert plan.status == "feasible"
    assert plan.solver.gap is None or plan.solver.gap > 1e-4


def test_cli_reports_feasible_not_optimal(monkeypatch, cli, tiny_dir):
    import json
    _force_integer_feasible(monkeypatch, mip_gap=0.02)
    result = cli("plan", "--pricing", tiny_dir, "--set", "users.mau=20000", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    for s in data["strategies"]:
        assert s["status"] == "feasible" and s["solver"]["status"] == "feasible"
        assert s["solver"]["gap"] == pytest.approx(0.02)
    table = cli("compare", "--pricing", tiny_dir, "--set", "users.mau=20000")
    assert "optimal" not in table.stdout and "feasible" in table.stdout and "gap 2.00%" in table.stdout


# ---------------------------------------------------------------- infeasible workloads
def test_residency_nobody_offers_is_infeasible_with_the_fix(tiny_catalog, profile):
    workload = Workload.model_validate({"users": {"mau": 20000}, "placement": {"residency": ["ZZ"]}})
    result = run_plan(workload, profile, tiny_catalog)
    for s in result.strategies:
        assert s.status == "infeasible" and s.monthly_cost_usd is None, s.name
        assert "jurisdictions US are outside placement.residency" in s.message
        assert "to fix" in s.message
    (quote,) = result.saas  # the SaaS offer states no data-centre jurisdiction: residency rules it out too
    assert quote.status == "excluded" and "placement.residency [ZZ]" in quote.note and result.cheapest() is None


def test_no_allowed_instance_type_is_infeasible_and_says_which_tiers(tiny_catalog, profile):
    workload = Workload.model_validate({"users": {"mau": 20000}, "purchase": {"allowed_arch": ["arm64"]}})
    result = run_plan(workload, profile, tiny_catalog, ["public", "private"])
    public, private = result.strategies
    assert public.status == "infeasible" and "no allowed instance type can carry" in public.message
    assert "purchase.allowed_arch" in public.message  # the fix names the rule that emptied the region
    assert private.status == "optimal"  # owned servers are not filtered by the cloud arch rule


def test_too_few_failure_domains_is_infeasible_and_names_availability(tmp_path, profile):
    cloudx = read_tiny("cloudx")
    cloudx["regions"][0]["failure_domains"] = 2
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"cloudx": cloudx}))
    workload = Workload.model_validate({"users": {"mau": 20000}, "availability": {"target_percent": 99.95}})
    (plan,) = run_plan(workload, profile, catalog, ["public"]).strategies
    assert plan.status == "infeasible" and "availability" in plan.message
    relaxed = workload.model_copy(update={"availability": Workload.model_validate(
        {"availability": {"target_percent": 99.9}}).availability})
    (ok,) = run_plan(relaxed, profile, catalog, ["public"]).strategies
    assert ok.status == "optimal"


def test_a_server_too_hot_for_any_rack_is_infeasible(tmp_path, profile):
    colox = read_tiny("colox")
    for product in colox["colo_products"]:  # the cabinet's switch alone draws 60 W, and no extra power is sold
        product.update(kw_included=0.05, extra_kw_per_month=None, max_kw=None)
    catalog = load_catalog(write_catalogs(tmp_path / "cat", {"colox": colox}))
    (plan,) = run_plan(Workload.model_validate({"users": {"mau": 20000}}), profile, catalog, ["private"]).strategies
    assert plan.status == "infeasible" and plan.monthly_cost_usd is None
    assert "to fix" in plan.message


def test_cli_plan_exits_1_when_nothing_is_feasible(cli, tiny_dir):
    result = cli("plan", "--pricing", tiny_dir, "--set", "placement.residency=[ZZ]", "--format", "json")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "no strategy has a feasible plan" in result.stderr and "placement.residency" in result.stderr


def test_cli_plan_exits_0_when_one_strategy_is_feasible(cli, tiny_dir):
    import json
    result = cli("plan", "--pricing", tiny_dir, "--set", "users.mau=20000", "--set", "purchase.allowed_arch=[arm64]",
                 "-s", "public", "-s", "private", "--format", "json")
    assert result.exit_code == 0, result.stderr
    status = {s["name"]: s["status"] for s in json.loads(result.stdout)["strategies"]}
    assert status == {"public": "infeasible", "private": "optimal"}


def test_cbc_stopped_by_its_time_limit_is_not_called_infeasible(monkeypatch, tiny_catalog, profile):
    # CBC interrupted in pre-processing by the time limit prints "Pre-processing says infeasible" and PuLP reports
    # Infeasible (seen on the 5M-MAU public model at 0.01 s): without a proof that is "not solved", not "infeasible"
    original = pulp.LpProblem.solve

    def cut_short(self, solver=None, **kwargs):
        original(self, solver, **kwargs)
        self.status, self.sol_status = pulp.LpStatusInfeasible, pulp.LpSolutionNoSolutionFound
        return self.status

    monkeypatch.setattr(pulp.LpProblem, "solve", cut_short)
    ctx = PlanContext.build(Workload.model_validate({"users": {"mau": 20000}}), profile, tiny_catalog)
    info = solve(build_public(ctx, False).prob, "cbc", 1e-6, 1e-4)
    assert info.status == "not_solved" and "time_limit_s" in info.message


@pytest.mark.parametrize("solver_name", ["highs", "cbc"])
def test_a_really_infeasible_model_is_infeasible(solver_name):
    prob = pulp.LpProblem("infeasible", pulp.LpMinimize)
    x = prob.add_variable("x", lowBound=0, upBound=1, cat="Integer")
    prob += x
    prob += x >= 2, "too-much"
    info = solve(prob, solver_name, 10, 1e-4)
    assert info.status == "infeasible" and info.objective_usd is None
