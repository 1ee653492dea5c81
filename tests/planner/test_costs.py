"""Unit tests of the pure cost functions (planner.costs), values worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest

import pulp

from planner.catalog.records import ComputeOffering, PriceRef, TransferTier
from planner.costs import (HaRule, base_price, graduated_cost, nodes_needed, p95_of_slices, surviving_nodes_needed,
                           tiered_term)
from planner.labour import labour_rates, labour_terms
from planner.model import COMPUTE, LABOUR, NETWORK
from planner.terms import CostTerm, solved
from planner.units import amortized_per_month
from planner.workload import Workload

REF = PriceRef("test", "test", "test", "https://example.invalid", dt.date(2026, 11, 1), "USD")
H = 730 / 24


# ---------------------------------------------------------------- graduated (volume-tiered) prices
TIERS = (TransferTier(1000, 0.05), TransferTier(11000, 0.03), TransferTier(None, 0.02))


@pytest.mark.parametrize("gb, usd", [
    (0, 0.0),
    (400, 400 * 0.05),                                   # inside the first tier
    (1000, 50.0),                                        # exactly its end
    (3000, 50.0 + 2000 * 0.03),                          # 110
    (11000, 50.0 + 10000 * 0.03),                        # 350
    (20000, 50.0 + 300.0 + 9000 * 0.02),                 # 530: each tier prices only the GB inside it
])
def test_graduated_cost(gb, usd):
    assert graduated_cost(gb, TIERS) == pytest.approx(usd)


def test_graduated_cost_single_flat_tier():
    assert graduated_cost(1234.5, (TransferTier(None, 0.09),)) == pytest.approx(111.105)


# ---------------------------------------------------------------- HA rule
@pytest.mark.parametrize("rule, surviving, total", [
    (HaRule(False, False, 1, 1), 3, 3),       # nothing tolerated
    (HaRule(True, False, 2, 1), 3, 4),        # one node may fail: one spare
    (HaRule(True, True, 3, 1), 1, 2),         # 3 AZs: n - ceil(n/3) >= 1 -> 2
    (HaRule(True, True, 3, 1), 2, 3),         # 3 - 1 = 2
    (HaRule(True, True, 3, 1), 4, 6),         # 6 - 2 = 4
    (HaRule(True, True, 3, 1), 5, 8),         # 8 - 3 = 5 (7 - 3 = 4 is one short)
    (HaRule(True, True, 2, 1), 3, 6),         # 2 AZs: each must carry everything
    (HaRule(True, True, 3, 4), 1, 4),         # min_nodes floor
    (HaRule(True, True, 3, 4), 0, 0),         # no load: no nodes
])
def test_ha_total_for_surviving(rule, surviving, total):
    assert rule.total_for_surviving(surviving) == total


@pytest.mark.parametrize("domains", [2, 3, 4, 5])
def test_ha_domain_rule_is_the_smallest_count_that_survives(domains):
    # brute force: the smallest n spread evenly over D domains with n - ceil(n/D) >= s and n >= s + 1
    rule = HaRule(True, True, domains, 1)
    for s in range(1, 40):
        brute = next(n for n in range(1, 200) if n - math.ceil(n / domains) >= s and n >= s + 1)
        assert rule.total_for_surviving(s) == brute, (domains, s)


def test_nodes_needed_takes_the_scarcer_resource_and_the_os_reserve():
    # 10 vCPU on 4-vCPU nodes -> 3; 30 GiB on 8-GiB nodes with 0.5 GiB reserved (7.5 usable) -> 4
    assert surviving_nodes_needed(10, 30, 4, 8, 0.5) == 4
    assert surviving_nodes_needed(10, 1, 4, 8, 0.5) == 3
    assert surviving_nodes_needed(0, 0, 4, 8, 0.5) == 0
    assert surviving_nodes_needed(1, 1, 4, 0.5, 0.5) is None  # no usable memory
    assert nodes_needed(10, 30, 4, 8, 0.5, HaRule(True, False, 1, 1)) == 5


# ---------------------------------------------------------------- purchase options
def _offering(od=0.10, c1=0.06, c3=0.04, spot=0.03):
    return ComputeOffering("p", "r", "t", "f", "general", "x86_64", 2, 4, od, c1, c3, spot, 0, REF)


def test_base_price_picks_the_cheapest_allowed_option():
    assert base_price(_offering(), 0) == (0.10, "on_demand")
    assert base_price(_offering(), 1) == (0.06, "commit_1y")
    assert base_price(_offering(), 3) == (0.04, "commit_3y")
    assert base_price(_offering(c1=None, c3=None), 3) == (0.10, "on_demand")


def test_term_objective_and_line_are_the_same_cost():
    # a term is priced once: its objective expression, evaluated, is its plan line's cost
    x = pulp.LpProblem("term", pulp.LpMinimize).add_variable("x", cat="Integer")
    x.varValue = 2.9999999  # solvers return near-integers; integer quantities read rounded
    term = CostTerm(COMPUTE, "nodes", "node-hours", 730 * x, 0.1)
    line = term.line()
    assert line.quantity == pytest.approx(3 * 730) and line.monthly_cost_usd == pytest.approx(219.0)
    assert line.usd_per_unit == 0.1
    assert solved(term.objective()) == pytest.approx(line.monthly_cost_usd)


def test_tiered_term_reports_its_average_price_and_tiers():
    tiers = (TransferTier(100, 0.09), TransferTier(None, 0.05))
    line = tiered_term(NETWORK, "egress", 300.0, tiers, None).line()
    assert line.monthly_cost_usd == pytest.approx(100 * 0.09 + 200 * 0.05)
    assert line.usd_per_unit == pytest.approx(19 / 300) and line.tiers == tiers


def test_term_needs_exactly_one_price():
    with pytest.raises(ValueError):
        CostTerm(COMPUTE, "x", "h", 1.0, None)
    with pytest.raises(ValueError):
        CostTerm(COMPUTE, "x", "h", 1.0, 1.0, cost=2.0)


def test_annuity_at_the_cost_of_capital():
    # 0 %: straight line; 6 % a year over 5 years: the textbook annuity 60,000 * r / (1 - (1+r)^-60)
    assert amortized_per_month(60000, 5) == pytest.approx(1000)
    r = 1.06 ** (1 / 12) - 1
    assert amortized_per_month(60000, 5, 6) == pytest.approx(60000 * r / (1 - (1 + r) ** -60))
    assert amortized_per_month(60000, 5, 6) > 1000


@pytest.mark.parametrize("level, nodes_per_fte, fte_per_system",
                         [("manual", 20, 0.25), ("scripted", 130, 0.15), ("iac", 300, 0.08), ("autonomous", 1000, 0.04)])
def test_labour_lines_known_answer(level, nodes_per_fte, fte_per_system):
    # 3 systems and 60 nodes, 30 owned servers; 120,000 USD a year = 10,000 a month per FTE; no minimum
    w = Workload.model_validate({"labour": {"automation": level, "usd_per_fte_year": 120000, "minimum_fte": 0}})
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    terms = labour_terms(prob, "t", labour_rates(w), [("a", 1), ("b", 1), ("c", 1)], 60, 30)
    by_item = {t.item.split(" (")[0]: t.line().monthly_cost_usd for t in terms}
    assert by_item["software operations: a"] == pytest.approx(fte_per_system * 10000)
    assert by_item["software operations: nodes"] == pytest.approx(60 / nodes_per_fte * 10000)
    assert by_item["hardware operations: own servers"] == pytest.approx(30 / 1000 * 10000)
    assert all(t.category == LABOUR and t.unit == "FTE" for t in terms)


def test_labour_minimum_staffing_tops_up_only_below_the_floor():
    w = Workload.model_validate({"labour": {"usd_per_fte_year": 120000, "minimum_fte": 1}})
    prob = pulp.LpProblem("t", pulp.LpMinimize)
    terms = labour_terms(prob, "t", labour_rates(w), [("a", 1)], 30)
    prob += pulp.lpSum(t.objective() for t in terms)
    prob.solve(pulp.PULP_CBC_CMD(msg=False))
    assert sum(t.line().quantity for t in terms) == pytest.approx(1.0)  # 0.08 + 0.1, topped up to 1 FTE
    assert terms[-1].item == "minimum staffing top-up"


def test_p95_of_hourly_slices_is_the_second_busiest():
    assert p95_of_slices([1, 5, 3, 9, 2]) == 5
    assert p95_of_slices([7]) == 7


# ---------------------------------------------------------------- load balancers: metered units vs fixed-size LBs
def test_fixed_size_load_balancers_are_bought_for_the_busiest_hour_all_month():
    """Hetzner's lb11 holds 10,000 connections and cannot follow the hour: the default workload's busiest hour has
    1M MAU x 0.5 DAU/MAU x 0.25 online x 1.2 devices = 150,000 connections -> 15 LBs, each 730 h at the unit price,
    where a metered balancer (same prices, fixed_size off) bills the unit-hours of every hour, fewer off-peak."""
    import dataclasses

    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.costs import fixed_load_balancer_count, load_balancer_capacity_units, load_balancer_terms
    from planner.demand import compute_demand
    from planner.workload import load_workload

    hetzner = next(r for r in load_catalog().public_regions if r.provider == "hetzner")
    lb = hetzner.load_balancer
    assert lb.fixed_size and lb.unit_active_connections == 10000
    demand = compute_demand(load_workload(), load_profile())
    assert max(s.connections for s in demand.slices) == pytest.approx(150_000)
    assert fixed_load_balancer_count(hetzner, demand) == 15
    (term,) = load_balancer_terms(hetzner, demand)
    assert (term.unit, term.quantity) == ("load balancers", 15)
    assert solved(term.objective()) == pytest.approx(15 * lb.usd_per_capacity_unit_hour * 730)

    metered = dataclasses.replace(hetzner, load_balancer=dataclasses.replace(lb, fixed_size=False))
    hours, units = load_balancer_terms(metered, demand)
    assert units.quantity == pytest.approx(load_balancer_capacity_units(metered, demand))
    assert units.quantity < 15 * 730        # off-peak hours need fewer units
    assert solved(hours.objective()) == 0         # Hetzner's per-hour fee is 0: the LB price is the unit price
