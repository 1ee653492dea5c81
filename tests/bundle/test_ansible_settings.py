"""Settings the Ansible roles derive from the inventory and the machine (issue 11, part 3).

The role templates are rendered by Ansible itself for a synthetic inventory (12 PostgreSQL hosts, 65 imserver
hosts, 2 Redis hosts, 12 MinIO hosts; nothing runs on them): PostgreSQL's WAL senders, connections and memory
follow the host counts and the machine, and the primaries are the pinned ones, not the first sorted hostname; the
shard map, Redis Cluster and distributed MinIO follow the plan's layout.
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
               roles/haproxy/defaults/main.yml, roles/prometheus/defaults/main.yml, roles/minio/defaults/main.yml]
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
                                      "implan_prometheus": {"hosts": hosts("mon", 1, 5)},
                                      "implan_minio": {"hosts": hosts("st", 12, 6)}}}}
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
    assert [u.split("@")[1].split(":")[0] for u in cfg["database_shards"]] == ["10.0.1.7"]  # pg-07, not pg-01
    assert sorted(r.split("@")[1].split(":")[0] for r in cfg["database_shard_replicas"]) == sorted(
        f"10.0.1.{i}" for i in range(1, 13) if i != 7)        # one shard: the other 11 hosts are its replicas
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
    redis_tasks = yaml.safe_load((ansible_dir / "roles" / "redis" / "tasks" / "instance.yml").read_text())
    conf_task = next(t for t in redis_tasks if "ansible.builtin.template" in t)
    assert conf_task["no_log"] is True and conf_task["diff"] is False
    pg = yaml.safe_load((ansible_dir / "roles" / "postgresql" / "tasks" / "configure.yml").read_text())
    service = next(t for t in pg if "ansible.builtin.include_role" in t)
    assert "postgresql_hba" not in service["vars"]["implan_service_restart"]     # pg_hba: reload, not restart
    assert any("reload" in (t.get("ansible.builtin.command") or {}).get("argv", []) for t in pg)


SHARDS = [[f"pg-{2 * k + 1:02d}", f"pg-{2 * k + 2:02d}"] for k in range(6)]   # 6 shards, primary first


def test_imserver_gets_every_shards_primary_in_order_and_their_replicas(ansible_dir, tmp_path):
    from imserver.config import Config
    cfg = yaml.safe_load(_render(ansible_dir, tmp_path, "im-05", ["imserver/templates/imserver.yaml.j2"],
                                 implan_postgresql_shards=SHARDS, implan_plan_database_shards=6,
                                 imserver_media_backend="local", item=0)["imserver.yaml.j2"])
    assert "database_url" not in cfg
    assert [u.split("@")[1].split(":")[0] for u in cfg["database_shards"]] == [
        f"10.0.1.{2 * k + 1}" for k in range(6)]
    assert [(r.split("=")[0], r.split("@")[1].split(":")[0]) for r in cfg["database_shard_replicas"]] == [
        (str(k), f"10.0.1.{2 * k + 2}") for k in range(6)]
    Config(**cfg).validate()                                   # imserver accepts the shard map


def test_each_postgresql_host_follows_its_own_shards_primary(ansible_dir, tmp_path):
    conf = _render(ansible_dir, tmp_path, "pg-06", ["postgresql/templates/implan.conf.j2"],
                   implan_postgresql_shards=SHARDS, implan_plan_database_shards=6)["implan.conf.j2"]
    assert "--stanza=implan-shard2 " in conf                  # pg-06 is shard 2's replica: shard 2's backups


def test_minio_runs_one_distributed_store_with_the_plans_redundancy(ansible_dir, tmp_path):
    drives = [f"/srv/disk{i}" for i in range(1, 13)]
    for redundancy, parity in (("2 copies", 6), ("erasure coding 8+4", 4)):
        env = _render(ansible_dir, tmp_path / str(parity), "st-03", ["minio/templates/minio.env.j2"],
                      minio_drives=drives, minio_redundancy=redundancy)["minio.env.j2"]
        assert "MINIO_ERASURE_SET_DRIVE_COUNT=12\n" in env      # 144 drives: sets of 12, one drive per server
        assert f"MINIO_STORAGE_CLASS_STANDARD=EC:{parity}\n" in env  # 6 of 12: twice the data; 4 of 12: 1.5x


def test_inventory_group_variables_reach_the_hosts(tmp_path):
    """hosts.example.yml and Terraform's inventories set implan_roles per group and the shard map under all:vars;
    a default in the playbook's group_vars/all would silently take precedence over both (Ansible's order)."""
    require_tool(shutil.which("ansible-inventory"), "ansible-inventory")
    out = tmp_path / "bundle"
    write_bundle(render_bundle(load_fixture_plan("plan-tiny.json"), "private"), out)
    hosts = yaml.safe_load((out / "ansible" / "hosts.example.yml").read_text())
    group, body = next((k, v) for k, v in hosts["all"]["children"].items() if "postgresql" in v["vars"]["implan_roles"])
    host = next(iter(body["hosts"]))
    body["vars"]["implan_lb_source_cidrs"] = ["198.51.100.0/24"]
    hosts["all"].setdefault("vars", {})["implan_postgresql_shards"] = [[host]]
    (tmp_path / "inv.yml").write_text(yaml.safe_dump(hosts))
    env = dict(os.environ, ANSIBLE_CONFIG=str(out / "ansible" / "ansible.cfg"))
    proc = subprocess.run(["ansible-inventory", "-i", str(tmp_path / "inv.yml"), "--playbook-dir",
                           str(out / "ansible"), "--host", host], cwd=out / "ansible", env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout)
    assert seen["implan_roles"] == body["vars"]["implan_roles"]
    assert seen["implan_lb_source_cidrs"] == ["198.51.100.0/24"]
    assert seen["implan_postgresql_shards"] == [[host]]


def test_a_redis_cluster_plan_runs_enough_instances_and_imserver_knows_them_all(ansible_dir, tmp_path):
    """2 Redis hosts for the plan's 3 masters x 2 copies: 3 instances each (6 members: 3 masters, 3 replicas)."""
    from imserver.config import Config
    common = dict(implan_plan_redis_cluster_masters=3, implan_plan_redis_cluster_replicas=1,
                  imserver_media_backend="local", item=0)
    im = yaml.safe_load(_render(ansible_dir, tmp_path / "im", "im-05", ["imserver/templates/imserver.yaml.j2"],
                                **common)["imserver.yaml.j2"])
    assert im["redis_cluster_nodes"] == [f"10.0.3.{h}:{6379 + i}" for h in (1, 2) for i in range(3)]
    assert "redis_sentinels" not in im and "@/0" in im["redis_url"]          # the URL only carries the password
    Config(**im).validate()
    conf = _render(ansible_dir, tmp_path / "rd", "rd-02", ["redis/templates/redis.conf.j2"],
                   **common)["redis.conf.j2"]
    assert "cluster-enabled yes\n" in conf and "cluster-port 16379\n" in conf and "replicaof" not in conf
    fw = _render(ansible_dir, tmp_path / "fw", "rd-02", ["common/templates/nftables.conf.j2"], implan_roles=["redis"],
                 **common)["nftables.conf.j2"]
    ports = re.search(r"ip saddr 10\.0\.0\.0/8 tcp dport \{ ([^}]*) \}", fw).group(1).replace(" ", "").split(",")
    assert {"6379", "6380", "6381", "16379", "16380", "16381"} <= set(ports)

