"""The redis role on two Redis hosts and the plan's quorum witness, all on this machine: three Sentinels.

Three inventory hosts with `ansible_connection: local` (own roots and ports) run site.yml: `rd-a` (the pinned
primary) and `rd-b` with roles [redis], `witness` with roles [sentinel] as the witness's Terraform inventory
gives it. The Sentinels must know each other and the replica; a second run reports changed=0 (Sentinel rewrites
its own file, the seed stays put); the primary is killed and the Sentinels promote rd-b.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
import yaml

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import load_fixture_plan, require_tool
from tests.bundle.test_deploy_local import _free_port, _stop_all
from tests.bundle.test_deploy_replica import _playbook, _recap_all

HOSTS = {"rd-a": ["redis"], "rd-b": ["redis"], "witness": ["sentinel"]}


def _password(base: Path) -> str:
    return (base / "secrets" / "redis").read_text().strip()


def _sentinel_view(port: int, password: str) -> dict:
    client = redis.Redis(port=port, password=password, decode_responses=True, socket_timeout=2)
    return client.execute_command("SENTINEL", "MASTER", "implan")


@pytest.fixture(scope="module")
def sentinels():
    require_tool(shutil.which("ansible-playbook"), "ansible-playbook")
    require_tool(shutil.which("start-stop-daemon"), "start-stop-daemon")
    require_tool(shutil.which("redis-server"), "redis-server")
    base = Path(tempfile.mkdtemp(prefix="implan-sentinel-"))
    roots = {h: base / h for h in HOSTS}
    try:
        bundle = base / "bundle"
        write_bundle(render_bundle(load_fixture_plan("plan-private-witness.json"), "private"), bundle)
        ports = {h: {"redis_port": _free_port(), "redis_sentinel_port": _free_port()} for h in HOSTS}
        common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                  "implan_manage_system": False, "implan_become": False,
                  "implan_service_manager": "start-stop-daemon", "implan_secrets_dir": str(base / "secrets"),
                  "implan_address": "127.0.0.1", "node_exporter_enabled": False, "implan_redis_primary": "rd-a",
                  "redis_sentinel_down_after_ms": 1000, "redis_sentinel_failover_timeout_ms": 10000}
        inventory = {"all": {"hosts": {h: {**common, **ports[h], "implan_roles": roles, "implan_root": str(roots[h])}
                                       for h, roles in HOSTS.items()}}}
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


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(what)
        time.sleep(0.3)


def test_three_sentinels_watch_the_pinned_primary_and_its_replica(sentinels):
    password, ports = _password(sentinels["base"]), sentinels["ports"]
    assert not (sentinels["roots"]["witness"] / "etc" / "implan" / "redis.conf").exists()   # the witness: Sentinel only
    def settled(host: str) -> dict | None:
        view = _sentinel_view(ports[host]["redis_sentinel_port"], password)
        return view if view["num-other-sentinels"] == "2" and view["num-slaves"] == "1" else None

    for host in HOSTS:
        view = _wait(lambda h=host: settled(h), 30, f"the Sentinel on {host} did not find the other two and the replica")
        assert view["port"] == str(ports["rd-a"]["redis_port"]) and view["quorum"] == "2"


def test_second_run_changes_nothing(sentinels):
    rc, out = _playbook(sentinels["bundle"] / "ansible", sentinels["inventory"], sentinels["base"] / "run2.log")
    assert rc == 0, out[-4000:]
    recaps = _recap_all(out)
    assert set(recaps) == set(HOSTS)
    for host, recap in recaps.items():
        assert recap["changed"] == 0 and recap["failed"] == 0, (host, recap)


def test_the_sentinels_promote_the_replica_when_the_primary_dies(sentinels):
    password, ports = _password(sentinels["base"]), sentinels["ports"]
    _stop_all(sentinels["roots"]["rd-a"] / "run" / "implan")            # rd-a's Redis and Sentinel: a lost cabinet
    new = str(ports["rd-b"]["redis_port"])
    for host in ("rd-b", "witness"):
        _wait(lambda h=host: _sentinel_view(ports[h]["redis_sentinel_port"], password)["port"] == new, 60,
              f"the Sentinel on {host} did not move the master to rd-b")
    info = redis.Redis(port=ports["rd-b"]["redis_port"], password=password).info("replication")
    assert info["role"] == "master"
