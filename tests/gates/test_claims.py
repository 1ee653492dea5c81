"""`implan claims`: the MAU intervals where the published cost claims hold (real solves on the tiny catalogs)."""

from __future__ import annotations

import json

import pytest

from planner.claims import ClaimsError, claim_at_point, intervals, parse_claims


def test_default_claims_are_the_published_ones():
    assert parse_claims(None) == {"public": 8.0, "private": 100.0}
    assert parse_claims(["public=4.5"]) == {"public": 4.5}


@pytest.mark.parametrize("bad", ["public", "cloud=8", "public=-1", "public=inf", "public=x", "private=0"])
def test_bad_claims_are_rejected(bad):
    with pytest.raises(ClaimsError):
        parse_claims([bad])


def test_intervals_are_runs_of_grid_points():
    series = [(1, False), (2, True), (3, True), (4, None), (5, True), (6, True)]
    assert intervals(series) == [[2, 3], [5, 6]]
    assert intervals([(1, False), (2, False)]) == []


def _plan(cost, offers):
    return {"workload": {"mau": 1000}, "strategies": [{"name": "public", "status": "optimal",
                                                        "monthly_cost_usd": cost,
                                                        "lines": [{"category": "compute", "item": "a",
                                                                   "monthly_cost_usd": cost}]}],
            "saas": [{"provider": p, "plan": "x", "monthly_cost_usd": c, "note": "" if c else "sales quote only",
                      "lines": [] if c is None else [{"category": "saas_fees", "item": "fee", "monthly_cost_usd": c}]}
                     for p, c in offers]}


def test_median_over_priced_offers_only():
    point = claim_at_point(_plan(100.0, [("a", 500.0), ("b", 900.0), ("c", 1300.0), ("d", None)]), "public", 8)
    assert point["median_ratio"] == 9.0 and point["holds"] is True and point["priced_offers"] == 3
    assert point["excluded"] == [{"saas": "d/x", "reason": "sales quote only"}]
    assert point["median_offer"] == "b/x" and point["dominant_strategy_line"]["item"] == "a"
    assert [o["holds"] for o in point["offers"]] == [False, True, True]


def test_claims_cli_json(run, tiny, tmp_path):
    out = tmp_path / "claims.json"
    result = run("claims", "--pricing", tiny, "--mau", "10k..1M", "--steps", "3", "--claim", "public=2",
                 "--format", "json", "--out", out)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["mau_grid"] == [10000, 100000, 1000000]
    (claim,) = data["claims"]
    assert claim["strategy"] == "public" and claim["claimed_ratio"] == 2
    assert len(claim["points"]) == 3
    for p in claim["points"]:
        assert p["strategy_usd"] > 0
        holds = p["median_ratio"] is not None and p["median_ratio"] >= 2
        assert p["holds"] == (holds if p["median_ratio"] is not None else None)
    assert claim["median_holds_at"] == intervals([(p["mau"], p["holds"]) for p in claim["points"]])


def test_claims_cli_table_and_bad_claim(run, tiny):
    result = run("claims", "--pricing", tiny, "--mau", "10k..100k", "--steps", "2")
    assert result.exit_code == 0, result.output
    assert "Claim 'SaaS costs 8x public'" in result.stdout and "Claim 'SaaS costs 100x private'" in result.stdout
    bad = run("claims", "--pricing", tiny, "--claim", "public=zero")
    assert bad.exit_code == 2 and "Traceback" not in bad.output and "--claim" in bad.stderr
