"""A sharded layout deployed on this machine: two PostgreSQL shards, the first with a streaming replica, and an
imserver configured by the bundle with the shard map.

Four inventory hosts with `ansible_connection: local` (each its own `implan_root` and ports) run site.yml with
`implan_postgresql_shards: [[pg-a, pg-c], [pg-b]]`: pg-a and pg-b must come up as two independent primaries, pg-c
as pg-a's replica (never pg-b's), each shard with its own backup stanza; host `im` runs the imserver role, whose
configuration the bundle writes from the same shard map. Chat through that imserver passes the crash checker
(tests/imserver/test_crash.py) across a kill -9 of shard 1's primary, which a playbook run on that host brings
back. A layout that does not match the plan's shard count stops the play with the one-line reason. Every process
started is stopped by its pidfile.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from imserver.client import ImClient, RequestError
from imserver.protocol import direct_conv_id
from imserver.store.sharded import shard_of
from tests.bundle.deploylib import (PG_BIN, assert_second_run_changes_nothing, deployed, free_port,
                                    playbook, psql, require_prereqs)
from tests.imserver.test_crash import Sender, acked_grows, stop_resend_check, until_acked

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them

SHARDS = [["pg-a", "pg-c"], ["pg-b"]]


@pytest.fixture(scope="module")
def sharded(wheel):
    require_prereqs("shard test")
    ports = {"pg-a": free_port(), "pg-b": free_port(), "pg-c": free_port()}
    im_ports = {"imserver_port": free_port(), "imserver_media_port": free_port(), "imserver_admin_port": free_port()}

    def hosts(base):
        layout = {"implan_postgresql_shards": SHARDS, "implan_plan_database_shards": 2}
        pg = {h: {**layout, "implan_roles": ["postgresql"], "postgresql_memory_mb": 1024,
                  "postgresql_backup_repo_type": "posix", "postgresql_backup_repo_path": str(base / "backups"),
                  "postgresql_port": port} for h, port in ports.items()}
        im = {**layout, "implan_roles": ["imserver"], "imserver_instances": 1, "imserver_python": sys.executable,
              "imserver_media_backend": "local", "implan_domain": "localhost", **im_ports}
        return {**pg, "im": im}

    with deployed("shards", "plan-tiny.json", hosts, wheel=wheel) as deployment:
        yield {"deployment": deployment, "roots": deployment.roots, "ports": ports,
               "imserver_url": f"ws://127.0.0.1:{im_ports['imserver_port']}/ws"}


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


def _token(root, user: str) -> str:
    """A client token minted by the deployed imserver with its own configuration (its JWT secret)."""
    return subprocess.run([str(root / "opt" / "implan" / "venv" / "bin" / "imserver"), "token", user, "--config",
                           str(root / "etc" / "implan" / "imserver-0.yaml")], capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def _kill9_postmaster(root) -> None:
    (pidfile,) = root.rglob("postmaster.pid")
    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


async def test_chat_through_the_deployed_shards_passes_the_crash_checker(sharded):
    """Pairs chat under the deployed imserver's default rate limits; shard 1's primary (pg-b) is killed with -9:
    its conversations' sends fail (the senders stop, like a client on `unavailable`), shard 0's go on; a playbook
    run on pg-b restarts it; every outbox is resent; the checker sees every acked message once, in order."""
    d, url = sharded["deployment"], sharded["imserver_url"]
    pairs = range(6)                       # d:a{i}:b{i}: shard 0 for i in 0, 3, 4; shard 1 for 1, 2, 5
    on = {k: [i for i in pairs if shard_of(f"d:a{i}:b{i}", 2) == k] for k in (0, 1)}
    senders = {i: [Sender(f"a{i}", f"b{i}"), Sender(f"b{i}", f"a{i}")] for i in pairs}
    everyone = [s for pair in senders.values() for s in pair]
    clients = {s.user: await ImClient.connect(url, _token(d.roots["im"], s.user)) for s in everyone}
    side = {k: [s for i in on[k] for s in senders[i]] for k in (0, 1)}
    stops = {k: asyncio.Event() for k in (0, 1)}
    # 25 sends/s per connection: under imserver's default 50/s per connection and 100/s per user
    tasks = {k: [asyncio.create_task(s.run(clients[s.user], stops[k], interval_s=0.04)) for s in side[k]]
             for k in (0, 1)}
    await acked_grows(everyone, 300, timeout_s=60)
    _kill9_postmaster(d.roots["pg-b"])
    await asyncio.sleep(1)
    stops[1].set()
    await asyncio.wait_for(asyncio.gather(*tasks[1]), 60)
    assert sum(len(s.sent) - len(s.acked) for s in side[1]) > 0          # sends really failed on the dead shard
    probe = await ImClient.connect(url, _token(d.roots["im"], "probe"))
    peer = next(f"peer{j}" for j in range(100) if shard_of(direct_conv_id("probe", f"peer{j}"), 2) == 1)
    probe_send = {"type": "send", "client_msg_id": "probe-1", "to": peer, "body": "x"}
    with pytest.raises(RequestError) as refused:
        await probe.request(probe_send)
    assert refused.value.code == "unavailable"
    await acked_grows(side[0], 50, timeout_s=60)                                       # shard 0 keeps acking
    # in a thread: the clients' event loop keeps answering the server's pings while the play runs
    rc, out = await asyncio.to_thread(playbook, d.bundle / "ansible", d.inventory, d.base / "restart.log", "pg-b")
    assert rc == 0, out[-3000:]
    await until_acked(probe, probe_send, timeout_s=60)
    await stop_resend_check(stops[0], tasks[0], everyone, clients, {f"d:a{i}:b{i}": clients[f"a{i}"] for i in pairs})
    for c in [*clients.values(), probe]:
        await c.close()
