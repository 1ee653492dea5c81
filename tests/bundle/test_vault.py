"""Secrets a second operator reuses (issue 11, part 4): `ansible-playbook secrets.yml` puts every secret the roles
use into group_vars/all/vault.yml, encrypted with ansible-vault; with that file and the vault password, an
operator with an empty secret store gets the same secrets and generates none. Without the file, each control
machine generates its own (the single-operator default)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import load_fixture_plan, require_tool

NAMES = ["imserver_admin_token", "jwt_secret", "minio_imserver", "minio_root", "pgbackrest_cipher",
         "postgresql_imserver", "postgresql_replicator", "redis"]


def _run(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home), ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_CONFIG=str(cwd / "ansible.cfg"),
               ANSIBLE_LOCAL_TEMP=str(home / ".ansible-tmp"))
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _secrets(ansible: Path, home: Path, *extra: str) -> dict:
    """{name: implan_secret_<name>} as the playbooks would see them on this control machine."""
    exe = require_tool(shutil.which("ansible"), "ansible")
    expr = "{" + ", ".join(f"'{n}': implan_secret_{n}" for n in NAMES) + "}"
    proc = _run([exe, "localhost", "-i", "localhost,", "-c", "local", "-m", "ansible.builtin.debug",
                 "-a", f"msg={{{{ {expr} | to_json }}}}", "-e", f"ansible_python_interpreter={sys.executable}",
                 *extra], ansible, home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    msg = json.loads(proc.stdout[proc.stdout.index("{"):])["msg"]
    return json.loads(msg) if isinstance(msg, str) else msg


def _store(home: Path) -> Path:
    return home / ".config" / "implan" / "secrets"


@pytest.fixture
def bundle(tmp_path) -> Path:
    out = tmp_path / "bundle"
    write_bundle(render_bundle(load_fixture_plan("plan-tiny.json"), "private"), out)
    return out / "ansible"


def test_a_second_operator_reuses_the_vaulted_secrets(bundle, tmp_path):
    playbook = require_tool(shutil.which("ansible-playbook"), "ansible-playbook")
    first, second, password = tmp_path / "op1", tmp_path / "op2", tmp_path / "vault-pass"
    first.mkdir(), second.mkdir()
    password.write_text("correct horse battery staple\n")
    before = _secrets(bundle, first)          # the first operator has been deploying: secrets in the local store
    proc = _run([playbook, "-i", "localhost,", "-c", "local", "secrets.yml", "-e",
                 f"implan_vault_password_file={password}", "-e", f"ansible_python_interpreter={sys.executable}"],
                bundle, first)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    vault = bundle / "group_vars" / "all" / "vault.yml"
    text = vault.read_text()
    assert text.startswith("$ANSIBLE_VAULT;")
    assert not any(value in text for value in before.values())         # nothing readable without the password
    assert oct(vault.stat().st_mode & 0o777) == "0o600"

    view = subprocess.run([require_tool(shutil.which("ansible-vault"), "ansible-vault"), "view",
                           "--vault-password-file", str(password), str(vault)], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, HOME=str(first)))
    assert view.returncode == 0, view.stderr
    vaulted = yaml.safe_load(view.stdout)["implan_vault"]
    ca_dir = next(_store(first).iterdir()) / "tls"
    assert vaulted.pop("tls_ca_crt") == (ca_dir / "ca.crt").read_text()       # the deployment CA, shared too
    assert vaulted.pop("tls_ca_key") == (ca_dir / "ca.key").read_text()
    assert vaulted == before

    shared = _secrets(bundle, second, "--vault-password-file", str(password))
    assert shared == before
    assert not _store(second).exists()        # the second operator generated nothing so far

    # the second operator's runs sign host certificates with the same CA
    (bundle / "ca-probe.yml").write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                                         "    - ansible.builtin.include_tasks: roles/common/tasks/tls_ca.yml\n")
    proc = _run([playbook, "-i", "localhost,", "-c", "local", "ca-probe.yml", "--vault-password-file", str(password),
                 "-e", f"ansible_python_interpreter={sys.executable}"], bundle, second)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = next(_store(second).iterdir()) / "tls"
    assert (theirs / "ca.crt").read_text() == (ca_dir / "ca.crt").read_text()
    assert (theirs / "ca.key").read_text() == (ca_dir / "ca.key").read_text()
    (bundle / "ca-probe.yml").unlink()

    # running it again keeps the vault (its secrets are in use)
    proc = _run([playbook, "-i", "localhost,", "-c", "local", "secrets.yml", "-e",
                 f"implan_vault_password_file={password}", "-e", f"ansible_python_interpreter={sys.executable}",
                 "--vault-password-file", str(password)], bundle, first)
    assert proc.returncode == 0 and "changed=0" in proc.stdout, proc.stdout + proc.stderr
    assert vault.read_text() == text


def test_without_a_vault_each_control_machine_generates_its_own(bundle, tmp_path):
    first, second = tmp_path / "op1", tmp_path / "op2"
    first.mkdir(), second.mkdir()
    mine, theirs = _secrets(bundle, first), _secrets(bundle, second)
    assert set(mine) == set(NAMES)
    assert all(mine[k] != theirs[k] for k in mine)
    assert _secrets(bundle, first) == mine     # generated once, then read back
    assert len(mine["pgbackrest_cipher"]) == 64 and len(mine["redis"]) == 32


def test_secrets_playbook_needs_the_password_file(bundle, tmp_path):
    playbook = require_tool(shutil.which("ansible-playbook"), "ansible-playbook")
    proc = _run([playbook, "-i", "localhost,", "-c", "local", "secrets.yml",
                 "-e", f"ansible_python_interpreter={sys.executable}"], bundle, tmp_path)
    assert proc.returncode != 0
    assert "implan_vault_password_file" in proc.stdout
    assert not (bundle / "group_vars" / "all" / "vault.yml").exists()
