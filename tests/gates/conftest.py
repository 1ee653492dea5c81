"""Fixtures of the CI-gate, sweep and report tests: the tiny catalogs, small workloads, an in-process CLI runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "fixtures" / "tiny-catalog"


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "ignore:Constructing LpVariable:DeprecationWarning")


@pytest.fixture(scope="session")
def tiny() -> Path:
    return TINY


@pytest.fixture
def run(monkeypatch):
    """`implan ARGS...` in-process with a pinned width; click's Result with stdout and stderr apart."""
    from typer.testing import CliRunner

    from planner.cli import app

    monkeypatch.setenv("COLUMNS", "120")
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "120"}, catch_exceptions=False)

    return invoke


def solve_dict(mau: int, pricing: Path = TINY, extra: list[str] | None = None) -> dict:
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.optimize import plan
    from planner.report import plan_to_dict
    from planner.workload import load_workload

    wl = load_workload(None, [f"users.mau={mau}", *(extra or [])])
    return plan_to_dict(plan(wl, load_profile(None), load_catalog(pricing)))


@pytest.fixture(scope="session")
def plan_20k() -> dict:
    return solve_dict(20000)


@pytest.fixture(scope="session")
def baseline_file(tmp_path_factory, plan_20k) -> Path:
    path = tmp_path_factory.mktemp("baseline") / "baseline.json"
    path.write_text(json.dumps(plan_20k, indent=2) + "\n", encoding="utf-8")
    return path


def edited_catalog(directory: Path, replacements: dict[str, list[tuple[str, str]]]) -> Path:
    """A copy of the tiny catalogs with textual edits per file (e.g. a changed price)."""
    if directory.exists():
        shutil.rmtree(directory)
    shutil.copytree(TINY, directory)
    for name, edits in replacements.items():
        path = directory / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, (name, old)
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def pricier(tmp_path_factory) -> Path:
    """cloudx with the small instance's 1-year commitment +0.01 $/h and internet egress +0.01 $/GB."""
    return edited_catalog(tmp_path_factory.mktemp("cat") / "pricier", {"cloudx": [
        ("commit_1y_per_hour: 0.06", "commit_1y_per_hour: 0.07"), ("per_gb: 0.05}", "per_gb: 0.06}")]})
