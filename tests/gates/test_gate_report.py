"""implan report: one self-contained HTML file that opens in headless Chromium with its charts and no errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import chromium_cdp
from planner.html_report import comparison_chart
from planner.formats import usd


@pytest.fixture(scope="module")
def report_file(tmp_path_factory, tiny) -> Path:
    from planner.cli import app

    out = tmp_path_factory.mktemp("report") / "report.html"
    r = CliRunner().invoke(app, ["report", "--pricing", str(tiny), "--set", "users.mau=20000", "--sweep-steps", "3",
                                 "--sweep-mau", "10k..1M", "--sweep-tolerance", "0.1",
                                 "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert f"wrote {out}" in r.stderr
    return out


def test_report_is_self_contained_and_complete(report_file, plan_20k):
    html = report_file.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 3
    assert "<script" not in html and "<img" not in html
    assert not re.search(r'(src|xlink:href)="(https?:)?//', html)  # no external resource of any kind
    assert not re.search(r'<link[^>]+href="(?!data:)', html)
    for section in ("comparison", "breakdown", "break-even", "nodes", "assumptions", "prices"):
        assert f'<section id="{section}">' in html
    assert "public becomes cheaper than the cheapest priced SaaS" in html
    # every price used, with its source, URL and date
    for s in plan_20k["strategies"]:
        for line in s["lines"]:
            assert line["item"].replace("&", "&amp;") in html
    assert "https://example.invalid/test" in html and "2026-11-01" in html
    assert "test fixture (not a real price)" in html
    for c in plan_20k["catalogs"]:
        assert c["sha256"] in html
    assert "media_stored_gb" in html and "users.dau_per_mau" in html  # derived demand and resolved workload


def test_rendering_is_deterministic(plan_20k):
    # pinned SVG hash salt and no date metadata: the same plan gives the same chart bytes
    assert comparison_chart(plan_20k) == comparison_chart(plan_20k)


def _need_chromium() -> None:
    if not chromium_cdp.available():
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is missing in CI (.ci/run installs it)")
        pytest.skip("Debian chromium not installed (apt-get install chromium; .ci/run installs it)")


def test_report_opens_in_headless_chromium(report_file, plan_20k):
    _need_chromium()
    page = chromium_cdp.load_page(report_file)
    assert page["errors"] == []
    assert page["title"] == "implan report: consumer-chat-1m (20,000 MAU)"
    charts = {c["label"]: c for c in page["charts"]}
    assert set(charts) == {"comparison chart", "breakdown chart", "sweep chart"}
    for c in charts.values():
        assert c["width"] > 300 and c["height"] > 150 and c["shapes"] > 10
    assert page["scripts"] == 0 and page["tables"] >= 10
    cheapest = plan_20k["cheapest"]
    assert (f"Cheapest option: {cheapest['name']} ({cheapest['kind']}) at {usd(cheapest['monthly_cost_usd'])} per "
            "month.") in page["text"]


def test_the_browser_check_does_see_errors(tmp_path):
    """Negative control: a page with a console error, an exception and a missing image is reported as such."""
    _need_chromium()
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>x</title></head><body><img src="missing.png">'
                   '<script>console.error("boom"); notDefined();</script></body></html>', encoding="utf-8")
    errors = chromium_cdp.load_page(bad)["errors"]
    assert any("boom" in e for e in errors) and any("notDefined" in e for e in errors)
    assert any("missing.png" in e for e in errors)


@pytest.mark.parametrize("args,expected", [
    (("--sweep-steps", "0"), "--out FILE is required"),
    (("--out", "{tmp}/r.html", "--sweep-steps", "1"), "--sweep-steps 1: expected 0 (no sweep) or at least 2"),
    (("--out", "{tmp}/r.html", "--sweep-mau", "5k..1k"), "must be above the low end"),
    (("--out", "{tmp}/nodir/r.html", "--sweep-steps", "0"), "does not exist"),
    (("--out", "{tmp}/r.html", "--set", "users.nope=1"), "users.nope"),
])
def test_report_bad_input_exits_2(run, tiny, tmp_path, args, expected):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = run("report", "--pricing", tiny, "--set", "users.mau=20000", *args)
    assert r.exit_code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and expected in r.stderr, r.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_without_sweep(run, tiny, tmp_path):
    out = tmp_path / "r.html"
    r = run("report", "--pricing", tiny, "--set", "users.mau=20000", "--sweep-steps", "0", "--out", out)
    assert r.exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 2 and "No sweep in this report" in html


def test_report_without_matplotlib_says_which_extra_to_install(tiny, tmp_path):
    # matplotlib is the `report` extra: a core install gets one line naming it, exit 2, before any solve,
    # and no file is written
    import subprocess
    import sys

    out = tmp_path / "report.html"
    code = ("import sys; sys.modules['matplotlib'] = None; sys.argv = ['implan', 'report', '--pricing', "
            f"{str(tiny)!r}, '--out', {str(out)!r}]; from planner.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'implan[report]'" in lines[0], r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
