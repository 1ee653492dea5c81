"""The postgresql role on two hosts: a primary and a streaming replica (pg_basebackup -R), both on this machine.

Two inventory hosts with `ansible_connection: local`, each with its own `implan_root` and port, run site.yml with
only the postgresql role. A row written on the primary must appear on the replica, which must be in recovery;
a second run reports changed=0. Every process started is stopped by its pidfile.
"""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.bundle.deploylib import PG_BIN, assert_second_run_changes_nothing, deployed, free_port, psql, require_prereqs

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them


@pytest.fixture(scope="module")
def replica_pair():
    require_prereqs("replica test")
    ports = {"pg-a": free_port(), "pg-b": free_port()}

    def hosts(base: Path) -> dict:
        return {h: {"implan_roles": ["postgresql"], "implan_postgresql_primary": "pg-a", "postgresql_memory_mb": 1024,
                    "postgresql_backup_repo_type": "posix", "postgresql_backup_repo_path": str(base / "backups"),
                    "postgresql_port": port} for h, port in ports.items()}

    with deployed("replica", "plan-tiny.json", hosts) as deployment:
        yield {"deployment": deployment, "roots": deployment.roots, "ports": ports}


def test_replica_streams_from_the_primary(replica_pair):
    roots, ports = replica_pair["roots"], replica_pair["ports"]
    assert psql(roots["pg-a"], ports["pg-a"], "SELECT pg_is_in_recovery()") == "f"
    assert psql(roots["pg-b"], ports["pg-b"], "SELECT pg_is_in_recovery()") == "t"
    assert psql(roots["pg-a"], ports["pg-a"], "SELECT count(*) FROM pg_stat_replication") == "1"
    # the replica streams over TLS, verifying the primary's certificate against the deployment CA
    assert psql(roots["pg-a"], ports["pg-a"], "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_replication r "
                                              "USING (pid)") == "t"
    conninfo = (roots["pg-b"] / "var" / "lib" / "implan" / "postgresql" / "postgresql.auto.conf").read_text()
    assert re.search(r"sslmode='*verify-full", conninfo) and "sslrootcert=" in conninfo, conninfo
    psql(roots["pg-a"], ports["pg-a"], "CREATE TABLE IF NOT EXISTS probe (v text); INSERT INTO probe VALUES ('x')",
         db="imserver")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h",
                              str(roots["pg-b"] / "run" / "implan" / "postgresql"), "-p", str(ports["pg-b"]),
                              "-d", "imserver", "-tAc", "SELECT count(*) FROM probe"],
                             capture_output=True, text=True, timeout=30, cwd="/")
        if out.returncode == 0 and out.stdout.strip() == "1":
            break
        time.sleep(0.5)
    else:
        pytest.fail("the row written on the primary never reached the replica")


def test_second_run_changes_nothing_on_either_host(replica_pair):
    assert_second_run_changes_nothing(replica_pair["deployment"])
