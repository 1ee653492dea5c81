"""Generated Ansible: `ansible-playbook --syntax-check` and `ansible-lint --offline` (production profile) pass."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import load_fixture_plan, require_tool

CASES = [("plan-aws-public.json", "public"), ("plan-tiny.json", "private"), ("plan-aws-hybrid.json", "hybrid")]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0].removesuffix('.json')}-{c[1]}")
def ansible_dir(request, tmp_path_factory):
    plan_name, strategy = request.param
    out = tmp_path_factory.mktemp("ans") / "bundle"
    write_bundle(render_bundle(load_fixture_plan(plan_name), strategy), out)
    return out / "ansible"


def _env(ansible_dir):
    return dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(ansible_dir / "ansible.cfg"), NO_COLOR="1")


def test_syntax_check(ansible_dir):
    exe = require_tool(shutil.which("ansible-playbook"), "ansible-playbook")
    proc = subprocess.run([exe, "--syntax-check", "-i", "localhost,", "site.yml",
                           "-e", f"ansible_python_interpreter={sys.executable}"],
                          cwd=ansible_dir, env=_env(ansible_dir), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile(ansible_dir):
    exe = require_tool(shutil.which("ansible-lint"), "ansible-lint")
    proc = subprocess.run([exe, "--offline", "--profile", "production", "--nocolor"], cwd=ansible_dir,
                          env=_env(ansible_dir), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
