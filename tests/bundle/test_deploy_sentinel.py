"""The redis role on two Redis hosts and the plan's quorum witness, all on this machine: three Sentinels.

Three inventory hosts with `ansible_connection: local` (own roots and ports) run site.yml: `rd-a` (the pinned
primary) and `rd-b` with roles [redis], `witness` with roles [sentinel] as the witness's Terraform inventory
gives it. The Sentinels must know each other and the replica; a second run reports changed=0 (Sentinel rewrites
its own file, the seed stays put); the primary is killed and the Sentinels promote rd-b. Redis, its
replication and the Sentinels speak TLS only (certificates from the bundle's deployment CA).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from tests.bundle.deploylib import assert_second_run_changes_nothing, deployed, free_port, require_prereqs, stop_all

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them

HOSTS = {"rd-a": ["redis"], "rd-b": ["redis"], "witness": ["sentinel"]}


def _password(base: Path) -> str:
    return (base / "secrets" / "redis").read_text().strip()


CA = {}     # the deployment CA the bundle made on the control machine: Redis and Sentinels speak TLS only


def _client(port: int, password: str, **kw) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2, ssl=True,
                       ssl_ca_certs=CA["path"], ssl_cert_reqs="required", **kw)


def _sentinel_view(port: int, password: str) -> dict:
    return _client(port, password, decode_responses=True).execute_command("SENTINEL", "MASTER", "implan")


@pytest.fixture(scope="module")
def sentinels():
    require_prereqs("sentinel test")
    ports = {h: {"redis_port": free_port(), "redis_sentinel_port": free_port()} for h in HOSTS}

    def hosts(base: Path) -> dict:
        return {h: {"implan_roles": roles, "implan_redis_primary": "rd-a", "redis_sentinel_down_after_ms": 1000,
                    "redis_sentinel_failover_timeout_ms": 10000, **ports[h]} for h, roles in HOSTS.items()}

    with deployed("sentinel", "plan-private-witness.json", hosts) as deployment:
        CA["path"] = str(deployment.base / "secrets" / "tls" / "ca.crt")
        yield {"deployment": deployment, "base": deployment.base, "roots": deployment.roots, "ports": ports}


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
    # nothing in the clear: a client without TLS gets no answer
    with pytest.raises((redis.ConnectionError, redis.TimeoutError)):
        redis.Redis(host="127.0.0.1", port=ports["rd-a"]["redis_port"], password=password, socket_timeout=2).ping()


def test_second_run_changes_nothing(sentinels):
    assert_second_run_changes_nothing(sentinels["deployment"])


def test_the_sentinels_promote_the_replica_when_the_primary_dies(sentinels):
    password, ports = _password(sentinels["base"]), sentinels["ports"]
    stop_all(sentinels["roots"]["rd-a"] / "run" / "implan")            # rd-a's Redis and Sentinel: a lost cabinet
    new = str(ports["rd-b"]["redis_port"])
    for host in ("rd-b", "witness"):
        _wait(lambda h=host: _sentinel_view(ports[h]["redis_sentinel_port"], password)["port"] == new, 60,
              f"the Sentinel on {host} did not move the master to rd-b")
    info = _client(ports["rd-b"]["redis_port"], password).info("replication")
    assert info["role"] == "master"
