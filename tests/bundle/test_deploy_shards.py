"""The postgresql role on a sharded layout: two shards, the first with a streaming replica, on this machine.

Three inventory hosts with `ansible_connection: local` (each its own `implan_root` and port) run site.yml with
only the postgresql role and `implan_postgresql_shards: [[pg-a, pg-c], [pg-b]]`: pg-a and pg-b must come up as
two independent primaries, pg-c as pg-a's replica (never pg-b's), each shard with its own backup stanza (the
imserver configuration of a shard map: test_ansible_settings.py). A layout that does not match the
plan's shard count stops the play with the one-line reason. Every process started is stopped by its pidfile.
"""
from __future__ import annotations

import subprocess
import time

import pytest
import yaml

from tests.bundle.deploylib import (PG_BIN, assert_second_run_changes_nothing, deployed, free_port,
                                    playbook, psql, require_prereqs)

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them

SHARDS = [["pg-a", "pg-c"], ["pg-b"]]


@pytest.fixture(scope="module")
def sharded():
    require_prereqs("shard test")
    ports = {"pg-a": free_port(), "pg-b": free_port(), "pg-c": free_port()}

    def hosts(base):
        return {h: {"implan_roles": ["postgresql"], "implan_postgresql_shards": SHARDS,
                    "implan_plan_database_shards": 2, "postgresql_memory_mb": 1024,
                    "postgresql_backup_repo_type": "posix", "postgresql_backup_repo_path": str(base / "backups"),
                    "postgresql_port": port, "implan_address": "127.0.0.1"} for h, port in ports.items()}

    with deployed("shards", "plan-tiny.json", hosts) as deployment:
        yield {"deployment": deployment, "roots": deployment.roots, "ports": ports}


def _count(root, port, sql: str) -> str:
    return subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h",
                           str(root / "run" / "implan" / "postgresql"), "-p", str(port), "-d", "imserver", "-tAc",
                           sql], capture_output=True, text=True, timeout=30, cwd="/").stdout.strip()


def test_each_shard_has_its_own_primary_and_the_replica_follows_its_own(sharded):
    roots, ports = sharded["roots"], sharded["ports"]
    assert psql(roots["pg-a"], ports["pg-a"], "SELECT pg_is_in_recovery()") == "f"
    assert psql(roots["pg-b"], ports["pg-b"], "SELECT pg_is_in_recovery()") == "f"
    assert psql(roots["pg-c"], ports["pg-c"], "SELECT pg_is_in_recovery()") == "t"
    assert psql(roots["pg-a"], ports["pg-a"], "SELECT count(*) FROM pg_stat_replication") == "1"
    assert psql(roots["pg-b"], ports["pg-b"], "SELECT count(*) FROM pg_stat_replication") == "0"
    # two clusters, not one: a row written on shard 1's primary never reaches shard 0 or its replica
    psql(roots["pg-b"], ports["pg-b"], "CREATE TABLE shard_probe (v text); INSERT INTO shard_probe VALUES ('b')",
         db="imserver")
    psql(roots["pg-a"], ports["pg-a"], "CREATE TABLE shard_probe (v text); INSERT INTO shard_probe VALUES ('a')",
         db="imserver")
    deadline = time.monotonic() + 20
    while _count(roots["pg-c"], ports["pg-c"], "SELECT string_agg(v, ',') FROM shard_probe") != "a":
        assert time.monotonic() < deadline, "shard 0's row never reached its replica"
        time.sleep(0.5)
    assert psql(roots["pg-b"], ports["pg-b"], "SELECT string_agg(v, ',') FROM shard_probe", db="imserver") == "b"


def test_each_shard_backs_up_to_its_own_stanza(sharded):
    repo = sharded["deployment"].base / "backups" / "backup"
    assert sorted(p.name for p in repo.iterdir()) == ["implan", "implan-shard1"]


def test_second_run_changes_nothing(sharded):
    assert_second_run_changes_nothing(sharded["deployment"])


def test_a_layout_that_is_not_the_plans_stops_with_the_reason(sharded):
    d = sharded["deployment"]
    inventory = yaml.safe_load(d.inventory.read_text())
    for host in inventory["all"]["hosts"].values():
        host["implan_plan_database_shards"] = 3
    bad = d.base / "bad-inventory.yml"
    bad.write_text(yaml.safe_dump(inventory))
    rc, out = playbook(d.bundle / "ansible", bad, d.base / "bad.log")
    assert rc != 0
    assert "the plan has 3 shard(s)" in out and "set implan_postgresql_shards to 3 list(s)" in out
