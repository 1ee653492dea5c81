"""Nodes on a Redis Cluster (sharded pub/sub): cross-node 1:1 and group delivery, presence and kick across nodes,
and a master killed with -9 under traffic: the replica is promoted, nodes resubscribe, live delivery resumes and
sync returns every acked message."""
from __future__ import annotations

import asyncio
import shutil
import time

import pytest

import redis.asyncio.cluster

from conftest import free_port
from imserver.config import Config, ConfigError
from rcluster import RedisCluster
from test_admin import ADMIN_TOKEN, call, closed


def _cluster():
    """3 masters + 3 replicas on free loopback ports, stopped at teardown."""
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server / redis-cli not installed")
    c = RedisCluster(masters=3, replicas=1).start()
    try:
        yield c
    finally:
        c.stop()


rcluster = pytest.fixture(scope="module")(_cluster)
own_rcluster = pytest.fixture(_cluster)     # for a test that kills one of its masters


async def _nodes(node_factory, pg_dsn, rcluster, n=2, **extra):
    return [await node_factory(database_url=pg_dsn, redis_cluster_nodes=rcluster.nodes[:2], **extra)
            for _ in range(n)]


async def _live(receiver, client_msg_id: str, timeout: float = 10, seen: list | None = None) -> dict:
    """The push of that message; the pushes before it (other messages still in flight, resync) go to ``seen``."""
    async with asyncio.timeout(timeout):
        while True:
            got = await receiver.next_push(timeout=timeout)
            if got["type"] == "msg" and got["client_msg_id"] == client_msg_id:
                return got
            if seen is not None:
                seen.append(got["type"])


async def test_one_to_one_and_group_across_nodes(node_factory, client_factory, pg_dsn, rcluster):
    a, b = await _nodes(node_factory, pg_dsn, rcluster)
    alice = await client_factory(a, "alice")
    bob = await client_factory(b, "bob")
    carol = await client_factory(b, "carol")
    ack = await alice.send("across the cluster", to="bob", client_msg_id="rc-1")
    msg = await bob.next_push("msg")
    assert (msg["seq"], msg["body"], msg["from"]) == (ack["seq"], "across the cluster", "alice")
    g = await alice.request({"type": "group_create", "name": "g", "members": ["bob", "carol"]})
    gack = await bob.send("to the group", conv=g["conv"], client_msg_id="rc-2")
    assert (await alice.next_push("msg"))["seq"] == (await carol.next_push("msg"))["seq"] == gack["seq"]
    # the users' channels live on more than one master: fan-out is spread over the shards
    slots = {a.fanout._pub.get_node_from_key(a.fanout.channel(u)).name for u in ("alice", "bob", "carol")}
    assert len(slots) >= 2, slots


async def test_presence_is_cluster_wide(node_factory, client_factory, pg_dsn, rcluster):
    a, b = await _nodes(node_factory, pg_dsn, rcluster)
    alice = await client_factory(a, "alice")
    await alice.send("hi", to="bob", client_msg_id="p-1")
    # a node that died without cleaning up still lists bob: it is ignored (no alive key), and removed
    r = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=rcluster.ports[0])
    await r.hset("imserver:p:{bob}", "dead-node", 1)
    bob_b = await client_factory(b, "bob")
    assert (await alice.next_push("presence"))["status"] == "online"
    assert await r.hkeys("imserver:p:{bob}") == [b.node_id.encode()]
    bob_a = await client_factory(a, "bob")      # second node: not a new "online"
    await bob_b.close()                          # bob is still on node a: not "offline"
    await asyncio.sleep(0.5)
    assert not [f for f in list(alice.pushed._queue) if f["type"] == "presence"]
    await bob_a.close()
    p = await alice.next_push("presence")
    assert (p["user"], p["status"]) == ("bob", "offline")
    assert await r.exists("imserver:p:{bob}") == 0
    await r.aclose()


async def test_admin_kick_on_one_node_closes_the_user_on_the_other(node_factory, client_factory, pg_dsn, rcluster):
    a, = await _nodes(node_factory, pg_dsn, rcluster, n=1, admin_port=free_port(), admin_token=ADMIN_TOKEN)
    b, = await _nodes(node_factory, pg_dsn, rcluster, n=1)
    carol = await client_factory(b, "carol")
    await carol.send("so she is known", to="dave", client_msg_id="k-1")
    assert (await call(a, "kick", {"user": "carol"}))[0] == 200
    assert await closed(carol) == (1008, "kicked by an administrator")


async def test_master_killed_replica_promoted_delivery_resumes_nothing_acked_lost(
        node_factory, client_factory, pg_dsn, own_rcluster):
    a, b = await _nodes(node_factory, pg_dsn, own_rcluster, conn_rate_msgs_per_s=1000, conn_rate_burst_msgs=1000)
    alice = await client_factory(a, "alice")
    bob = await client_factory(b, "bob")
    first = await alice.send("before", to="bob", client_msg_id="f-0")
    assert (await _live(bob, "f-0"))["seq"] == first["seq"]
    victim = a.fanout._pub.get_node_from_key(a.fanout.channel("bob")).port    # the master of bob's channel
    own_rcluster.kill(victim)
    acked, n, seen = {first["seq"]}, 0, []
    deadline = time.monotonic() + 30
    while True:    # keep sending through the failover: acks come from the database, not from Redis
        assert time.monotonic() < deadline, "live delivery did not resume after the failover"
        n += 1
        acked.add((await alice.send(f"m{n}", to="bob", client_msg_id=f"f-{n}"))["seq"])
        try:
            await _live(bob, f"f-{n}", timeout=0.5, seen=seen)
            if victim not in own_rcluster.masters() and n > 1:
                break
        except TimeoutError:
            pass
    assert victim not in own_rcluster.masters()
    assert a.fanout.healthy() and b.fanout.healthy()
    assert "resync" in seen      # b's subscription moved to the promoted replica: clients were told to sync
    synced = {m["seq"] for m in await bob.sync_all(first["conv"])}
    assert acked <= synced and len(acked) == n + 1


@pytest.mark.parametrize("fields,needle", [
    ({"redis_cluster_nodes": ["h:7000"], "redis_url": "redis://h:6379/0"}, "redis_cluster_nodes and redis_url"),
    ({"redis_cluster_nodes": ["h:7000"], "redis_url": "redis://:pw@/3"}, "database 0"),
    ({"redis_cluster_nodes": ["h:7000"], "redis_sentinels": ["h:26379"], "redis_sentinel_master": "m",
      "redis_url": "redis://:pw@h:1/0"}, "redis_cluster_nodes and redis_sentinels"),
    ({"redis_cluster_nodes": ["h"]}, "redis_cluster_nodes: expected HOST:PORT"),
    ({"redis_cluster_nodes": ["h:0"]}, "redis_cluster_nodes: expected HOST:PORT"),
])
def test_cluster_settings_are_checked(fields, needle):
    with pytest.raises(ConfigError, match=needle):
        Config(**fields).validate()


@pytest.mark.parametrize("url", ["", "redis://:secret@/0", "rediss://:secret@/?ssl_ca_certs=/etc/ca.crt"])
def test_cluster_url_may_carry_credentials_and_tls(url):
    Config(redis_cluster_nodes=["10.0.0.1:7000", "[::1]:7001"], redis_url=url).validate()
