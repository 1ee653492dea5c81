"""The redis role on a Redis Cluster layout: three Redis hosts, the plan's 3 masters with one replica each.

Three inventory hosts with `ansible_connection: local` (each its own `implan_root` and ports) run site.yml with the
redis role and `implan_plan_redis_cluster_masters: 3`: each host must run two instances, joined into one cluster
of three masters each with one replica, serving every slot; no Sentinel. Killing one master (kill -9) must leave
the cluster serving every slot again once its replica has taken over. A second run changes nothing (the cluster
is not re-created). Every process started is stopped by its pidfile.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.bundle.deploylib import assert_second_run_changes_nothing, deployed, free_port, require_prereqs

pytestmark = pytest.mark.deploy      # slow: real deployments; `pytest -m "not deploy"` skips them

HOSTS = ("rd-a", "rd-b", "rd-c")
BUS_OFFSET = 2                       # instance ports p, p+1; their cluster bus ports p+2, p+3


@pytest.fixture(scope="module")
def cluster():
    require_prereqs("Redis Cluster test")
    ports = {h: free_port(pairs=4) for h in HOSTS}

    def hosts(base):
        return {h: {"implan_roles": ["redis"], "implan_plan_redis_cluster_masters": 3,
                    "implan_plan_redis_cluster_replicas": 1, "implan_redis_cluster_bus_offset": BUS_OFFSET,
                    "redis_port": port} for h, port in ports.items()}

    with deployed("rcluster", "plan-tiny.json", hosts) as deployment:
        password = (deployment.base / "secrets" / "redis").read_text().strip()
        ca = deployment.base / "secrets" / "tls" / "ca.crt"       # the deployment's TLS: Redis serves TLS only
        yield {"deployment": deployment, "ports": ports, "password": password, "ca": str(ca)}


def _cli(c, port: int, *args: str) -> str:
    out = subprocess.run(["redis-cli", "--tls", "--cacert", c["ca"], "-h", "127.0.0.1", "-p", str(port),
                          *args], capture_output=True, text=True,
                         timeout=30, env=dict(os.environ, REDISCLI_AUTH=c["password"]))
    assert out.returncode == 0, out.stderr
    return out.stdout


def _nodes(c, port: int) -> list[list[str]]:
    return [line.split() for line in _cli(c, port, "cluster", "nodes").splitlines() if line.strip()]


def _wait_state_ok(c, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while "cluster_state:ok" not in _cli(c, port, "cluster", "info"):
        assert time.monotonic() < deadline, _cli(c, port, "cluster", "nodes")
        time.sleep(0.5)


def test_every_instance_of_every_host_is_a_member_three_masters_one_replica_each(cluster):
    ports = cluster["ports"]
    assert "cluster_state:ok" in _cli(cluster, ports["rd-a"], "cluster", "info")
    nodes = _nodes(cluster, ports["rd-b"])
    members = sorted(int(n[1].split("@")[0].rsplit(":", 1)[1]) for n in nodes)
    assert members == sorted(p + i for p in ports.values() for i in (0, 1))     # two instances per host
    masters = [n for n in nodes if "master" in n[2]]
    replicas = [n for n in nodes if "slave" in n[2]]
    assert len(masters) == 3 and len(replicas) == 3
    assert sorted(r[3] for r in replicas) == sorted(m[0] for m in masters)       # each master has one replica
    assert not list(Path(cluster["deployment"].base).glob("*/run/implan/*sentinel*.pid"))


def test_a_key_written_through_one_node_is_read_through_another(cluster):
    ports = cluster["ports"]
    assert _cli(cluster, ports["rd-a"], "-c", "set", "probe:{x}", "42").strip() == "OK"
    assert _cli(cluster, ports["rd-c"], "-c", "get", "probe:{x}").strip() == "42"


def test_second_run_changes_nothing(cluster):
    assert_second_run_changes_nothing(cluster["deployment"])


def test_a_killed_master_is_replaced_by_its_replica(cluster):
    """Last: it leaves one instance down (its pidfile stays; teardown's stop of a dead pid is a no-op)."""
    ports = cluster["ports"]
    victim = next(n for n in _nodes(cluster, ports["rd-a"]) if "master" in n[2] and "myself" not in n[2])
    victim_port = int(victim[1].split("@")[0].rsplit(":", 1)[1])
    pid = int(_cli(cluster, victim_port, "info", "server").split("process_id:")[1].split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60          # node timeout 5 s, then the replica's election
    while True:
        nodes = _nodes(cluster, ports["rd-a"])
        masters = [n[0] for n in nodes if "master" in n[2] and "fail" not in n[2]]
        if victim[0] not in masters and len(masters) == 3:
            break
        assert time.monotonic() < deadline, nodes
        time.sleep(0.5)
    assert any(n[0] == victim[0] and "fail" in n[2] for n in nodes)
    _wait_state_ok(cluster, ports["rd-a"], timeout_s=30)
    live = next(int(n[1].split("@")[0].rsplit(":", 1)[1]) for n in nodes if n[0] != victim[0] and "fail" not in n[2])
    # the key's slot is served again (by whichever master holds it now): no error, whether or not the write
    # reached the replica before the kill (replication is asynchronous, nothing here is persisted)
    assert _cli(cluster, live, "-c", "get", "probe:{x}").strip() in ("42", "")
