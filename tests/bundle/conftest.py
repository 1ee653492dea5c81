"""Shared helpers for the deploy-bundle tests (issue 4)."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parents[1]
TINY = REPO / "tests" / "fixtures" / "tiny-catalog"


def _use_this_checkouts_templates() -> None:
    """Render from this checkout's templates/, not from wherever an editable install's finder points.

    `planner.templates_data` is a package-dir mapping (pyproject): with PYTHONPATH set to a second checkout, the
    editable install of another checkout would otherwise supply the templates and the tests would check those.
    """
    spec = importlib.util.find_spec("planner.templates_data")
    if spec and spec.origin and Path(spec.origin).resolve().parent == (REPO / "templates").resolve():
        return
    spec = importlib.util.spec_from_file_location("planner.templates_data", REPO / "templates" / "__init__.py",
                                                  submodule_search_locations=[str(REPO / "templates")])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["planner.templates_data"] = module


_use_this_checkouts_templates()


def load_fixture_plan(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def checkov_bin() -> str | None:
    """checkov lives in its own virtualenv (it replaces the hcl2 module): IMPLAN_CHECKOV or the CI default path."""
    for cand in (os.environ.get("IMPLAN_CHECKOV"), str(REPO / ".venv-checkov" / "bin" / "checkov")):
        if cand and Path(cand).is_file():
            return cand
    return shutil.which("checkov") if os.environ.get("IMPLAN_CHECKOV_FROM_PATH") else None


def require_tool(path: str | None, what: str) -> str:
    """Skip locally when a tool is missing; fail on CI (where .ci/run installs it)."""
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed (.ci/run should have installed it)")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def wheel():
    """One imserver wheel for the whole session (built like `implan bundle` builds it)."""
    from planner.render import build_wheel
    return build_wheel()
