"""Bad input gets the documented error frame or close code, and everyone else keeps being served."""
import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from imserver.client import RequestError


async def _error_for(ws, text):
    await ws.send(text)
    import json
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == "error":
            return frame


async def test_bad_frames_errors_and_closes(node_factory, client_factory, mint, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", max_frame_bytes=4096,
                              conn_rate_msgs_per_s=5, conn_rate_burst_msgs=10, rate_violations_before_close=5,
                              max_connections_per_user=2)
    url = f"ws://127.0.0.1:{node.port}/ws"
    bob = await client_factory(node, "bob")          # the bystander that must keep working
    await bob.send("before", to="carol", client_msg_id="b-0")
    carol_conv = "d:bob:carol"

    async with connect(url, additional_headers={"Authorization": "Bearer " + mint("mallory")}) as ws:
        await ws.recv()   # hello
        assert (await _error_for(ws, "{not json"))["code"] == "bad_json"
        assert (await _error_for(ws, b"\x00\x01"))["code"] == "bad_json"
        e = await _error_for(ws, '{"type":"explode","ref":"x1"}')
        assert e["code"] == "unknown_type" and e["ref"] == "x1"
        e = await _error_for(ws, '{"type":"sync","conv":"%s","ref":"s1"}' % carol_conv)
        assert e["code"] == "forbidden" and e["ref"] == "s1"
        e = await _error_for(ws, '{"type":"send","client_msg_id":"m1","conv":"%s","body":"x"}' % carol_conv)
        assert e["code"] == "forbidden" and e["ref"] == "m1"
        e = await _error_for(ws, '{"type":"group_members","conv":"g:deadbeef"}')
        assert e["code"] == "forbidden"
        e = await _error_for(ws, '{"type":"receipt","conv":"%s","seq":1,"kind":"read"}' % carol_conv)
        assert e["code"] == "forbidden"
        e = await _error_for(ws, '{"type":"typing","conv":"%s"}' % carol_conv)
        assert e["code"] == "forbidden"
        e = await _error_for(ws, '{"type":"group_add","conv":"g:deadbeef","user":"mallory"}')
        assert e["code"] == "not_found"

    # Oversized frame → close 1009.
    async with connect(url, additional_headers={"Authorization": "Bearer " + mint("mallory")},
                       max_size=None) as ws:
        await ws.recv()
        await ws.send('{"type":"send","client_msg_id":"big","to":"bob","body":"' + "x" * 5000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(5):
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 1009

    # Flood → rate_limited error frames, then close 1008.
    async with connect(url, additional_headers={"Authorization": "Bearer " + mint("mallory")}) as ws:
        await ws.recv()
        codes = []
        with pytest.raises(ConnectionClosed) as closed:
            for i in range(200):
                await ws.send('{"type":"ping"}')
            while True:
                import json
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                codes.append(frame.get("code"))
        assert closed.value.rcvd.code == 1008
        assert "rate_limited" in codes

    # Too many connections for one user → 1008 on the extra one.
    c1 = await client_factory(node, "eve")
    c2 = await client_factory(node, "eve")
    async with connect(url, additional_headers={"Authorization": "Bearer " + mint("eve")}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 1008
    assert (await c1.request({"type": "ping"}))["type"] == "pong"

    # The bystander was never affected.
    ack = await bob.send("after", to="carol", client_msg_id="b-1")
    assert ack["seq"] == 2
    metrics = node.metrics.render()
    assert 'imserver_errors_total{code="forbidden"}' in metrics


async def test_origin_allowlist(node_factory, mint, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", origins=["https://chat.example"])
    url = f"ws://127.0.0.1:{node.port}/ws"
    headers = {"Authorization": "Bearer " + mint("alice")}
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, additional_headers=headers, origin="https://evil.example"):
            pass
    assert info.value.response.status_code == 403
    async with connect(url, additional_headers=headers, origin="https://chat.example") as ws:
        assert '"hello"' in await ws.recv()


async def test_idle_timeout_closes(node_factory, mint, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", idle_timeout_s=0.3)
    async with connect(f"ws://127.0.0.1:{node.port}/ws",
                       additional_headers={"Authorization": "Bearer " + mint("alice")}) as ws:
        await ws.recv()
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 1000 and closed.value.rcvd.reason == "idle timeout"


async def test_per_user_rate_limit_spans_connections(node_factory, client_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", user_rate_msgs_per_s=1,
                              user_rate_burst_msgs=6, conn_rate_msgs_per_s=100, conn_rate_burst_msgs=100,
                              rate_violations_before_close=100)
    c1 = await client_factory(node, "alice")
    c2 = await client_factory(node, "alice")
    futs = [c.submit({"type": "ping"}) for _ in range(5) for c in (c1, c2)]   # 5 per connection: each
    replies = await asyncio.wait_for(asyncio.gather(*futs), 20)              # within its own budget
    codes = [r.get("code", r["type"]) for r in replies]
    # The user's burst is 6 (+1 per second of test time); no connection exceeded its own 100.
    assert codes.count("pong") >= 6 and codes.count("rate_limited") >= 1
    assert codes.count("pong") + codes.count("rate_limited") == 10
