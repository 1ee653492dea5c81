"""`implan pricing validate --max-age-months`: the freshness check CI runs on the shipped catalogs (issue 13).

A source older than the limit fails (exit 1, one line naming catalog, source, as_of and age) unless it carries a
`stale:` mark saying why it was not refreshed; then it is a warning with that reason."""

from __future__ import annotations

import datetime as dt

import pytest

from planner.catalog.queries import months_before, whole_months
from planner.cli.common import app
from planner_testlib import ROOT, tiny_files, write_catalogs
from typer.testing import CliRunner


def _run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_shipped_catalogs_have_no_unmarked_source_older_than_18_months():
    # the CI check: a shipped source older than 18 months must be refreshed or carry a `stale:` mark
    result = _run("pricing", "validate", "--pricing", ROOT / "pricing", "--max-age-months", "18")
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.stdout


def _dated(tmp_path, as_of: str, stale: str | None = None, others: str | None = None):
    """The tiny catalogs with cloudx's source dated `as_of` (and marked `stale`), colox's and chatco's `others`."""
    files = tiny_files()
    if others is not None:
        for name in ("colox", "chatco"):
            files[name]["sources"]["test"]["as_of"] = others
    source = files["cloudx"]["sources"]["test"]
    source["as_of"] = as_of
    if stale is not None:
        source["stale"] = stale
    return write_catalogs(tmp_path / "cat", files)


def test_an_unmarked_stale_source_is_an_error(tmp_path):
    directory = _dated(tmp_path, "2001-02-03")
    result = _run("pricing", "validate", "--pricing", directory, "--max-age-months", "18")
    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1  # colox and chatco (2026-11-01) are within 18 months until 2028-05
    assert errors[0].startswith("error: cloudx: source test: as_of 2001-02-03, ")
    assert f"{whole_months(dt.date(2001, 2, 3), dt.date.today())} months old" in errors[0]


def test_a_marked_stale_source_warns_with_its_reason(tmp_path):
    directory = _dated(tmp_path, "2001-02-03", stale="searched the vendor page and two reports: no newer figure")
    result = _run("pricing", "validate", "--pricing", directory, "--max-age-months", "18")
    assert result.exit_code == 0, result.output
    assert "warning: cloudx: source test: as_of 2001-02-03" in result.stdout
    assert "marked stale: searched the vendor page and two reports: no newer figure" in result.stdout
    assert "0 error(s), 1 warning(s)" in result.stdout
    assert _run("pricing", "validate", "--pricing", directory, "--max-age-months", "18",
                "--strict").exit_code == 1


def test_max_age_days_still_works_and_the_flags_are_alternatives(tmp_path):
    ten_days_ago = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    directory = _dated(tmp_path, ten_days_ago, others=ten_days_ago)
    assert _run("pricing", "validate", "--pricing", directory, "--max-age-days", "9").exit_code == 1
    assert _run("pricing", "validate", "--pricing", directory, "--max-age-days", "11").exit_code == 0
    both = _run("pricing", "validate", "--pricing", directory, "--max-age-days", "9", "--max-age-months", "1")
    assert both.exit_code == 2
    assert "alternatives" in both.output and "Traceback" not in both.output


@pytest.mark.parametrize("today, months, expected", [
    (dt.date(2026, 12, 4), 18, dt.date(2025, 6, 4)),  # the worked example
    (dt.date(2026, 3, 31), 1, dt.date(2026, 2, 28)),  # clamped to February's last day
    (dt.date(2026, 1, 15), 13, dt.date(2024, 12, 15)),  # across two year boundaries
    (dt.date(2026, 5, 5), 0, dt.date(2026, 5, 5)),
])
def test_months_before(today, months, expected):
    assert months_before(today, months) == expected


def test_whole_months_counts_completed_months():
    assert whole_months(dt.date(2025, 6, 4), dt.date(2026, 12, 4)) == 18
    assert whole_months(dt.date(2025, 6, 5), dt.date(2026, 12, 4)) == 17
