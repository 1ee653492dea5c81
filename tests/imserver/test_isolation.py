"""Issue 10: a row the database refuses fails only its own operation, never its batch neighbours."""
import asyncio
import logging
import sqlite3

import pytest

from imserver.store import StoreError, StoreUnavailable, open_store
from imserver.store.base import SendResult


@pytest.fixture
async def store(database_url):
    s = open_store(database_url, max_batch=64)
    await s.open()
    await s.start()
    yield s
    await s.close()


async def test_poisoned_row_fails_alone_and_is_logged(store, caplog):
    caplog.set_level(logging.ERROR, logger="imserver.store")
    # Values protocol validation refuses, injected below it: a lone surrogate (no UTF-8 form, so
    # neither driver can encode it) and NUL (PostgreSQL text cannot hold it).
    bodies = ["m0", "m1", "bad\ud800", "m3", "nul\x00", "m5", "m6"]
    futs = [store.send(f"u{i}", f"c{i}", None, "zed", body, None) for i, body in enumerate(bodies)]
    futs += [store.send("alice", f"a{i}", None, "bob", f"a{i}", None) for i in range(5)]   # one sender's run
    results = await asyncio.gather(*futs, return_exceptions=True)
    rejected = [i for i, r in enumerate(results) if isinstance(r, StoreError)]
    assert all(results[i].code == "rejected" for i in rejected)
    assert 2 in rejected                                   # the surrogate fails on every backend
    assert set(rejected) <= {2, 4}                         # NUL only where the database refuses it
    assert not any(isinstance(r, StoreUnavailable) for r in results)
    alice = [r.seq for r in results[len(bodies):]]
    assert alice == [1, 2, 3, 4, 5]                        # order and gapless seq kept across the retry
    for i, r in enumerate(results[:len(bodies)]):
        if i not in rejected:
            assert isinstance(r, SendResult) and r.seq == 1
            msgs, last = await store.history(f"u{i}", r.conv, 0, 10)
            assert [m["body"] for m in msgs] == [bodies[i]] and last == 1
    logged = [r for r in caplog.records if r.getMessage() == "operation rejected by the database"]
    assert len(logged) == len(rejected) and all(r.exc_info for r in logged)
    # A rejected message is not stored: the same client_msg_id with a valid body is a new message.
    again = await store.send("u2", "c2", None, "zed", "fixed", None)
    assert not again.duplicate and again.seq == 1


async def test_database_failure_is_unavailable_not_rejected(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="imserver.store")
    store = open_store(f"sqlite:///{tmp_path}/im.db")
    await store.open()
    await store.start()
    real = store._run_batch
    calls = []

    async def failing(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return await real(batch)

    store._run_batch = failing
    try:
        results = await asyncio.gather(*(store.send(f"u{i}", "c", None, "zed", "x", None) for i in range(4)),
                                       return_exceptions=True)
        assert all(isinstance(r, StoreUnavailable) for r in results)   # retryable, and not bisected
        assert calls == [4]
        assert any(r.getMessage() == "commit failed" and r.exc_info for r in caplog.records)
        ok = await store.send("u0", "c", None, "zed", "x", None)       # the resend succeeds
        assert ok.seq == 1 and not ok.duplicate
    finally:
        await store.close()


async def _frames_until_error(ws, text):
    import json
    await ws.send(text)
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == "error":
            return frame


async def test_poison_frames_get_errors_and_bystanders_keep_sending(node_factory, client_factory, mint, tmp_path):
    from websockets.asyncio.client import connect
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", conn_rate_msgs_per_s=1000,
                              conn_rate_burst_msgs=1000, user_rate_msgs_per_s=1000, user_rate_burst_msgs=1000)
    bob = await client_factory(node, "bob")
    async with connect(f"ws://127.0.0.1:{node.port}/ws",
                       additional_headers={"Authorization": "Bearer " + mint("mallory")}) as ws:
        await ws.recv()
        poison = ['{"type":"send","client_msg_id":"p%d","to":"bob","body":"\\ud800"}',
                  '{"type":"group_create","ref":"g%d","name":"\\udfff","members":["bob"]}',
                  '{"type":"ping","ref":"\\ud800%d"}',
                  '{"type":"ping","ref":"p%d","x":' + "[" * 5000 + "]" * 5000 + "}",
                  '{"type":"sync","ref":"s%d","conv":"d:mallory:bob","after_seq":NaN}']
        sends = [asyncio.ensure_future(bob.send(f"b{i}", to="carol", client_msg_id=f"b{i}")) for i in range(30)]
        for i in range(6):
            for text in poison:
                err = await _frames_until_error(ws, text % i)
                assert err["code"] in ("bad_frame", "bad_json"), err
        acks = await asyncio.gather(*sends)
        assert sorted(a["seq"] for a in acks) == list(range(1, 31))
        await ws.send('{"type":"ping","ref":"alive"}')          # still open: the poison closed nothing
        assert '"pong"' in await asyncio.wait_for(ws.recv(), 10)
    assert 'code="internal"' not in node.metrics.render()
