"""The rendered nftables ruleset: valid for IPv4 and IPv6 admin networks (`nft -c`), never closes SSH for the operator.

The common role's firewall tasks run from a bundle against localhost with the ruleset written to a temporary
file and not applied (`implan_nftables_apply: false`); `nft -c -f` checks each ruleset without loading it.
"""
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

PLAYBOOK = """---
- name: Render the firewall only
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The common role's firewall tasks
      ansible.builtin.include_role:
        name: common
        tasks_from: firewall
"""


@pytest.fixture(scope="module")
def ansible_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fw") / "bundle"
    write_bundle(render_bundle(load_fixture_plan("plan-aws-public.json"), "public"), out)
    (out / "ansible" / "firewall-only.yml").write_text(PLAYBOOK)
    return out / "ansible"


def _render(ansible_dir: Path, tmp_path: Path, **overrides) -> tuple[subprocess.CompletedProcess, Path]:
    require_tool(shutil.which("nft"), "nft (Debian package nftables)")
    conf = tmp_path / "nftables.conf"
    extra = {"ansible_python_interpreter": sys.executable, "implan_nftables_conf": str(conf),
             "implan_nftables_apply": False, "implan_roles": ["imserver"], "implan_controller_address": "",
             **overrides}
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(ansible_dir / "ansible.cfg"))
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "firewall-only.yml",
                           "-e", f"@{tmp_path / 'vars.json'}"], cwd=ansible_dir, env=env, capture_output=True,
                          text=True, timeout=180)
    return proc, conf


def _valid_ruleset(conf: Path) -> str:
    check = subprocess.run(["nft", "-c", "-f", str(conf)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    return conf.read_text()


@pytest.mark.parametrize("admin", [["198.51.100.0/24"], ["2001:db8:1::/48"], ["198.51.100.0/24", "2001:db8::/32"]],
                         ids=["ipv4", "ipv6", "both"])
def test_admin_networks_of_either_family_render_a_valid_ruleset(ansible_dir, tmp_path, admin):
    proc, conf = _render(ansible_dir, tmp_path, implan_admin_cidrs=admin)
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = _valid_ruleset(conf)
    for cidr in admin:
        assert f"{'ip6' if ':' in cidr else 'ip'} saddr {cidr} tcp dport 22 accept" in text
    assert "saddr 10.0.0.0/8 tcp dport 22" not in text          # admin networks set: SSH only from them


def test_no_admin_networks_keeps_ssh_from_the_internal_networks_and_the_controller(ansible_dir, tmp_path):
    proc, conf = _render(ansible_dir, tmp_path, implan_admin_cidrs=[], implan_controller_address="203.0.113.7")
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = _valid_ruleset(conf)
    assert "ip saddr 10.0.0.0/8 tcp dport 22 accept" in text
    assert "ip saddr 203.0.113.7/32 tcp dport 22 accept" in text


def test_a_firewall_without_any_ssh_source_is_refused(ansible_dir, tmp_path):
    proc, conf = _render(ansible_dir, tmp_path, implan_admin_cidrs=[], implan_internal_cidrs=[])
    assert proc.returncode != 0
    assert "would close port 22" in proc.stdout
    assert not conf.exists()


def test_cloud_lb_sources_reach_the_websocket_ports_only(ansible_dir, tmp_path):
    proc, conf = _render(ansible_dir, tmp_path, implan_admin_cidrs=["198.51.100.0/24"], imserver_instances=2,
                         implan_lb_source_cidrs=["0.0.0.0/0", "::/0"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = _valid_ruleset(conf)
    assert "ip saddr 0.0.0.0/0 tcp dport { 8765, 8766 } accept" in text
    assert "ip6 saddr ::/0 tcp dport { 8765, 8766 } accept" in text
    assert "ip saddr 10.0.0.0/8 tcp dport { 8765, 8766, 9765, 9766, 9100 } accept" in text


def test_the_imserver_admin_api_is_open_only_to_the_admin_networks(ansible_dir, tmp_path):
    proc, conf = _render(ansible_dir, tmp_path, implan_admin_cidrs=["198.51.100.0/24"], imserver_instances=2,
                         implan_lb_source_cidrs=["0.0.0.0/0"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = _valid_ruleset(conf)
    assert "ip saddr 198.51.100.0/24 tcp dport { 10765, 10766 } accept" in text
    assert [line for line in text.splitlines() if "10765" in line] == [
        "    ip saddr 198.51.100.0/24 tcp dport { 10765, 10766 } accept"]   # not the internal or LB sources
    proc, conf = _render(ansible_dir, tmp_path, implan_admin_cidrs=["198.51.100.0/24"], imserver_admin_port=0)
    assert proc.returncode == 0 and "10765" not in _valid_ruleset(conf)


def test_nftables_is_enabled_at_boot(ansible_dir):
    tasks = yaml.safe_load((ansible_dir / "roles" / "common" / "tasks" / "firewall.yml").read_text())
    boot = [t for t in tasks if (t.get("ansible.builtin.service") or {}).get("name") == "nftables"]
    assert boot and boot[0]["ansible.builtin.service"]["enabled"] is True
