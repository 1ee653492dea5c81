"""`implan uncertainty` and workload distributions: known answers on the tiny catalog, reproducibility, honesty
about solves that are not proven optimal, bad distributions as one-line errors (exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from planner.distributions import extract_distributions, latin_hypercube, parse_distribution
from planner_testlib import ROOT, TINY_DIR

# tiny catalog, public and private only: at 100k MAU public is cheaper (4,464 vs 10,641 USD), at 10M private
# (47,268 vs 55,510 USD) -- the costs `implan compare --pricing tests/fixtures/tiny-catalog` prints at those sizes
TWO_SIZES = """\
users:
  mau: {dist: scenarios, values: [100000, 10000000], weights: [0.25, 0.75]}
strategies: [public, private]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workload.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _costs_at(cli, mau: int) -> dict[str, float]:
    data = _json(cli("compare", "--pricing", TINY_DIR, "-s", "public", "-s", "private", "--set", f"users.mau={mau}",
                     "--format", "json"))
    return {s["name"]: s["monthly_cost_usd"] for s in data["strategies"]}


# ---------- distributions ----------

def test_each_distribution_has_its_point_value_and_inverse_cdf():
    tri = parse_distribution({"dist": "triangular", "low": 1, "mode": 3, "high": 5}, "x")
    assert (tri.point(), tri.ppf(1e-12), tri.ppf(0.5), tri.ppf(1 - 1e-12)) == pytest.approx((3, 1, 3, 5), abs=1e-5)
    uni = parse_distribution({"dist": "uniform", "low": -0.1, "high": 0.1}, "x")
    assert (uni.point(), uni.ppf(0.25)) == pytest.approx((0.0, -0.05))
    logn = parse_distribution({"dist": "lognormal", "median": 20, "sigma": 0.5}, "x")
    assert logn.point() == 20 and logn.ppf(0.5) == pytest.approx(20)
    assert logn.ppf(0.8413447) == pytest.approx(20 * 2.718281828 ** 0.5, rel=1e-5)  # one sigma up
    assert parse_distribution({"dist": "lognormal", "mu": 0, "sigma": 1}, "x").point() == pytest.approx(1)
    sc = parse_distribution({"dist": "scenarios", "values": [10, 20], "weights": [0.25, 0.75]}, "x")
    assert (sc.point(), sc.ppf(0.2), sc.ppf(0.3)) == (17.5, 10, 20)


def test_distributions_are_found_at_any_depth_and_replaced_by_their_point_value():
    data, found = extract_distributions({"users": {"dau_per_mau": {"dist": "uniform", "low": 0.4, "high": 0.6},
                                                   "mau": 5}, "name": "x"})
    assert data == {"users": {"dau_per_mau": 0.5, "mau": 5}, "name": "x"}
    assert list(found) == ["users.dau_per_mau"]


def test_the_latin_hypercube_puts_one_sample_in_each_stratum_and_is_seeded():
    rows = latin_hypercube(3, 10, seed=7)
    for column in zip(*rows):
        assert sorted(int(u * 10) for u in column) == list(range(10))
    assert rows == latin_hypercube(3, 10, seed=7)
    assert rows != latin_hypercube(3, 10, seed=8)


@pytest.mark.parametrize("dist, message", [
    ({"dist": "triangular", "low": 0.5, "mode": 0.4, "high": 0.6}, "low <= mode <= high"),
    ({"dist": "uniform", "low": 0.6, "high": 0.4}, "low <= high"),
    ({"dist": "scenarios", "values": [0.3, 0.5], "weights": [0.5, 0.6]}, "sum to 1"),
    ({"dist": "scenarios", "values": [0.3, 0.5], "weights": [1.0]}, "same non-zero length"),
    ({"dist": "lognormal", "median": 0.5, "sigma": 0}, "0 < sigma"),
    ({"dist": "normal", "mean": 0.5}, "unknown dist 'normal'"),
    ({"dist": "triangular", "low": 0.3, "high": 0.6}, "missing mode"),
])
def test_a_bad_distribution_is_one_line_naming_the_field_and_exit_2(cli, tmp_path, dist, message):
    path = _write(tmp_path, json.dumps({"users": {"dau_per_mau": dist}}))
    for command in ("uncertainty", "compare"):
        result = cli(command, path, "--pricing", TINY_DIR, "-s", "public")
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1 and "users.dau_per_mau" in result.stderr and message in result.stderr


def test_a_sample_outside_the_fields_range_is_named_before_any_solve(cli, tmp_path):
    # dau_per_mau must be <= 1: a uniform up to 1.5 leaves the range in some samples
    path = _write(tmp_path, "users: {dau_per_mau: {dist: uniform, low: 0.5, high: 1.5}}\n")
    result = cli("uncertainty", path, "--pricing", TINY_DIR, "-s", "public", "--samples", "4", "--jobs", "1")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert re.search(r"sample \d+: .*users\.dau_per_mau", result.stderr)


def test_uncertainty_needs_a_distribution(cli):
    result = cli("uncertainty", "--pricing", TINY_DIR, "-s", "public")
    assert result.exit_code == 2 and "no field is a distribution" in result.stderr


def test_compare_plans_the_point_value_and_says_so(cli, tmp_path):
    result = cli("compare", _write(tmp_path, TWO_SIZES), "--pricing", TINY_DIR, "--format", "json")
    data = _json(result)
    assert data["workload"]["mau"] == 7_525_000  # 0.25 x 100k + 0.75 x 10M, the weighted mean
    assert "planned at their point values" in result.stderr and "users.mau=7,525,000" in result.stderr


# ---------- price change ----------

def test_a_price_change_scales_the_categorys_prices_and_nothing_else(tiny_catalog):
    from planner.price_change import apply_price_change

    changed = apply_price_change(tiny_catalog, {"compute": 0.1, "colox": -0.5})
    before, after = tiny_catalog.compute[0], changed.compute[0]
    assert after.usd_per_hour == pytest.approx(before.usd_per_hour * 1.1)
    assert after.usd_per_hour_spot == pytest.approx(before.usd_per_hour_spot * 1.1)
    assert (after.vcpu, after.memory_gib) == (before.vcpu, before.memory_gib)
    assert changed.public_regions == tiny_catalog.public_regions  # storage, network: no change asked
    site, site0 = changed.private_sites[0], tiny_catalog.private_sites[0]
    assert site.power_usd_per_kwh == pytest.approx(site0.power_usd_per_kwh * 0.5)  # the provider's change
    assert site.servers[0].capex_usd == pytest.approx(site0.servers[0].capex_usd * 0.5)
    assert site.servers[0].watts == site0.servers[0].watts
    assert changed.saas == tiny_catalog.saas
    assert apply_price_change(tiny_catalog, {"compute": 0.0}) is tiny_catalog


def test_an_unknown_price_category_is_one_line_and_exit_2(cli):
    result = cli("compare", "--pricing", TINY_DIR, "-s", "public", "--set", "uncertainty.price_change.cpu=0.1")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "uncertainty.price_change.cpu: not a price category" in result.stderr and "cloudx" in result.stderr


# ---------- implan uncertainty ----------

def test_two_scenarios_give_exactly_their_two_costs_and_probabilities(cli, tmp_path):
    small, large = _costs_at(cli, 100_000), _costs_at(cli, 10_000_000)
    assert small["public"] < small["private"] and large["private"] < large["public"]  # the premise of the test
    data = _json(cli("uncertainty", _write(tmp_path, TWO_SIZES), "--pricing", TINY_DIR, "--samples", "8",
                     "--seed", "1", "--jobs", "1", "--format", "json"))
    rows = data["sample_results"]
    # a Latin hypercube of 8 puts exactly 2 samples below u = 0.25, the first scenario's weight
    assert sorted(r["inputs"]["users.mau"] for r in rows) == [100_000] * 2 + [10_000_000] * 6
    for r in rows:
        assert r["monthly_cost_usd"] == (small if r["inputs"]["users.mau"] == 100_000 else large)
    result = {r["name"]: r for r in data["results"]}
    assert result["public"]["probability_cheapest"] == 0.25 and result["private"]["probability_cheapest"] == 0.75
    # P10 of [s, s, l x 6]: position 0.7 between two s -> s; P50 and P90 are l
    assert result["public"]["monthly_cost_usd"]["p10"] == small["public"]
    assert result["public"]["monthly_cost_usd"]["p50"] == result["public"]["monthly_cost_usd"]["p90"] == large["public"]
    tornado = data["tornado"]["inputs"]
    assert [b["input"] for b in tornado] == ["users.mau"]
    assert (tornado[0]["low_value"], tornado[0]["high_value"]) == (100_000, 10_000_000)
    assert tornado[0]["swing_usd"]["public"] == pytest.approx(large["public"] - small["public"], abs=0.01)
    assert tornado[0]["cheapest_low"] == "public" and tornado[0]["cheapest_high"] == "private"
    assert tornado[0]["flips"] is True
    assert data["solves"] == {"cases": 8 + 1 + 2, "not_optimal": []}


def test_the_same_seed_gives_the_same_json_with_one_worker_or_two(cli, tmp_path):
    path = _write(tmp_path, "users:\n  dau_per_mau: {dist: triangular, low: 0.3, mode: 0.5, high: 0.6}\n"
                            "uncertainty: {price_change: {compute: {dist: uniform, low: -0.2, high: 0.2}}}\n")
    args = ("uncertainty", path, "--pricing", TINY_DIR, "-s", "public", "-s", "hybrid", "--samples", "4",
            "--seed", "11", "--format", "json")
    one, two = cli(*args, "--jobs", "1"), cli(*args, "--jobs", "2")
    assert one.exit_code == 0 and one.stdout == two.stdout
    data = json.loads(one.stdout)
    assert len({r["inputs"]["users.dau_per_mau"] for r in data["sample_results"]}) == 4
    assert data["seed"] == 11 and data["samples"] == 4


def test_a_solve_not_proven_optimal_is_counted_and_shown(cli, tmp_path, monkeypatch):
    import planner.sweep as sweep

    real = sweep.solve_case

    def one_time_limited(workload, strategies, profile, catalog, solver):
        point = real(workload, strategies, profile, catalog, solver)
        if workload.users.mau == 10_000_000 and point.statuses.get("private") == "optimal":
            point.statuses["private"], point.gaps["private"] = "feasible", 0.03
        return point

    monkeypatch.setattr(sweep, "solve_case", one_time_limited)
    result = cli("uncertainty", _write(tmp_path, TWO_SIZES), "--pricing", TINY_DIR, "--samples", "4", "--jobs", "1",
                 "--no-tornado", "--format", "json")
    data = _json(result)
    bad = data["solves"]["not_optimal"]
    assert {x["strategy"] for x in bad} == {"private"} and {x["status"] for x in bad} == {"feasible"}
    assert {x["gap"] for x in bad} == {0.03} and len(bad) == 3  # the 3 large samples (the point value is 7.5M)
    assert {r["name"]: r["not_optimal_samples"] for r in data["results"]} == {"public": 0, "private": 3}
    table = cli("uncertainty", _write(tmp_path, TWO_SIZES), "--pricing", TINY_DIR, "--samples", "4", "--jobs", "1",
                "--no-tornado")
    assert "3 of 5 solves are feasible but not proven optimal (largest gap 3.00%)" in table.stdout


def test_the_markdown_and_html_say_the_same_answer(cli, tmp_path):
    pytest.importorskip("matplotlib")
    path = _write(tmp_path, TWO_SIZES)
    base = ("uncertainty", path, "--pricing", TINY_DIR, "--samples", "8", "--jobs", "1")
    markdown = cli(*base, "--format", "markdown")
    assert "**private is the cheapest with probability 75%" in markdown.stdout
    out = tmp_path / "u.html"
    assert cli(*base, "--format", "html", "--out", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "private is the cheapest with probability 75%" in page
    assert 'aria-label="distribution chart"' in page and 'aria-label="tornado chart"' in page
    again = tmp_path / "again.html"
    cli(*base, "--format", "html", "--out", again)
    assert again.read_bytes() == out.read_bytes()


def test_the_json_contract_is_documented(cli, tmp_path):
    data = _json(cli("uncertainty", _write(tmp_path, TWO_SIZES), "--pricing", TINY_DIR, "--samples", "2",
                     "--jobs", "1", "--format", "json"))
    doc = (ROOT / "docs" / "uncertainty.md").read_text(encoding="utf-8")
    keys = (list(data) + list(data["results"][0]) + list(data["results"][0]["monthly_cost_usd"])
            + list(data["tornado"]) + list(data["tornado"]["inputs"][0]) + list(data["sample_results"][0])
            + list(data["solves"]))
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"docs/uncertainty.md does not describe {missing}"


def test_bad_samples_and_seed_are_exit_2(cli, tmp_path):
    path = _write(tmp_path, TWO_SIZES)
    for flag, value in (("--samples", "0"), ("--seed", "-1"), ("--jobs", "0")):
        result = cli("uncertainty", path, "--pricing", TINY_DIR, flag, value)
        assert result.exit_code == 2 and flag in result.stderr and result.stderr.count("\n") == 1

