"""The whole stateful layout of issue 16 at once, as a sharded plan deploys it: two imserver processes, two
PostgreSQL shards (a primary and a streaming replica each) and a 3-master Redis Cluster, all on loopback.

Under load from client pairs split across the two nodes (every message crosses nodes through Redis Cluster), one
shard's primary is killed with -9.  What must hold (docs/imserver.md, "Sharding" and "Read replicas"):

- sends to the dead shard's conversations fail with ``unavailable``; the other shard keeps acking;
- while the primary is down its replica still serves that shard's history and the inbox to a reader whose writes
  the serving node has not seen (read-your-writes is per node);
- after the primary is restarted and every client resends its outbox, the crash checker (test_crash.check) sees
  every acked message exactly once, in order, per conversation, and every acked message was pushed live to the peer
  on the other node.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal

import pytest

from conftest import free_port
from imserver.client import ImClient, RequestError
from imserver.store.sharded import shard_of
from rcluster import RedisCluster
from test_crash import Sender, _start_server, _wait_ready, acked_grows, check, until_acked

PAIRS = range(6)        # d:a{i}:b{i}: shard 0 for i in 0, 3, 4; shard 1 for 1, 2, 5
REPLICA_MARGIN_S = 1.5  # a message acked this long before the kill has reached the replica


@pytest.fixture
def redis_cluster():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server / redis-cli not installed")
    c = RedisCluster(masters=3).start()
    try:
        yield c
    finally:
        c.stop()


def _conv(i: int) -> str:
    return f"d:a{i}:b{i}"


def _max_acked_seq(senders, conv: str) -> int:
    return max((seq for s in senders for c, seq in s.acked.values() if c == conv), default=0)


def _pushed_msgs(client: ImClient) -> set[str]:
    """The client_msg_ids of every `msg` push the client has received so far."""
    got = set()
    while not client.pushed.empty():
        frame = client.pushed.get_nowait()
        if frame.get("type") == "msg":
            got.add(frame["client_msg_id"])
    return got


async def test_kill_9_of_a_shard_primary_with_replicas_and_redis_cluster(pg_cluster_factory, redis_cluster, tmp_path,
                                                                         mint, secret):
    primaries = [pg_cluster_factory(f"p{k}").init().start() for k in range(2)]
    replicas = [pg_cluster_factory(f"r{k}").replica_of(p).start() for k, p in enumerate(primaries)]
    layout = {"database_shards": [p.dsn for p in primaries],
              "database_shard_replicas": [f"{k}={r.dsn}" for k, r in enumerate(replicas)],
              "redis_cluster_nodes": redis_cluster.nodes}
    ports = {name: free_port() for name in ("A", "B")}
    procs = {name: _start_server(tmp_path, "", port, secret, name=f"node{name}", **layout)
             for name, port in ports.items()}
    url = {name: f"ws://127.0.0.1:{port}/ws" for name, port in ports.items()}
    try:
        for name in procs:
            await _wait_ready(ports[name], procs[name])
        on = {k: [i for i in PAIRS if shard_of(_conv(i), 2) == k] for k in (0, 1)}
        assert on[0] and on[1]
        senders = {i: [Sender(f"a{i}", f"b{i}"), Sender(f"b{i}", f"a{i}")] for i in PAIRS}
        everyone = [s for pair in senders.values() for s in pair]
        node_of = {s.user: "A" if s.user.startswith("a") else "B" for s in everyone}     # every pair crosses nodes
        clients = {s.user: await ImClient.connect(url[node_of[s.user]], mint(s.user)) for s in everyone}
        side = {k: [s for i in on[k] for s in senders[i]] for k in (0, 1)}
        stops = {k: asyncio.Event() for k in (0, 1)}
        tasks = {k: [asyncio.create_task(s.run(clients[s.user], stops[k])) for s in side[k]] for k in (0, 1)}

        await acked_grows(everyone, 300)
        replicated = {_conv(i): _max_acked_seq(everyone, _conv(i)) for i in on[1]}
        await asyncio.sleep(REPLICA_MARGIN_S)
        primaries[1].kill9()
        await asyncio.sleep(0.5)
        stops[1].set()               # like a client seeing `unavailable`: stop, resend the outbox in order later
        await asyncio.wait_for(asyncio.gather(*tasks[1]), 30)
        assert sum(len(s.sent) - len(s.acked) for s in side[1]) > 0        # sends really failed on the dead shard

        probe = await ImClient.connect(url["A"], mint("probe"))
        peer = next(f"peer{j}" for j in range(100) if shard_of(f"d:peer{j}:probe", 2) == 1)
        with pytest.raises(RequestError) as refused:
            await probe.send("x", to=peer, client_msg_id="p-2")
        assert refused.value.code == "unavailable"

        # b{i} wrote through node B only: node A has no write of theirs to wait for, so the replica answers there
        i = on[1][0]
        reader = await ImClient.connect(url["A"], mint(f"b{i}"))
        from_replica = await reader.sync_all(_conv(i))
        assert [m["seq"] for m in from_replica] == list(range(1, len(from_replica) + 1))
        assert len(from_replica) >= replicated[_conv(i)] > 0
        inbox = (await reader.request({"type": "inbox"}))["conversations"]
        assert _conv(i) in {row["conv"] for row in inbox}
        await reader.close()

        await acked_grows(side[0], 100)                            # shard 0 carries on
        primaries[1].start()
        await until_acked(probe, {"type": "send", "client_msg_id": "p-2", "to": peer, "body": "x"})
        stops[0].set()
        await asyncio.wait_for(asyncio.gather(*tasks[0]), 30)
        acked_live = {s.user: set(s.acked) for s in everyone}   # a resend's ack is not pushed again: not these
        assert sum(map(len, acked_live.values())) >= 400
        for s in everyone:
            await s.resend_outbox(clients[s.user])

        histories = {_conv(i): await clients[f"a{i}"].sync_all(_conv(i)) for i in PAIRS}
        assert check(everyone, histories) == sum(len(s.sent) for s in everyone)

        await asyncio.sleep(1)       # the last pushes are in flight through Redis Cluster
        for s in everyone:
            missing = acked_live[s.user] - _pushed_msgs(clients[s.peer])
            assert not missing, f"{len(missing)} of {s.user}'s acked messages never reached {s.peer} on the other node"
        for c in list(clients.values()) + [probe]:
            await c.close()
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
