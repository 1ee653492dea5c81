"""`implan roadmap`: known answers on hand-set needs priced from the tiny catalog, metamorphic relations on the
whole pipeline (one-month plans -> roadmap MILP), and bad input."""

from __future__ import annotations

import dataclasses

import pytest

from planner.capacity import load_profile
from planner.catalog.loader import load_catalog
from planner.growth import Period, discount_factor, mau_by_month
from planner.optimize import plan as run_plan
from planner.optimize.periods import PeriodPlan, period_plans
from planner.optimize.roadmap import build_roadmap, residual_value_usd, solve_roadmap
from planner.roadmap import roadmap
from planner.workload import load_workload

from planner_testlib import TINY_DIR
from test_bad_input import assert_one_line_error

TINY = ["--pricing", str(TINY_DIR)]


@pytest.fixture(scope="module")
def tiny():
    return load_catalog(TINY_DIR)


@pytest.fixture(scope="module")
def profile():
    return load_profile(None)


def _workload(*overrides: str):
    return load_workload(None, ["saas.compare=false", *overrides])


def _plans(needs: list[dict], running_usd: float = 0.0) -> list[PeriodPlan]:
    """Hand-set monthly needs (asset -> count) with a flat running cost, one period a month."""
    return [PeriodPlan(Period(i, i, 1, 1), None, {"compute": running_usd}, need, 0.0, 0.0, None, ())
            for i, need in enumerate(needs)]


def _schedule(model):
    from planner.terms import solved
    return [(p.action, p.month + 1, round(solved(p.quantity))) for p in model.payments
            if p.action and solved(p.quantity) > 0.5]


# ---------------------------------------------------------------- known answers
def test_commitment_starts_when_eight_months_of_need_remain(tiny):
    # cloudx "small": on demand 0.10 USD/h = 73 USD a month (730 h); 1-year commitment 0.06 USD/h = 43.80 USD
    # a month, paid all 12 months whether used or not (525.60 USD). One always-on node is needed in months
    # 5..12 of a 12-month horizon (8 months): on demand 8 x 73 = 584 > 525.60, so a commitment covers them.
    # Starting it in month 1 would also cover them at the same 525.60 undiscounted, but at 10 % a year the
    # same twelve payments are worth less the later they fall; starting after month 5 needs month 5 on demand
    # (73 > 43.80). So: commit in month 5, and the NPV is 43.80 discounted over months 5..16 (0-based 4..15).
    w = _workload("growth.horizon_months=12", "growth.discount_rate_percent=10")
    key = "commit:cloudx/r1/small"
    model = build_roadmap("public", w, tiny, _plans([{}] * 4 + [{key: 1}] * 8), None)
    info = solve_roadmap(model, w, "highs")
    assert info.status == "optimal"
    assert info.objective_usd == pytest.approx(sum(43.8 * discount_factor(m, 10) for m in range(4, 16)), abs=0.01)
    assert _schedule(model) == [("commit", 5, 1)]


def test_seven_months_of_need_stay_on_demand(tiny):
    # the same node needed in months 6..12 only: 7 x 73 = 511 < 525.60, so nothing is committed
    w = _workload("growth.horizon_months=12", "growth.discount_rate_percent=0")
    key = "commit:cloudx/r1/small"
    model = build_roadmap("public", w, tiny, _plans([{}] * 5 + [{key: 1}] * 7), None)
    info = solve_roadmap(model, w, "highs")
    assert info.objective_usd == pytest.approx(7 * 73.0, abs=0.01)
    assert _schedule(model) == []


def test_servers_are_bought_in_the_month_they_are_first_needed(tiny):
    # colox c64: capex 12,000 USD, 5-year life. One server from month 1, two from month 7, over 12 months at
    # 10 % a year: buy 1 in month 1 and 1 in month 7 (buying the second earlier pays the same capex sooner:
    # a higher present value). Each is credited at the horizon with its annuity payments not yet due
    # (residual_value_usd, at private.cost_of_capital_percent 0: straight line, 12,000 x 48/60 = 9,600 and
    # 12,000 x 54/60 = 10,800), discounted from month 12.
    w = _workload("growth.horizon_months=12", "growth.discount_rate_percent=10", "private.cost_of_capital_percent=0")
    key = "server:c64"
    model = build_roadmap("private", w, tiny, None, _plans([{key: 1}] * 6 + [{key: 2}] * 6))
    info = solve_roadmap(model, w, "highs")
    assert _schedule(model) == [("buy", 1, 1), ("buy", 7, 1)]
    assert residual_value_usd(12000, 5, 0, 12) == pytest.approx(9600)
    assert residual_value_usd(12000, 5, 0, 6) == pytest.approx(10800)
    expected = (12000 + 12000 * discount_factor(6, 10) - (9600 + 10800) * discount_factor(12, 10))
    assert info.objective_usd == pytest.approx(expected, abs=0.01)


def test_residual_value_makes_up_front_equal_to_the_annuity():
    # paying capex now and getting back the residual at the horizon, both at the cost of capital, is worth
    # what the annuity implan plan charges costs over those months
    from planner.units import amortized_per_month
    capex, years, rate, months = 12000.0, 5, 7.35, 24
    annuity = amortized_per_month(capex, years, rate)
    paid = sum(annuity * discount_factor(j, rate) for j in range(1, months + 1))
    assert capex - residual_value_usd(capex, years, rate, months) * discount_factor(months, rate) == \
        pytest.approx(paid, rel=1e-9)


def test_migration_moves_when_owning_pays_off(tiny):
    # public costs 1,000 USD a month of running costs, private 200; the move costs one month of double
    # running (1,000) plus the one-off migration cost; with no servers needed the model moves in month 2
    # (the earliest it may: it starts on public)
    w = _workload("growth.horizon_months=6", "growth.discount_rate_percent=0",
                  "growth.migration_fte_months_per_system=0")
    public = [dataclasses.replace(p, region=tiny.public_regions[0]) for p in _plans([{}] * 6, 1000.0)]
    private = _plans([{}] * 6, 200.0)
    model = build_roadmap("migration", w, tiny, public, private)
    info = solve_roadmap(model, w, "highs")
    # month 1 public 1,000; month 2 both (1,200); months 3..6 private 4 x 200; egress of 0 GB costs nothing
    assert info.objective_usd == pytest.approx(1000 + 1200 + 4 * 200, abs=0.01)
    assert [a for a in _schedule(model) if a[0] == "migrate"][0][1] == 2


# ---------------------------------------------------------------- metamorphic, whole pipeline
def test_zero_growth_and_discount_each_month_costs_the_plan(tiny, profile):
    w = _workload("growth.horizon_months=12", "growth.discount_rate_percent=0")
    one_month = {s.name: s for s in run_plan(w, profile, tiny, ["public", "private"]).strategies}
    data = roadmap(w, profile, tiny, ["public", "private"])
    by_name = {s["name"]: s for s in data["strategies"]}
    # public: the plan prices always-on nodes at the 1-year commitment; the roadmap commits them in month 1
    assert by_name["public"]["monthly_usd"] == pytest.approx([one_month["public"].monthly_cost_usd] * 12, abs=0.02)
    # private: after the first month's purchases each month costs the plan less its server annuities
    plans = period_plans("private", w, profile, tiny, [Period(0, 0, 1, w.users.mau)])
    running = one_month["private"].monthly_cost_usd - plans[0].asset_plan_usd
    assert by_name["private"]["monthly_usd"][1:] == pytest.approx([running] * 11, abs=0.02)
    capex = sum(e["usd"] for e in by_name["private"]["schedule"] if e["month"] == 1)
    assert by_name["private"]["monthly_usd"][0] == pytest.approx(running + capex, abs=0.02)


def test_zero_growth_and_discount_each_hybrid_month_costs_the_hybrid_plan(tiny, profile):
    # the hybrid plan (own servers at colox s1, always-on nodes in cloudx r1) and its roadmap: always-on nodes
    # are priced in the plan at the 1-year commitment, which the roadmap starts in month 1 for all 12 months;
    # own servers are annuities in the plan and capex in month 1 in the roadmap. So every month after the
    # first costs the plan less its server annuities, and the first that plus the servers bought.
    from planner.optimize import solve_strategy
    from planner.optimize.context import PlanContext
    from planner.terms import solved
    w = _workload("growth.horizon_months=12", "growth.discount_rate_percent=0")
    plan, model = solve_strategy(PlanContext.build(w, profile, tiny, "highs"), "hybrid")
    servers_usd = sum(solved(t.objective()) for t in model.terms if t.asset.startswith("server:"))
    assert servers_usd > 0 and any(t.asset.startswith("commit:") for t in model.terms)  # both kinds in play
    hybrid = next(s for s in roadmap(w, profile, tiny, ["hybrid"])["strategies"] if s["name"] == "hybrid")
    running = plan.monthly_cost_usd - servers_usd
    assert hybrid["monthly_usd"][1:] == pytest.approx([running] * 11, abs=0.02)
    capex = sum(e["usd"] for e in hybrid["schedule"] if e["action"] == "buy")
    assert {e["month"] for e in hybrid["schedule"]} == {1}
    assert hybrid["monthly_usd"][0] == pytest.approx(running + capex, abs=0.02)


def test_hybrid_buys_each_server_in_the_month_it_is_first_needed(tiny, profile):
    # buying a server a month later never costs more: its capex is paid later (discounted at 10 % a year) and
    # it is credited a larger residual value at the horizon (one month less of its annuity used, at the
    # positive cost of capital). So the cheapest schedule buys just in time: by every month, as many of each
    # model as the busiest month so far needs (the stock never falls: a 5-year life outlasts the horizon).
    from planner.growth import periods
    from planner.terms import solved
    w = _workload("growth.horizon_months=12", "growth.monthly_growth_percent=8", "growth.discount_rate_percent=10")
    plans = period_plans("hybrid", w, profile, tiny, periods(w, "month"))
    model = build_roadmap("hybrid", w, tiny, None, None, plans)
    assert solve_roadmap(model, w, "highs").status == "optimal"
    keys = sorted({k for p in plans for k in p.assets if k.startswith("server:")})
    assert keys
    bought = {k: [0] * 12 for k in keys}
    for p in model.payments:
        if p.action == "buy":
            bought["server:" + p.item.removeprefix("buy servers: ")][p.month] += round(solved(p.quantity))
    for key in keys:
        need = [p.assets.get(key, 0) for p in plans]
        assert need[-1] > need[0]  # growth makes later purchases: the check is not vacuous
        for m in range(12):
            assert sum(bought[key][:m + 1]) == max(need[:m + 1]), (key, m, bought[key], need)


def test_faster_growth_never_lowers_npv(tiny, profile):
    npv = {}
    for rate in (0, 3, 6):
        w = _workload("growth.horizon_months=12", f"growth.monthly_growth_percent={rate}")
        npv[rate] = {s["name"]: s["npv_usd"] for s in roadmap(w, profile, tiny)["strategies"]}
    for name in ("public", "private", "hybrid", "migration", "migration-hybrid"):
        assert npv[0][name] <= npv[3][name] + 0.01 <= npv[6][name] + 0.02, (name, npv)


def _bought_by_month(data: dict, horizon: int) -> list[float]:
    s = next(s for s in data["strategies"] if s["name"] == "private")
    out, total = [], 0.0
    for m in range(1, horizon + 1):
        total += sum(e["quantity"] for e in s["schedule"] if e["action"] == "buy" and e["month"] == m)
        out.append(total)
    return out


def test_higher_discount_rate_never_buys_earlier(tiny, profile):
    horizon = 12
    bought = {}
    for rate in (0, 5, 40):
        w = _workload(f"growth.horizon_months={horizon}", "growth.monthly_growth_percent=10",
                      f"growth.discount_rate_percent={rate}")
        bought[rate] = _bought_by_month(roadmap(w, profile, tiny, ["private"]), horizon)
    # by every month, no more servers bought at a higher rate than at a lower one
    assert all(a >= b >= c for a, b, c in zip(bought[0], bought[5], bought[40])), bought
    assert bought[40][-1] > bought[40][0]  # growth does make later purchases (the relation is not vacuous)


@pytest.mark.parametrize("growth", [5, 15])
def test_removing_the_migration_option_never_lowers_the_cost(tiny, profile, growth):
    w = _workload("growth.horizon_months=12", f"growth.monthly_growth_percent={growth}")
    npv = {s["name"]: s["npv_usd"] for s in roadmap(w, profile, tiny)["strategies"]}
    assert set(npv) == {"public", "private", "hybrid", "migration", "migration-hybrid"}
    assert min(npv["public"], npv["private"], npv["hybrid"]) >= min(npv.values()) - 0.01
    for name in ("migration", "migration-hybrid"):
        assert npv[name] <= npv["public"] + 0.01  # staying on public is one of its options


def test_quarters_plan_each_quarter_at_its_busiest_month():
    w = _workload("growth.horizon_months=7", "growth.monthly_growth_percent=10")
    from planner.growth import periods
    maus = mau_by_month(w)
    cut = periods(w, "quarter")
    assert [(p.first_month, p.months) for p in cut] == [(0, 3), (3, 3), (6, 1)]
    assert [p.mau for p in cut] == [maus[2], maus[5], maus[6]]


# ---------------------------------------------------------------- CLI and bad input
def test_cli_json_contract(cli):
    result = cli("roadmap", *TINY, "--set", "growth.horizon_months=6", "--set", "growth.monthly_growth_percent=5",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    import json
    data = json.loads(result.stdout)
    assert data["horizon_months"] == 6 and len(data["mau_by_month"]) == 6
    for s in data["strategies"]:
        assert s["status"] == "optimal" and s["solver"]["gap"] is not None
        assert len(s["cumulative_usd"]) == 6
        assert s["cumulative_usd"][-1] == pytest.approx(sum(s["monthly_usd"]), abs=0.1)
        assert s["total_usd"] == pytest.approx(sum(s["monthly_usd"]) + s["after_horizon_usd"], abs=0.1)
        assert sum(y["capex_usd"] + y["opex_usd"] for y in s["years"]) == pytest.approx(sum(s["monthly_usd"]),
                                                                                        abs=0.1)


@pytest.mark.parametrize("fmt, needle", [("table", "NPV"), ("markdown", "| month |"), ("csv", "kind,strategy")])
def test_cli_formats(cli, fmt, needle):
    result = cli("roadmap", *TINY, "--set", "growth.horizon_months=4", "--set", "growth.monthly_growth_percent=5",
                 "--format", fmt, "--period", "quarter")
    assert result.exit_code == 0, result.output
    assert needle in result.stdout


@pytest.mark.parametrize("args, needles", [
    (["--set", "growth.horizon_months=0"], ["growth.horizon_months", "greater than or equal to 1"]),
    (["--set", "growth.monthly_growth_percent=[1, 2]"], ["growth", "one per year"]),
    (["--set", "growth.mau_by_month=[10, 20]"], ["growth", "one per month of the horizon"]),
    (["--set", "growth.discount_rate_percent=-3"], ["growth.discount_rate_percent", "discounted"]),
    (["--set", "growth.monthly_growth_percent=fast"], ["growth.monthly_growth_percent", "valid number"]),
    (["--set", "growth.horizon=12"], ["growth.horizon", "did you mean 'horizon_months'"]),
    (["--strategy", "hybird"], ["--strategy hybird", "public, private, hybrid, migration, migration-hybrid"]),
])
def test_bad_input_is_one_line_exit_2(cli, args, needles):
    assert_one_line_error(cli("roadmap", *TINY, *args), *needles)


def test_growth_beyond_the_mau_bound_is_bad_input(cli):
    result = cli("roadmap", *TINY, "--set", "growth.monthly_growth_percent=100", "--set", "growth.horizon_months=120")
    assert_one_line_error(result, "growth.monthly_growth_percent", "MAU reaches")


def test_unknown_period_is_a_usage_error():
    # usage errors are turned into one line by the console script (planner.cli.entry.main), so run it
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "planner", "roadmap", *TINY, "--period", "year"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("implan: error: ") and "--period" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# ---------------------------------------------------------------- exhaustive enumeration on small instances
@pytest.mark.parametrize("seed", range(4))
def test_commitment_starts_match_exhaustive_enumeration(tiny, seed):
    # 6 months, one "small" node needed or not each month (seeded); every set of months in which to start a
    # 1-node 1-year commitment (2^6), months not covered run on demand: the MILP's NPV is the cheapest of them
    import itertools
    import random
    rng = random.Random(seed)
    need = [rng.choice([0, 1]) for _ in range(6)]
    rate = 12.0
    w = _workload("growth.horizon_months=6", f"growth.discount_rate_percent={rate}")
    key = "commit:cloudx/r1/small"
    model = build_roadmap("public", w, tiny, _plans([{key: n} if n else {} for n in need]), None)
    info = solve_roadmap(model, w, "highs")
    best = float("inf")
    for starts in itertools.product([0, 1], repeat=6):
        cost = sum(43.8 * discount_factor(m, rate) for s, on in enumerate(starts) if on for m in range(s, s + 12))
        covered = [any(starts[s] and s <= m for s in range(6)) for m in range(6)]
        cost += sum(73.0 * discount_factor(m, rate) for m in range(6) if need[m] and not covered[m])
        best = min(best, cost)
    assert info.objective_usd == pytest.approx(best, abs=0.01), need


@pytest.mark.parametrize("seed", range(4))
def test_buy_months_match_exhaustive_enumeration(tiny, seed):
    # 5 months, 0..2 c64 servers needed each month (seeded); every way of buying 0..2 servers in each month (3^5)
    # that keeps enough in service: capex when bought, less the residual value at the horizon
    import itertools
    import random
    rng = random.Random(100 + seed)
    need = [rng.choice([0, 1, 2]) for _ in range(5)]
    rate, coc = 9.0, 5.0
    w = _workload("growth.horizon_months=5", f"growth.discount_rate_percent={rate}",
                  f"private.cost_of_capital_percent={coc}")
    key = "server:c64"
    model = build_roadmap("private", w, tiny, None, _plans([{key: n} if n else {} for n in need]))
    info = solve_roadmap(model, w, "highs")
    best = float("inf")
    for buys in itertools.product([0, 1, 2], repeat=5):
        if any(sum(buys[:m + 1]) < need[m] for m in range(5)):
            continue
        cost = sum(b * (12000 * discount_factor(m, rate)
                        - residual_value_usd(12000, 5, coc, 5 - m) * discount_factor(5, rate))
                   for m, b in enumerate(buys))
        best = min(best, cost)
    assert info.objective_usd == pytest.approx(best, abs=0.01), need


@pytest.mark.parametrize("seed", range(3))
def test_hybrid_buy_months_and_commitment_starts_match_exhaustive_enumeration(tiny, seed):
    # a hybrid side needs both own servers (c64, 0..2 a month) and always-on cloud nodes (cloudx "small", 0..1)
    # over 4 months (seeded): every way of buying 0..2 servers in each month (3^4) that keeps enough in service,
    # times every set of months in which to start a 1-node 1-year commitment (2^4), months not covered on demand
    import itertools
    import random
    rng = random.Random(200 + seed)
    servers = [rng.choice([0, 1, 2]) for _ in range(4)]
    nodes = [rng.choice([0, 1]) for _ in range(4)]
    rate, coc = 8.0, 4.0
    w = _workload("growth.horizon_months=4", f"growth.discount_rate_percent={rate}",
                  f"private.cost_of_capital_percent={coc}")
    needs = [{k: n for k, n in (("server:c64", s), ("commit:cloudx/r1/small", c)) if n}
             for s, c in zip(servers, nodes)]
    model = build_roadmap("hybrid", w, tiny, None, None, _plans(needs))
    info = solve_roadmap(model, w, "highs")
    best_buy = min(
        sum(b * (12000 * discount_factor(m, rate) - residual_value_usd(12000, 5, coc, 4 - m) * discount_factor(4, rate))
            for m, b in enumerate(buys))
        for buys in itertools.product([0, 1, 2], repeat=4) if all(sum(buys[:m + 1]) >= servers[m] for m in range(4)))
    best_commit = float("inf")
    for starts in itertools.product([0, 1], repeat=4):
        cost = sum(43.8 * discount_factor(m, rate) for s, on in enumerate(starts) if on for m in range(s, s + 12))
        cost += sum(73.0 * discount_factor(m, rate) for m in range(4)
                    if nodes[m] and not any(starts[s] for s in range(m + 1)))
        best_commit = min(best_commit, cost)
    assert info.objective_usd == pytest.approx(best_buy + best_commit, abs=0.01), (servers, nodes)


def test_migration_to_hybrid_egresses_only_the_data_it_keeps_on_own_servers(tiny, profile):
    # the tiny hybrid keeps the media in the cloud (gateway+media-in-cloud): a move egresses the database only,
    # and its engineering covers only the systems on own servers; a move to private egresses both
    from planner.growth import periods
    w = _workload("growth.horizon_months=3")
    cut = periods(w, "month")
    hybrid = period_plans("hybrid", w, profile, tiny, cut)
    private = period_plans("private", w, profile, tiny, cut)
    public = period_plans("public", w, profile, tiny, cut)
    assert hybrid[0].plan.placement == "gateway+media-in-cloud"
    assert public[0].own_stored_gb == 0
    assert 0 < hybrid[0].own_stored_gb < private[0].own_stored_gb
    assert set(hybrid[0].systems) < set(private[0].systems)
    model = build_roadmap("migration-hybrid", w, tiny, public, None, hybrid)
    moves = [p for p in model.payments if p.action == "migrate"]
    assert any(f"{hybrid[0].own_stored_gb:,.0f} GB" in p.item for p in moves)
    assert any(p.item == f"migration engineering: {', '.join(hybrid[0].systems)}" for p in moves)


# ---------------------------------------------------------------- implan check against a roadmap baseline
GROWTH = ["--set", "growth.horizon_months=6", "--set", "growth.monthly_growth_percent=5"]


def test_check_gates_the_npv_of_a_roadmap_baseline(cli, tmp_path):
    base = tmp_path / "roadmap.json"
    assert cli("roadmap", *TINY, *GROWTH, "-s", "public", "--format", "json", "--out", base).exit_code == 0
    same = cli("check", *TINY, *GROWTH, "--baseline", base, "--max-increase", "0.5", "--format", "json")
    assert same.exit_code == 0, same.output
    import json
    assert json.loads(same.stdout)["delta_usd"] == 0
    # faster growth raises the NPV (test_faster_growth_never_lowers_npv): the gate fails, exit 1
    faster = cli("check", *TINY, "--set", "growth.horizon_months=6", "--set", "growth.monthly_growth_percent=9",
                 "--baseline", base, "--max-increase", "0.5")
    assert faster.exit_code == 1
    assert "max_increase_pct failed" in faster.stderr and "NPV" in faster.stderr


def test_check_refuses_monthly_gates_and_bad_roadmap_baselines(cli, tmp_path):
    base = tmp_path / "roadmap.json"
    assert cli("roadmap", *TINY, *GROWTH, "-s", "public", "--format", "json", "--out", base).exit_code == 0
    assert_one_line_error(cli("check", *TINY, *GROWTH, "--baseline", base, "--budget", "10"), "--budget",
                          "roadmap baseline")
    assert_one_line_error(cli("check", *TINY, *GROWTH, "--baseline", base, "--strategy", "private"),
                          "--strategy private", "not in the baseline")
    bad = tmp_path / "bad.json"
    bad.write_text('{"horizon_months": 6, "strategies": [], "period": "month"}', encoding="utf-8")
    assert_one_line_error(cli("check", *TINY, "--baseline", bad), str(bad), "schema_version")


def test_mau_series_yearly_rates_and_explicit():
    w = _workload("growth.horizon_months=14", "growth.monthly_growth_percent=[10, -10]", "users.mau=1000")
    maus = mau_by_month(w)
    # months 2..12 grow 10 % a month from 1,000; months 13 and 14 (the second year) shrink 10 % a month
    assert maus[:3] == [1000, 1100, 1210]
    assert maus[12] == round(1000 * 1.1 ** 11 * 0.9) and maus[13] == round(1000 * 1.1 ** 11 * 0.9 ** 2)
    explicit = _workload("growth.horizon_months=3", "growth.mau_by_month=[5, 50, 500]")
    assert mau_by_month(explicit) == [5, 50, 500]


def test_no_feasible_roadmap_exits_1_naming_why(cli):
    result = cli("roadmap", *TINY, "--set", "placement.residency=[EU]", "--set", "growth.horizon_months=3")
    assert result.exit_code == 1
    assert "no strategy has a feasible roadmap" in result.stderr and "placement.residency" in result.stderr


def test_html_report_gains_a_roadmap_section(tiny, profile, monkeypatch):
    pytest.importorskip("matplotlib")
    from planner import html_report
    from planner.report import plan_to_dict
    from planner_testlib import ROOT
    # this checkout's template (an editable install elsewhere may supply planner.templates_data)
    template = (ROOT / "templates" / "report" / "report.html.j2").read_text(encoding="utf-8")
    monkeypatch.setattr(html_report, "_template_text", lambda: template)
    w = _workload("growth.horizon_months=12", "growth.monthly_growth_percent=8")
    plan = plan_to_dict(run_plan(w, profile, tiny))
    data = roadmap(w, profile, tiny)
    html = html_report.render_report(plan, None, data)
    section = html[html.index('<section id="roadmap">'):html.index('<section id="nodes">')]
    assert 'aria-label="roadmap chart"' in section
    for s in data["strategies"]:
        assert f"<td>{s['name']}</td>" in section
    first = data["strategies"][0]["schedule"][0]
    assert first["item"] in section
    assert '<section id="roadmap">' not in html_report.render_report(plan, None, None)
