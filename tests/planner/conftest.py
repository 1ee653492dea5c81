"""Fixtures of the planner test suite.

`--update-golden` rewrites the golden files under tests/planner/golden/ instead of comparing against them
(run `python -m pytest tests/planner --update-golden`, or set IMPLAN_UPDATE_GOLDEN=1, then review the diff).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # planner_testlib, whatever the import mode

from planner_testlib import TINY_DIR  # noqa: E402


def pytest_configure(config):
    # the builders create variables through the model (prob.add_variable, PuLP 4's API): a free
    # LpVariable(...) anywhere is an error, so nothing slips back to the API PuLP 4 removes
    config.addinivalue_line("filterwarnings", "error:Constructing LpVariable:DeprecationWarning")
    config.addinivalue_line("filterwarnings", "ignore:PULP_CBC_CMD is deprecated:DeprecationWarning")


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/planner/golden/* from the current output instead of comparing")


@pytest.fixture(scope="session")
def update_golden(pytestconfig) -> bool:
    # getoption with a default: the option only exists when this conftest is an initial one (tests/planner named
    # on the command line); IMPLAN_UPDATE_GOLDEN=1 works from anywhere, as for the bundle goldens
    return bool(pytestconfig.getoption("--update-golden", default=False)) or os.environ.get(
        "IMPLAN_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    return TINY_DIR


@pytest.fixture(scope="session")
def tiny_catalog():
    from planner.catalog.loader import load_catalog
    return load_catalog(TINY_DIR)


@pytest.fixture(scope="session")
def shipped_catalog():
    from planner.catalog.loader import load_catalog
    return load_catalog()


@pytest.fixture(scope="session")
def profile():
    from planner.capacity import load_profile
    return load_profile()


@pytest.fixture
def cli(monkeypatch):
    """Run `implan ...` in-process with a pinned terminal width; returns click's Result (stdout/stderr apart)."""
    from typer.testing import CliRunner

    from planner.cli import app

    monkeypatch.setenv("COLUMNS", "120")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "120"}, catch_exceptions=False)

    return invoke
