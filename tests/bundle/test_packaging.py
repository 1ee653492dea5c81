"""The wheel `implan bundle` carries (and pip installs) holds the render package and every nested template."""
from __future__ import annotations

import io
import zipfile

from tests.bundle.conftest import REPO


def test_wheel_holds_every_template_and_the_render_package(wheel):
    name, data = wheel
    assert name.startswith("implan-") and name.endswith(".whl")
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert {"planner/render/__init__.py", "planner/render/bundle.py", "planner/render/context.py",
            "planner/render/env.py", "planner/cli_bundle.py", "imserver/cli.py"} <= names
    templates = REPO / "templates"
    expected = {"planner/templates_data/" + p.relative_to(templates).as_posix()
                for p in templates.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    missing = sorted(expected - names)
    assert not missing, f"templates missing from the wheel: {missing[:10]}"
    assert any(n.startswith("planner/templates_data/ansible/roles/imserver/") for n in names)
