"""implan sweep: size parsing, bad ranges, and break-even points that agree with individual compare runs."""

from __future__ import annotations

import json

import pytest

from planner.sweep import SweepError, log_grid, parse_range, parse_size


@pytest.mark.parametrize("text,value", [("10k", 10_000), ("2.5M", 2_500_000), ("100M", 100_000_000),
                                        ("1e6", 1_000_000), ("1_000", 1000), ("750", 750), ("1B", 10**9)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["abc", "10x", "0", "-5k", "", "k"])
def test_parse_size_rejects(text):
    with pytest.raises(SweepError):
        parse_size(text)


def test_log_grid_is_log_spaced_with_both_ends():
    assert log_grid(10_000, 100_000_000, 5) == [10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]
    assert parse_range("10k..100M") == (10_000, 100_000_000)


@pytest.mark.parametrize("args,expected", [
    (("--mau", "100M..10k"), "the high end (10,000) must be above the low end (100,000,000)"),
    (("--mau", "10k"), "expected LOW..HIGH"),
    (("--mau", "10k..10k"), "must be above the low end"),
    (("--mau", "ten..100k"), "--mau low end 'ten': not a size"),
    (("--mau", "1k..10k", "--steps", "1"), "--steps 1: need at least 2 points"),
    (("--mau", "1k..10k", "--tolerance", "0"), "--tolerance 0.0: expected a relative MAU tolerance"),
    (("--mau", "1k..10k", "--strategy", "edge"), "--strategy edge: unknown strategy"),
    (("--mau", "1k..10k", "--jobs", "0"), "--jobs 0: expected a number of worker processes"),
])
def test_bad_sweep_input_exits_2(run, tiny, args, expected):
    r = run("sweep", "--pricing", tiny, *args)
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and expected in r.stderr, r.stderr


def test_worker_processes_give_the_same_sweep(run, tiny):
    args = ("sweep", "--pricing", tiny, "--mau", "10k..5M", "--steps", "4", "-f", "json")
    alone, pooled = run(*args, "--jobs", "1"), run(*args, "--jobs", "2")
    assert alone.exit_code == 0 and pooled.exit_code == 0, pooled.stderr
    assert json.loads(pooled.stdout) == json.loads(alone.stdout)
    assert json.loads(alone.stdout)["break_even"]          # something to bisect, so the sequential part ran too


def _compare(run, tiny, mau: int, strategies: list[str]) -> dict:
    args = [a for s in strategies for a in ("-s", s)]
    r = run("compare", "--pricing", tiny, "--set", f"users.mau={mau}", *args, "-f", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def _cheapest_saas(data: dict) -> float:
    return min(q["monthly_cost_usd"] for q in data["saas"] if q["monthly_cost_usd"] is not None)


def _cost(data: dict, name: str) -> float:
    return next(s["monthly_cost_usd"] for s in data["strategies"] if s["name"] == name)


def test_public_vs_saas_break_even_agrees_with_compare(run, tiny):
    r = run("sweep", "--pricing", tiny, "--mau", "10k..1M", "--steps", "3", "-s", "public", "-f", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert [p["mau"] for p in data["points"]] == [10000, 100000, 1000000]
    (b,) = data["break_even"]
    assert b["pair"] == ["public", "saas"] and b["cheaper_above"] == "public" and b["cheaper_below"] == "saas"
    lo, hi = b["mau_low"], b["mau_high"]
    assert hi / lo - 1 <= 0.01 and 100000 < lo < hi < 1000000
    at_lo, at_hi = _compare(run, tiny, lo, ["public"]), _compare(run, tiny, hi, ["public"])
    assert _cost(at_lo, "public") >= _cheapest_saas(at_lo)  # SaaS still cheaper (or equal) just below
    assert _cost(at_hi, "public") < _cheapest_saas(at_hi)  # public cheaper at the reported break-even
    assert b["costs_high"]["public"] == _cost(at_hi, "public")


def test_private_vs_public_break_even_agrees_with_compare(run, tiny):
    r = run("sweep", "--pricing", tiny, "--mau", "1M..5M", "--steps", "2", "-s", "public", "-s", "private",
            "--tolerance", "0.02", "-f", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    crossings = [b for b in data["break_even"] if b["pair"] == ["private", "public"]]
    assert len(crossings) == 1 and crossings[0]["cheaper_above"] == "private"
    b = crossings[0]
    assert b["mau_high"] / b["mau_low"] - 1 <= 0.02
    at_lo = _compare(run, tiny, b["mau_low"], ["public", "private"])
    at_hi = _compare(run, tiny, b["mau_high"], ["public", "private"])
    assert _cost(at_lo, "private") >= _cost(at_lo, "public")
    assert _cost(at_hi, "private") < _cost(at_hi, "public")
    assert data["solves"]["bisection"] > 0


def test_csv_and_table(run, tiny):
    csv_out = run("sweep", "--pricing", tiny, "--mau", "10k..1M", "--steps", "3", "-s", "public", "-f", "csv")
    assert csv_out.exit_code == 0
    rows = csv_out.stdout.strip().splitlines()
    assert rows[0] == "kind,mau,public_usd,cheapest_saas,cheapest_saas_usd,note"
    assert rows[1].startswith("point,10000,") and rows[-1].startswith("break_even,")
    assert "public becomes cheaper than the cheapest priced SaaS" in rows[-1]
    table = run("sweep", "--pricing", tiny, "--mau", "10k..1M", "--steps", "3", "-s", "public")
    assert table.exit_code == 0 and "Break-even points" in table.stdout and table.stderr == ""
