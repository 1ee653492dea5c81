"""The docs that are generated from code stay in sync with it."""

from pathlib import Path

from planner.workload import reference_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_workload_reference_matches_the_schema():
    # docs/workload.md embeds the table generated from planner.workload.Workload; regenerate it with
    # python -c "from planner.workload import reference_markdown; print(reference_markdown())"
    assert reference_markdown() in (ROOT / "docs" / "workload.md").read_text(encoding="utf-8")


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install . && implan compare" in readme
    assert "bash .ci/run" in readme
