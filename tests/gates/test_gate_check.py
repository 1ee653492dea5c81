"""implan check: exit codes 0/1/2, every gate, the CI renderings, determinism, catalog changes reported as prices."""

from __future__ import annotations

import json

import pytest

from conftest import solve_dict  # at import time: later, 'conftest' may name another directory's
from planner.formats import usd



@pytest.fixture(scope="module")
def costs():
    """The public plan's cost at the MAU the tests use, from real solves: the gates are checked against these."""
    return {mau: next(s for s in solve_dict(mau)["strategies"] if s["name"] == "public")["monthly_cost_usd"]
            for mau in (20000, 24000, 40000)}


def pct(costs, mau):
    return (costs[mau] / costs[20000] - 1) * 100


def check(run, tiny, baseline, mau, *args):
    return run("check", "--pricing", tiny, "--set", f"users.mau={mau}", "--baseline", baseline, *args)


def test_within_limit_passes(run, tiny, baseline_file, costs):
    r = check(run, tiny, baseline_file, 24000, "--max-increase", "10")
    assert r.exit_code == 0, r.stderr
    assert f"implan cost check passed: public {usd(costs[20000])} → {usd(costs[24000])}/month" in r.stdout


def test_over_limit_fails_with_the_numbers(run, tiny, baseline_file, costs):
    limit = pct(costs, 40000) / 2
    assert limit > pct(costs, 24000)  # 40k MAU is well above the baseline
    r = check(run, tiny, baseline_file, 40000, "--max-increase", f"{limit:.2f}")
    assert r.exit_code == 1
    assert "FAILED" in r.stdout
    assert (f"gate max_increase_pct failed: public: monthly cost {usd(costs[20000])} → {usd(costs[40000])} is "
            f"+{pct(costs, 40000):.1f}%, limit +{limit:.2f}%") in r.stderr


@pytest.mark.parametrize("gate,margin,passes", [
    ("--max-increase-usd", +0.5, True), ("--max-increase-usd", -0.5, False),
    ("--budget", +1, True), ("--budget", -1, False),
    ("--max-cost-per-1k-mau", +0.05, True), ("--max-cost-per-1k-mau", -0.05, False),
    ("--max-increase", +0.01, True), ("--max-increase", -0.01, False),
])
def test_each_gate(run, tiny, baseline_file, costs, gate, margin, passes):
    # 24k MAU against the 20k baseline: each gate's limit just above (passes) or just below (fails) the value
    value = {"--max-increase-usd": costs[24000] - costs[20000], "--budget": costs[24000],
             "--max-cost-per-1k-mau": costs[24000] / 24, "--max-increase": pct(costs, 24000)}[gate]
    r = check(run, tiny, baseline_file, 24000, gate, f"{value + margin:.4f}", "-f", "json")
    assert r.exit_code == (0 if passes else 1), r.stdout
    data = json.loads(r.stdout)
    assert data["passed"] is passes and len(data["gates"]) == 1
    assert data["new_usd"] == pytest.approx(costs[24000], abs=0.02)


def test_markdown_is_deterministic_and_has_arrows(run, tiny, baseline_file, tmp_path, costs):
    outs = []
    for i in range(2):
        out = tmp_path / f"c{i}.md"
        r = check(run, tiny, baseline_file, 24000, "--max-increase", "10", "-f", "markdown", "-o", out)
        assert r.exit_code == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    md = outs[0].decode()
    assert md.startswith("<!-- implan-check -->\n### ✅ implan cost check passed")
    change = f"▲ +{usd(costs[24000] - costs[20000])} (+{pct(costs, 24000):.1f}%)"
    assert change in md and "<details><summary>" in md and "</details>" in md
    assert f"| max increase % | +10% | +{pct(costs, 24000):.1f}% | ✅ pass |" in md
    assert " s)" not in md and "seconds" not in md  # no solver timings


def test_github_annotations_and_gitlab_note(run, tiny, baseline_file, tmp_path, costs):
    out = tmp_path / "comment.md"
    r = check(run, tiny, baseline_file, 40000, "--max-increase", "3", "--budget", "50000", "-f", "github", "-o", out)
    assert r.exit_code == 1
    assert r.stdout == (f"::error title=implan cost gate max_increase_pct::public: monthly cost {usd(costs[20000])} → "
                        f"{usd(costs[40000])} is +{pct(costs, 40000):.1f}%25, limit +3%25\n")  # budget passed
    assert "❌" in out.read_text(encoding="utf-8") and "::error" not in out.read_text(encoding="utf-8")
    both = check(run, tiny, baseline_file, 40000, "--max-increase", "3", "-f", "github")
    assert both.stdout.startswith("::error title=implan cost gate max_increase_pct::")
    assert "<!-- implan-check -->" in both.stdout
    gl = check(run, tiny, baseline_file, 40000, "--max-increase", "3", "-f", "gitlab")
    assert gl.exit_code == 1 and gl.stdout.startswith("<!-- implan-check:gitlab -->") and "::error" not in gl.stdout


def test_catalog_change_is_reported_as_a_price_change(run, baseline_file, pricier):
    r = run("check", "--pricing", pricier, "--set", "users.mau=20000", "--baseline", baseline_file,
            "--max-increase", "0.5", "-f", "markdown")
    assert r.exit_code == 1  # about +$36 on about $3,900: +0.9 %
    assert "**Prices changed**" in r.stdout and "cloudx: sha256 f5e940d41e41" in r.stdout
    assert "Change attributed to price +$" in r.stdout and ", load $0, topology $0." in r.stdout


def test_strategy_choice_and_save_plan(run, tiny, baseline_file, tmp_path):
    saved = tmp_path / "new-plan.json"
    r = check(run, tiny, baseline_file, 24000, "--strategy", "private", "--budget", "9000", "-f", "json",
              "--save-plan", saved)
    assert r.exit_code == 1 and json.loads(r.stdout)["strategy"] == "private"
    assert json.loads(saved.read_text())["workload"]["mau"] == 24000
    no_gate = check(run, tiny, baseline_file, 24000)
    assert no_gate.exit_code == 0 and "public" in no_gate.stdout


def test_only_the_gated_strategy_is_solved_unless_all_are_asked_for(run, tiny, baseline_file, tmp_path):
    gated = json.loads(check(run, tiny, baseline_file, 24000, "--max-increase", "50", "-f", "json").stdout)
    assert [s["name"] for s in gated["diff"]["strategies"]] == ["public"]
    every = json.loads(check(run, tiny, baseline_file, 24000, "--max-increase", "50", "-f", "json",
                             "--all-strategies").stdout)
    assert {s["name"] for s in every["diff"]["strategies"]} == {"public", "private", "hybrid", "serverless"}
    assert every["gates"] == gated["gates"]                    # the same verdict either way
    saved = tmp_path / "plan.json"                             # a saved baseline holds every strategy
    check(run, tiny, baseline_file, 24000, "--max-increase", "50", "--save-plan", saved)
    assert {s["name"] for s in json.loads(saved.read_text())["strategies"]} == {"public", "private", "hybrid", "serverless"}


@pytest.mark.parametrize("args,expected", [
    ((), "--baseline FILE is required"),
    (("--baseline", "{missing}"), "plan JSON file not found"),
    (("--baseline", "{bad}"), "not valid JSON"),
    (("--baseline", "{base}", "--strategy", "edge"), "--strategy edge: not in the baseline"),
    (("--baseline", "{base}", "--budget", "-5"), "--budget -5: expected a positive number"),
    (("--baseline", "{base}", "--set", "users.mau=-3"), "users.mau"),
    (("--baseline", "{base}", "--pricing", "{missing}"), ""),
])
def test_usage_errors_exit_2(run, tiny, baseline_file, tmp_path, args, expected):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    subs = {"{missing}": str(tmp_path / "nope"), "{bad}": str(bad), "{base}": str(baseline_file)}
    args = [subs.get(a, a) for a in args]
    if "--pricing" not in args:
        args = ["--pricing", str(tiny), *args]
    r = run("check", *args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and expected in r.stderr and "Traceback" not in r.stderr
    if "{bad}" in str(args) or str(bad) in args:
        assert str(bad) in r.stderr


def test_infeasible_new_plan_fails_the_gate_with_the_reason(run, tiny, baseline_file):
    r = run("check", "--pricing", tiny, "--set", "users.mau=20000", "--set", 'placement.residency=["EU"]',
            "--baseline", baseline_file, "--budget", "1000", "-f", "markdown")
    assert r.exit_code == 1
    assert "### ❌ implan cost check FAILED: public has no feasible plan" in r.stdout
    assert "gate feasible failed: public: no feasible plan in the new run (infeasible): no allowed location" \
        in r.stderr
