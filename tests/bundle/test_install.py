"""`implan bundle` from a plain, non-editable `pip install .` (the README's install), and upgrades that deploy.

The project is copied (without .git, virtualenvs and build output, so the worktree stays clean) and installed
non-editably into a fresh virtualenv under /tmp that reuses the system's dependencies (--system-site-packages,
--no-deps; pip fetches only the build backend the README's `pip install .` fetches too, bounded by a timeout). `implan bundle --strategy public` then runs from that
virtualenv with no PYTHONPATH, so nothing of the source tree is importable: the carried imserver wheel must come
from the installed package. The carried wheel is then installed the way the imserver role does (pip, file path)
and a wheel of changed code must get a new version that pip installs over it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from planner.render.wheel import build_wheel
from tests.bundle.conftest import REPO

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them

STEP_TIMEOUT_S = 240
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                     ".pytest_cache", ".ci-services")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S)
    assert proc.returncode == 0, f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


def _venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", "--system-site-packages", path], path.parent)
    return path / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtualenv with the project installed non-editably, and the bundle its `implan bundle` wrote."""
    base = tmp_path_factory.mktemp("noneditable")
    src = base / "src"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE)
    bin_dir = _venv(base / "venv")
    _run([bin_dir / "python", "-m", "pip", "install", "-q", "--no-deps", src], base)
    shutil.rmtree(src)                    # nothing of the source may be needed any more
    _run([bin_dir / "implan", "bundle", "--strategy", "public", "--out", base / "deploy"], base)
    return base, bin_dir


def _site_file(bin_dir: Path, module: str) -> Path:
    out = _run([bin_dir / "python", "-c", f"import {module}; print({module}.__file__)"], bin_dir)
    return Path(out.stdout.strip())


def test_bundle_after_a_plain_pip_install_carries_the_installed_imserver(installed):
    base, bin_dir = installed
    venv = (base / "venv").resolve()
    planner_file = _site_file(bin_dir, "planner")
    assert venv in planner_file.resolve().parents, f"planner imported from {planner_file}, not the virtualenv"
    wheels = sorted((base / "deploy" / "ansible" / "roles" / "imserver" / "files").glob("*.whl"))
    assert len(wheels) == 1 and wheels[0].name.startswith("imserver-0.1.0+g"), wheels
    pkg = _site_file(bin_dir, "imserver").parent
    with zipfile.ZipFile(wheels[0]) as zf:
        carried = {n: zf.read(n) for n in zf.namelist() if n.startswith("imserver/")}
    installed_files = {f"imserver/{p.relative_to(pkg).as_posix()}": p.read_bytes() for p in pkg.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts}
    assert carried == installed_files
    assert (base / "deploy" / "ansible" / "group_vars" / "all" / "main.yml").read_text().count(wheels[0].name) == 1
    templates = _site_file(bin_dir, "planner.templates_data").parent       # every nested template was installed
    assert sorted(p.relative_to(templates).as_posix() for p in templates.rglob("*") if p.is_file()
                  and "__pycache__" not in p.parts) == sorted(
        p.relative_to(REPO / "templates").as_posix() for p in (REPO / "templates").rglob("*") if p.is_file()
        and "__pycache__" not in p.parts)


def test_the_carried_wheel_installs_and_a_changed_one_upgrades(installed, tmp_path):
    base, _ = installed
    carried = next((base / "deploy" / "ansible" / "roles" / "imserver" / "files").glob("*.whl"))
    host = _venv(tmp_path / "host")
    pip = [host / "python", "-m", "pip", "install", "-q", "--no-deps"]
    _run([*pip, carried], tmp_path)
    _run([host / "imserver", "--help"], tmp_path)
    again = _run([host / "python", "-m", "pip", "install", "--no-deps", carried], tmp_path)
    assert "already installed with the same version" in again.stdout     # same code: pip does nothing

    changed = tmp_path / "imserver"
    shutil.copytree(_site_file(host, "imserver").parent, changed, ignore=COPY_IGNORE)
    (changed / "logs.py").write_text((changed / "logs.py").read_text() + "\n# a code change\n")
    name, data = build_wheel(changed)
    assert name != carried.name
    (tmp_path / name).write_bytes(data)
    _run([*pip, tmp_path / name], tmp_path)
    assert _site_file(host, "imserver").parent.joinpath("logs.py").read_text().endswith("# a code change\n")
    show = _run([host / "python", "-m", "pip", "show", "imserver"], tmp_path).stdout
    assert f"Version: {name.split('-')[1]}" in show
