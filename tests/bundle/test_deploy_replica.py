"""The postgresql role on two hosts: a primary and a streaming replica (pg_basebackup -R), both on this machine.

Two inventory hosts with `ansible_connection: local`, each with its own `implan_root` and port, run site.yml with
only the postgresql role. A row written on the primary must appear on the replica, which must be in recovery;
a second run reports changed=0. Every process started is stopped by its pidfile.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import load_fixture_plan
from tests.bundle.test_deploy_local import PG_BIN, _free_port, _missing_prereqs, _recap, _stop_all

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them


def _psql(root: Path, port: int, sql: str, db: str = "postgres") -> str:
    """Run one statement; a standby still replaying to a consistent state ("the database system is starting
    up") is waited for, at most 60 s."""
    sock = root / "run" / "implan" / "postgresql"
    deadline = time.monotonic() + 60
    while True:
        out = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h", str(sock), "-p",
                              str(port), "-d", db, "-tAc", sql], capture_output=True, text=True, timeout=30, cwd="/")
        if out.returncode == 0 or "starting up" not in out.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _playbook(ansible_dir: Path, inventory: Path, log: Path) -> tuple[int, str]:
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=str(ansible_dir / "ansible.cfg"))
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), "site.yml"], cwd=ansible_dir, env=env,
                          capture_output=True, text=True, timeout=600)
    log.write_text(proc.stdout + proc.stderr)
    return proc.returncode, proc.stdout


def _recap_all(stdout: str) -> dict:
    totals: dict = {}
    for line in stdout.split("PLAY RECAP")[-1].splitlines():
        if ":" in line and "ok=" in line:
            host = line.split(":")[0].strip()
            totals[host] = _recap(f"PLAY RECAP\nlocalhost : {line.split(':', 1)[1]}")
    return totals


@pytest.fixture(scope="module")
def replica_pair():
    reason = _missing_prereqs()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"replica test cannot run: {reason}")
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="implan-replica-"))
    roots = {"pg-a": base / "a", "pg-b": base / "b"}
    try:
        base.chmod(0o755)
        bundle = base / "bundle"
        write_bundle(render_bundle(load_fixture_plan("plan-tiny.json"), "private"), bundle)
        ports = {h: _free_port() for h in roots}
        # host variables: they outrank the bundle's group_vars/all (inventory `all: vars:` would not)
        common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                  "implan_manage_system": False, "implan_become": False,
                  "implan_service_manager": "start-stop-daemon", "implan_secrets_dir": str(base / "secrets"),
                  "implan_address": "127.0.0.1", "implan_roles": ["postgresql"], "node_exporter_enabled": False,
                  "implan_postgresql_primary": "pg-a", "postgresql_memory_mb": 1024,
                  "postgresql_backup_repo_type": "posix", "postgresql_backup_repo_path": str(base / "backups")}
        inventory = {"all": {"hosts": {h: {**common, "implan_root": str(roots[h]), "postgresql_port": ports[h]}
                                       for h in roots}}}
        inv = base / "inventory.yml"
        inv.write_text(yaml.safe_dump(inventory))
        for r in roots.values():
            r.mkdir()
        rc, out = _playbook(bundle / "ansible", inv, base / "run1.log")
        assert rc == 0, out[-4000:]
        yield {"base": base, "roots": roots, "ports": ports, "bundle": bundle, "inventory": inv}
    finally:
        for r in roots.values():
            _stop_all(r / "run" / "implan")
        shutil.rmtree(base, ignore_errors=True)


def test_replica_streams_from_the_primary(replica_pair):
    roots, ports = replica_pair["roots"], replica_pair["ports"]
    assert _psql(roots["pg-a"], ports["pg-a"], "SELECT pg_is_in_recovery()") == "f"
    assert _psql(roots["pg-b"], ports["pg-b"], "SELECT pg_is_in_recovery()") == "t"
    assert _psql(roots["pg-a"], ports["pg-a"], "SELECT count(*) FROM pg_stat_replication") == "1"
    _psql(roots["pg-a"], ports["pg-a"], "CREATE TABLE IF NOT EXISTS probe (v text); INSERT INTO probe VALUES ('x')",
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
    rc, out = _playbook(replica_pair["bundle"] / "ansible", replica_pair["inventory"],
                        replica_pair["base"] / "run2.log")
    assert rc == 0, out[-4000:]
    recaps = _recap_all(out)
    assert set(recaps) == {"pg-a", "pg-b"}
    for host, recap in recaps.items():
        assert recap["changed"] == 0 and recap["failed"] == 0, (host, recap)
