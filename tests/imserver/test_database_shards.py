"""Conversations over several PostgreSQL primaries (docs/imserver.md, "Sharding"): the stable mapping, config errors,
two shards end to end (placement, inbox, idempotent resend, blocks, erasure), read-your-writes with a lagging read
replica, kill -9 of one shard's primary under load, and resharding two shards to three."""
import asyncio
import os
import signal
import socket

import asyncpg
import pytest
import yaml

from imserver import cli
from imserver.client import ImClient, RequestError
from imserver.config import ConfigError, load
from imserver.protocol import direct_conv_id
from imserver.store.sharded import shard_of

from test_admin import admin_node, call  # noqa: F401  (admin_node is a fixture)
from test_crash import Sender, _start_server, _wait_ready, acked_grows, stop_resend_check, until_acked


def test_shard_mapping_is_crc32_mod_n_with_known_answers():
    assert shard_of("123456789", 2 ** 32) == 0xCBF43926           # the CRC-32 check value
    assert [shard_of(k, 2) for k in ("d:alice:bob", "alice", "d:a1:b1", "d:a2:b2")] == [0, 1, 1, 1]
    assert [shard_of(k, 3) for k in ("d:alice:bob", "alice", "bob")] == [2, 2, 2]
    assert [shard_of(k, 4) for k in ("d:alice:bob", "alice", "bob")] == [0, 3, 0]


@pytest.mark.parametrize("values, field", [
    ({"database_url": "postgresql://h/a", "database_shards": ["postgresql://h/b"]}, "database_url and database_shards"),
    ({"database_shards": ["sqlite:///x.db"]}, "database_shards"),
    ({"database_shards": ["postgresql://h/a"], "database_shard_replicas": ["1=postgresql://h/r"]},
     "database_shard_replicas: shard 1 does not exist"),
    ({"database_shards": ["postgresql://h/a"], "database_shard_replicas": ["postgresql://u:pw@h/r"]},
     "database_shard_replicas: expected"),
    ({"database_shard_replicas": ["0=postgresql://h/r"]}, "database_shard_replicas: needs database_shards"),
])
def test_bad_shard_config_is_one_line_exit_2(tmp_path, capsys, values, field):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(values))
    assert cli.main(["migrate", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and field in err and "pw" not in err


def test_env_overrides_take_comma_separated_shard_lists():
    cfg = load(env={"IMSERVER_DATABASE_SHARDS": "postgresql://h/a, postgresql://h/b",
                    "IMSERVER_DATABASE_SHARD_REPLICAS": "1=postgresql://h/r1,1=postgresql://h/r2"})
    assert cfg.database_urls() == ["postgresql://h/a", "postgresql://h/b"]
    assert cfg.shard_replicas() == {1: ["postgresql://h/r1", "postgresql://h/r2"]}
    with pytest.raises(ConfigError):
        load(env={"IMSERVER_DATABASE_SHARDS": "postgresql://h/a", "IMSERVER_DATABASE_URL": "postgresql://h/a"})


async def _placement(dsns: list[str]) -> list[set]:
    """The conversation ids each database holds."""
    out = []
    for dsn in dsns:
        c = await asyncpg.connect(dsn)
        out.append({r[0] for r in await c.fetch("SELECT id FROM conversations")})
        await c.close()
    return out


async def test_two_shards_placement_inbox_resend_blocks_erase(admin_node, pg_shard_dsns, client_factory):
    node = await admin_node(database_shards=pg_shard_dsns)
    alice = await client_factory(node, "alice")
    acks = [await alice.send(f"hi {i}", to=f"bob{i}", client_msg_id=f"a-{i}") for i in range(12)]
    group = await alice.request({"type": "group_create", "name": "team", "members": ["bob0", "bob1"]})
    placed = await _placement(pg_shard_dsns)
    assert all(placed) and not placed[0] & placed[1]                       # both shards used, nothing twice
    for conv in [a["conv"] for a in acks] + [group["conv"]]:
        assert conv in placed[shard_of(conv, 2)]
    inbox = await alice.request({"type": "inbox"})
    assert [c["conv"] for c in inbox["conversations"]] == sorted([a["conv"] for a in acks] + [group["conv"]])
    again = await alice.request({"type": "send", "client_msg_id": "a-5", "to": "bob5", "body": "hi 5"})
    assert (again["seq"], again["duplicate"], again["conv"]) == (1, True, acks[5]["conv"])
    bob3 = await client_factory(node, "bob3")
    await bob3.request({"type": "block", "user": "alice"})
    with pytest.raises(RequestError) as info:
        await alice.send("still there?", to="bob3", client_msg_id="a-blocked")
    assert info.value.code == "blocked"
    status, out = await call(node, "erase_user", {"user": "alice"})
    assert status == 200, out
    assert await _placement(pg_shard_dsns) == [{group["conv"]} & placed[0], {group["conv"]} & placed[1]]
    assert not await node.store.user_known("alice")


async def _replayed(replica_dsn: str, primary_dsn: str) -> None:
    """Wait until the replica has replayed everything the primary has committed."""
    p, r = await asyncpg.connect(primary_dsn), await asyncpg.connect(replica_dsn)
    target = await p.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
    async with asyncio.timeout(30):
        while (await r.fetchval("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint") or 0) < target:
            await asyncio.sleep(0.05)
    await p.close()
    await r.close()


async def test_replica_serves_stale_reads_but_the_writer_reads_its_writes(pg_cluster_factory, node_factory,
                                                                          client_factory):
    primary = pg_cluster_factory("p0").init().start()
    replica = pg_cluster_factory("r0").replica_of(primary, apply_delay_s=3).start()
    node = await node_factory(database_shards=[primary.dsn], database_shard_replicas=[f"0={replica.dsn}"])
    alice, bob = await client_factory(node, "alice"), await client_factory(node, "bob")
    await bob.send("m0", to="alice", client_msg_id="b-0")
    await _replayed(replica.dsn, primary.dsn)
    await alice.send("m1", to="bob", client_msg_id="a-1")
    assert [m["body"] for m in await alice.sync_all("d:alice:bob")] == ["m0", "m1"]   # the primary: her write
    assert [m["body"] for m in await bob.sync_all("d:alice:bob")] == ["m0"]           # the lagging replica
    await _replayed(replica.dsn, primary.dsn)
    assert [m["body"] for m in await bob.sync_all("d:alice:bob")] == ["m0", "m1"]
    replica.stop()                                                                    # replica down: the primary
    assert [m["body"] for m in await bob.sync_all("d:alice:bob")] == ["m0", "m1"]
    assert (await bob.request({"type": "inbox"}))["conversations"][0]["last_seq"] == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_kill_9_one_shard_primary_under_load(pg_cluster_factory, tmp_path, mint, secret):
    """Sends to the dead shard get `unavailable` until it is restarted; the other shard keeps acking; afterwards
    every acked message is stored exactly once, in order, per conversation (test_crash's checker)."""
    shards = [pg_cluster_factory(f"s{k}").init().start() for k in range(2)]
    port = _free_port()
    url = f"ws://127.0.0.1:{port}/ws"
    proc = _start_server(tmp_path, "", port, secret, database_shards=[s.dsn for s in shards])
    try:
        await _wait_ready(port, proc)
        pairs = range(6)                       # d:a{i}:b{i}: shard 0 for i in 0, 3, 4; shard 1 for 1, 2, 5
        on = {k: [i for i in pairs if shard_of(f"d:a{i}:b{i}", 2) == k] for k in (0, 1)}
        assert on[0] and on[1]
        senders = {i: [Sender(f"a{i}", f"b{i}"), Sender(f"b{i}", f"a{i}")] for i in pairs}
        clients = {s.user: await ImClient.connect(url, mint(s.user)) for pair in senders.values() for s in pair}
        everyone = [s for pair in senders.values() for s in pair]
        side = {k: [s for i in on[k] for s in senders[i]] for k in (0, 1)}
        stops = {k: asyncio.Event() for k in (0, 1)}
        tasks = {k: [asyncio.create_task(s.run(clients[s.user], stops[k])) for s in side[k]] for k in (0, 1)}
        await acked_grows(everyone, 300)
        shards[1].kill9()
        await asyncio.sleep(0.5)
        stops[1].set()             # like a client seeing `unavailable`: stop, resend the outbox in order later
        await asyncio.wait_for(asyncio.gather(*tasks[1]), 30)
        assert sum(len(s.sent) - len(s.acked) for s in side[1]) > 0          # sends failed on the dead shard
        probe = await ImClient.connect(url, mint("probe"))
        peer = next(f"peer{j}" for j in range(100) if shard_of(direct_conv_id("probe", f"peer{j}"), 2) == 1)
        with pytest.raises(RequestError) as info:
            await probe.send("x", to=peer, client_msg_id="p-1")
        assert info.value.code == "unavailable"
        await acked_grows(side[0], 100)                            # shard 0 keeps acking while shard 1 is down
        shards[1].start()
        await until_acked(probe, {"type": "send", "client_msg_id": "p-1", "to": peer, "body": "x"})
        await stop_resend_check(stops[0], tasks[0], everyone, clients,
                                {f"d:a{i}:b{i}": clients[f"a{i}"] for i in pairs})
        for c in list(clients.values()) + [probe]:
            await c.close()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


async def test_reshard_two_to_three_keeps_messages_seqs_members_and_keys(node_factory, pg_databases, client_factory,
                                                                         tmp_path, capsys):
    dsns = [await pg_databases() for _ in range(3)]
    node = await node_factory(database_shards=dsns[:2])
    alice = await client_factory(node, "alice")
    for i in range(15):
        await alice.send(f"one {i}", to=f"bob{i}", client_msg_id=f"a-{i}-1")
        await alice.send(f"two {i}", to=f"bob{i}", client_msg_id=f"a-{i}-2")
    group = await alice.request({"type": "group_create", "name": "team", "members": ["bob0", "carol"]})
    await alice.request({"type": "group_role", "conv": group["conv"], "user": "carol", "role": "admin"})
    await alice.request({"type": "block", "user": "mallory"})
    bob0 = await client_factory(node, "bob0")
    await bob0.request({"type": "receipt", "conv": "d:alice:bob0", "kind": "read", "seq": 2})
    before = {conv: await alice.sync_all(conv) for conv in [f"d:alice:bob{i}" for i in range(15)] + [group["conv"]]}
    inbox_before = (await bob0.request({"type": "inbox"}))["conversations"]
    roles_before = {k: v for k, v in (await alice.request({"type": "group_members", "conv": group["conv"]})).items()
                    if k != "ref"}
    await node.shutdown()

    cfg = tmp_path / "new.yaml"
    cfg.write_text(yaml.safe_dump({"database_shards": dsns}))
    argv = ["reshard", "--config", str(cfg), "--from", ",".join(dsns[:2])]
    assert await asyncio.to_thread(cli.main, argv) == 0
    moved = sum(shard_of(conv, 2) != shard_of(conv, 3) for conv in before)
    assert f": {moved} conversations moved" in capsys.readouterr().out
    placed = await _placement(dsns)
    assert placed[2]
    for conv in before:
        assert [conv in p for p in placed] == [shard_of(conv, 3) == k for k in range(3)]
    rerun = ["reshard", "--config", str(cfg), "--from", ",".join(dsns)]
    assert await asyncio.to_thread(cli.main, rerun) == 0                    # already in place: nothing moves
    assert ": 0 conversations moved" in capsys.readouterr().out

    node = await node_factory(database_shards=dsns)
    alice = await client_factory(node, "alice")
    bob0 = await client_factory(node, "bob0")
    assert {conv: await alice.sync_all(conv) for conv in before} == before
    assert (await bob0.request({"type": "inbox"}))["conversations"] == inbox_before
    roles = await alice.request({"type": "group_members", "conv": group["conv"]})
    assert {k: v for k, v in roles.items() if k != "ref"} == roles_before and "admin" in str(roles_before)
    again = await alice.request({"type": "send", "client_msg_id": "a-7-2", "to": "bob7", "body": "two 7"})
    assert (again["seq"], again["duplicate"]) == (2, True)                  # the idempotency key moved along
    assert (await alice.send("three", to="bob7", client_msg_id="a-7-3"))["seq"] == 3
    mallory = await client_factory(node, "mallory")
    with pytest.raises(RequestError) as info:
        await mallory.send("hello?", to="alice", client_msg_id="m-1")
    assert info.value.code == "blocked"
    assert await asyncio.to_thread(cli.main, argv) == 1                     # refused while a node is connected
    assert "stop them first" in capsys.readouterr().err
