"""Settings the Ansible roles derive from the inventory and the machine (issue 11, part 3).

The role templates are rendered by Ansible itself for a synthetic inventory (12 PostgreSQL hosts, 65 imserver
hosts, 2 Redis hosts; nothing runs on them): PostgreSQL's WAL senders, connections and memory follow the host
counts and the machine, and the primaries are the pinned ones, not the first sorted hostname.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import load_fixture_plan, require_tool

PLAYBOOK = """---
- name: Render role templates for one host
  hosts: "{{ target }}"
  gather_facts: false
  vars_files: [roles/postgresql/defaults/main.yml, roles/redis/defaults/main.yml, roles/imserver/defaults/main.yml,
               roles/haproxy/defaults/main.yml, roles/prometheus/defaults/main.yml]
  tasks:
    - name: Render
      ansible.builtin.template:
        src: "roles/{{ tpl }}"
        dest: "{{ out_dir }}/{{ tpl | basename }}"
        mode: "0600"
      loop: "{{ templates }}"
      loop_control:
        loop_var: tpl
"""


@pytest.fixture(scope="module")
def ansible_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("settings") / "bundle"
    write_bundle(render_bundle(load_fixture_plan("plan-tiny.json"), "private"), out)
    (out / "ansible" / "render-only.yml").write_text(PLAYBOOK)
    return out / "ansible"


def _render(ansible_dir: Path, tmp_path: Path, target: str, templates: list[str], witness: bool = False,
            **extra) -> dict[str, str]:
    require_tool(shutil.which("ansible-playbook"), "ansible-playbook")
    tmp_path.mkdir(parents=True, exist_ok=True)

    def hosts(prefix, n, first_ip):
        return {f"{prefix}-{i:02d}": {"implan_address": f"10.0.{first_ip}.{i}"} for i in range(1, n + 1)}

    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                         "children": {"implan_postgresql": {"hosts": hosts("pg", 12, 1)},
                                      "implan_imserver": {"hosts": hosts("im", 65, 2)},
                                      "implan_redis": {"hosts": hosts("rd", 2, 3)},
                                      "implan_sentinel": {"hosts": hosts("wt", 1 if witness else 0, 4)},
                                      "implan_prometheus": {"hosts": hosts("mon", 1, 5)}}}}
    (tmp_path / "inv.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "vars.json").write_text(json.dumps({"target": target, "templates": templates,
                                                    "out_dir": str(tmp_path), "implan_secrets_dir":
                                                    str(tmp_path / "secrets"), **extra}))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(ansible_dir / "ansible.cfg"))
    proc = subprocess.run(["ansible-playbook", "-i", str(tmp_path / "inv.yml"), "render-only.yml",
                           "-e", f"@{tmp_path / 'vars.json'}"], cwd=ansible_dir, env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return {Path(t).name: (tmp_path / Path(t).name).read_text() for t in templates}


def _setting(conf: str, key: str) -> str:
    return re.search(rf"^{key} = (.*)$", conf, re.M).group(1)


def test_postgresql_is_sized_from_the_hosts_and_the_machine(ansible_dir, tmp_path):
    conf = _render(ansible_dir, tmp_path, "pg-03", ["postgresql/templates/implan.conf.j2"],
                   implan_postgresql_primary="pg-07", postgresql_memory_mb=16384, imserver_instances=2)["implan.conf.j2"]
    assert int(_setting(conf, "max_wal_senders")) >= 12
    assert int(_setting(conf, "max_connections")) >= 65 * 2 * 5          # every imserver process's pool fits
    assert _setting(conf, "shared_buffers") == "4096MB"
    assert _setting(conf, "effective_cache_size") == "12288MB"


def test_imserver_and_redis_follow_the_pinned_primaries(ansible_dir, tmp_path):
    out = _render(ansible_dir, tmp_path, "im-05",
                  ["imserver/templates/imserver.yaml.j2", "redis/templates/redis.conf.j2"],
                  implan_postgresql_primary="pg-07", implan_redis_primary="rd-02", imserver_media_backend="local",
                  item=0)
    cfg = yaml.safe_load(out["imserver.yaml.j2"])
    assert "@10.0.1.7:" in cfg["database_url"]                # pg-07, not pg-01 (the first sorted name)
    assert "@10.0.3.2:" in cfg["redis_url"]
    assert cfg["listen_port"] != cfg["media_port"]


def test_imserver_admin_api_is_on_the_private_address_with_its_own_token(ansible_dir, tmp_path):
    from imserver.config import Config
    cfg = yaml.safe_load(_render(ansible_dir, tmp_path, "im-05", ["imserver/templates/imserver.yaml.j2"],
                                 imserver_media_backend="local", item=1)["imserver.yaml.j2"])
    assert cfg["admin_host"] == "10.0.2.5"                     # the host's private address, not a wildcard
    assert cfg["admin_port"] == 10766 and cfg["admin_port"] not in (cfg["listen_port"], cfg["media_port"])
    assert len(cfg["admin_token"]) >= 32 and cfg["admin_token"] != cfg["jwt_secret"]
    Config(**cfg).validate()                                   # the node accepts what the role writes
    off = yaml.safe_load(_render(ansible_dir, tmp_path / "off", "im-05", ["imserver/templates/imserver.yaml.j2"],
                                 imserver_media_backend="local", item=0, imserver_admin_port=0)["imserver.yaml.j2"])
    assert "admin_port" not in off and "admin_token" not in off


def test_the_witness_is_the_third_sentinel_vote_and_imserver_asks_the_sentinels(ansible_dir, tmp_path):
    common = dict(implan_redis_primary="rd-02", imserver_media_backend="local", item=0, witness=True)
    sentinel = _render(ansible_dir, tmp_path / "wt", "wt-01", ["redis/templates/sentinel.conf.j2"], **common)
    conf = sentinel["sentinel.conf.j2"]
    assert "sentinel monitor implan 10.0.3.2 6379 2\n" in conf            # the pinned primary, 2 of 3 votes
    assert "sentinel announce-ip 10.0.4.1\n" in conf and "bind 10.0.4.1\n" in conf
    im = yaml.safe_load(_render(ansible_dir, tmp_path / "im", "im-05", ["imserver/templates/imserver.yaml.j2"],
                                **common)["imserver.yaml.j2"])
    assert im["redis_sentinels"] == ["10.0.3.1:26379", "10.0.3.2:26379", "10.0.4.1:26379"]
    assert im["redis_sentinel_master"] == "implan"
    fw = _render(ansible_dir, tmp_path / "fw", "wt-01", ["common/templates/nftables.conf.j2"], implan_roles=["sentinel"],
                 **common)["nftables.conf.j2"]
    assert re.search(r"ip saddr 10\.0\.0\.0/8 tcp dport \{ [^}]*\b26379\b", fw), fw


def test_two_redis_hosts_without_a_witness_run_no_sentinel(ansible_dir, tmp_path):
    """Two votes cannot fail over (the failed host takes its vote with it): no Sentinel, imserver uses the URL."""
    im = yaml.safe_load(_render(ansible_dir, tmp_path, "im-05", ["imserver/templates/imserver.yaml.j2"],
                                implan_redis_primary="rd-02", imserver_media_backend="local",
                                item=0)["imserver.yaml.j2"])
    assert "redis_sentinels" not in im and "@10.0.3.2:" in im["redis_url"]


def test_static_role_settings(ansible_dir):
    site = yaml.safe_load((ansible_dir / "site.yml").read_text())
    assert next(p for p in site if p["hosts"] == "implan_imserver").get("serial")
    redis_tasks = yaml.safe_load((ansible_dir / "roles" / "redis" / "tasks" / "server.yml").read_text())
    conf_task = next(t for t in redis_tasks if "ansible.builtin.template" in t)
    assert conf_task["no_log"] is True and conf_task["diff"] is False
    pg = yaml.safe_load((ansible_dir / "roles" / "postgresql" / "tasks" / "configure.yml").read_text())
    service = next(t for t in pg if "ansible.builtin.include_role" in t)
    assert "postgresql_hba" not in service["vars"]["implan_service_restart"]     # pg_hba: reload, not restart
    assert any("reload" in (t.get("ansible.builtin.command") or {}).get("argv", []) for t in pg)
