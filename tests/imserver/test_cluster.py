"""Two nodes over PostgreSQL + Redis: live cross-node fan-out, and Redis restarted under load."""
import asyncio

import pytest

from imserver.client import RequestError


async def test_message_on_node_a_reaches_member_on_node_b(node_factory, client_factory, pg_dsn, redis_url):
    a = await node_factory(database_url=pg_dsn, redis_url=redis_url)
    b = await node_factory(database_url=pg_dsn, redis_url=redis_url)
    assert a.node_id != b.node_id
    alice = await client_factory(a, "alice")
    bob = await client_factory(b, "bob")
    carol = await client_factory(b, "carol")
    ack = await alice.send("across nodes", to="bob", client_msg_id="x-1")
    msg = await bob.next_push("msg")
    assert (msg["seq"], msg["body"], msg["from"]) == (ack["seq"], "across nodes", "alice")
    g = await alice.request({"type": "group_create", "name": "g", "members": ["bob", "carol"]})
    gack = await bob.send("to group from B", conv=g["conv"], client_msg_id="x-2")
    got_a = await alice.next_push("msg")
    got_c = await carol.next_push("msg")
    assert got_a["seq"] == got_c["seq"] == gack["seq"]
    # Both nodes assign seqs in one shared sequence per conversation.
    ack_b = await bob.send("reply", to="alice", client_msg_id="x-3")
    assert ack_b["seq"] == ack["seq"] + 1


async def test_redis_restart_under_load_nodes_reconnect_and_sync_fills_gaps(
        node_factory, client_factory, pg_dsn, redis_proc_factory):
    redis = redis_proc_factory()
    a = await node_factory(database_url=pg_dsn, redis_url=redis.url, conn_rate_msgs_per_s=10000,
                           conn_rate_burst_msgs=10000, user_rate_msgs_per_s=10000, user_rate_burst_msgs=10000)
    b = await node_factory(database_url=pg_dsn, redis_url=redis.url)
    senders = [await client_factory(a, f"s{i}") for i in range(3)]
    receiver = await client_factory(b, "r")
    acked: dict[str, int] = {}
    stop = asyncio.Event()

    async def load(i, c):
        n = 0
        while not stop.is_set():
            n += 1
            try:
                ack = await c.send(f"m{n}", to="r", client_msg_id=f"s{i}-{n}")
                acked[ack["client_msg_id"]] = (ack["conv"], ack["seq"])
            except RequestError:
                pass
            await asyncio.sleep(0.002)

    tasks = [asyncio.create_task(load(i, c)) for i, c in enumerate(senders)]

    async def until(cond, what):
        try:
            async with asyncio.timeout(60):    # a hang fails the test instead of the CI job
                while not cond():
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    await until(lambda: len(acked) >= 60, "acks before the Redis stop")
    redis.stop()                                          # Redis goes away under load
    await until(lambda: not (a.fanout.healthy() or b.fanout.healthy()), "nodes to notice Redis is gone")
    n_down = len(acked)
    await until(lambda: len(acked) >= n_down + 60, "acks while Redis is down")   # storage is not Redis
    redis.start()                                         # same port: nodes must reconnect by themselves
    await until(lambda: a.fanout.healthy() and b.fanout.healthy(), "nodes to reconnect to Redis")
    assert (await receiver.next_push("resync", timeout=20))["type"] == "resync"
    n_up = len(acked)
    await until(lambda: len(acked) >= n_up + 60, "acks after the Redis restart")
    stop.set()
    await asyncio.gather(*tasks)
    # Live delivery works again after the reconnect (subscriptions were restored).
    live = await senders[0].send("after restart", to="r", client_msg_id="live-1")
    async with asyncio.timeout(20):
        while True:     # skip pushes of the load phase still in flight
            got = await receiver.next_push("msg", timeout=20)
            if got["client_msg_id"] == "live-1":
                break
    assert (got["conv"], got["seq"]) == (live["conv"], live["seq"])
    acked[live["client_msg_id"]] = (live["conv"], live["seq"])
    # Sync by cursor fills every gap: every acked message is there exactly once, in seq order.
    stored = {}
    for i in range(3):
        conv = f"d:r:s{i}"
        msgs = await receiver.sync_all(conv)
        assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1))
        for m in msgs:
            assert m["client_msg_id"] not in stored
            stored[m["client_msg_id"]] = (m["conv"], m["seq"])
    assert all(stored.get(k) == v for k, v in acked.items())


async def test_postgres_writer_connection_killed_recovers(node_factory, client_factory, pg_dsn):
    import asyncpg
    node = await node_factory(database_url=pg_dsn)
    alice = await client_factory(node, "alice")
    acked = {}
    for i in range(5):
        acked[f"k-{i}"] = (await alice.send(f"m{i}", to="bob", client_msg_id=f"k-{i}"))["seq"]
    admin = await asyncpg.connect(pg_dsn)
    try:
        killed = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                      " WHERE application_name = 'imserver-writer'")
    finally:
        await admin.close()
    assert killed == 1
    # The next sends may fail with `unavailable` while the writer reconnects; resending the same
    # client_msg_id (the client outbox rule) must converge without loss or duplicates.
    for i in range(5, 10):
        cmid = f"k-{i}"
        async with asyncio.timeout(30):
            while True:
                try:
                    acked[cmid] = (await alice.send(f"m{i}", to="bob", client_msg_id=cmid))["seq"]
                    break
                except RequestError as exc:
                    assert exc.code == "unavailable"
                    await asyncio.sleep(0.1)
    msgs = await alice.sync_all("d:alice:bob")
    assert [m["client_msg_id"] for m in msgs] == [f"k-{i}" for i in range(10)]
    assert {m["client_msg_id"]: m["seq"] for m in msgs} == acked
