"""Issue 10 part 2: where docs/protocol.md promised something the server did not do."""
import asyncio
import base64
import json
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from imserver.client import RequestError


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_leaver_gets_group_event_on_its_other_connections(node, client_factory):
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    bob_phone = await client_factory(node, "bob")
    g = await alice.request({"type": "group_create", "name": "team", "members": ["bob"]})
    await bob_phone.next_push("group_event")
    left = await bob.request({"type": "group_leave", "conv": g["conv"]})
    assert left["members"] == ["alice"]
    for c in (alice, bob_phone):
        ev = await c.next_push("group_event")
        assert (ev["event"], ev["users"], ev["by"]) == ("left", ["bob"], "bob")
    await bob.request({"type": "ping"})
    assert all(f.get("type") != "group_event" or f["event"] != "left" for f in list(bob.pushed._queue))


async def test_backwards_receipt_refused_and_repeat_not_pushed(node, client_factory):
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    for i in range(3):
        await bob.send(f"m{i}", to="alice", client_msg_id=f"b{i}")
    ok = await alice.request({"type": "receipt", "conv": "d:alice:bob", "seq": 3, "kind": "read"})
    assert ok["seq"] == 3
    assert (await bob.next_push("receipt"))["seq"] == 3
    with pytest.raises(RequestError) as info:
        await alice.request({"type": "receipt", "conv": "d:alice:bob", "seq": 1, "kind": "read"})
    assert info.value.code == "bad_frame" and "behind" in info.value.frame["message"]
    with pytest.raises(RequestError):   # read implies delivered: the delivered marker is at 3 too
        await alice.request({"type": "receipt", "conv": "d:alice:bob", "seq": 2, "kind": "delivered"})
    again = await alice.request({"type": "receipt", "conv": "d:alice:bob", "seq": 3, "kind": "read"})
    assert again["seq"] == 3
    await alice.send("yo", to="bob", client_msg_id="a0")          # a later push proves none came before it
    assert (await bob.next_push())["type"] == "msg"
    inbox = await alice.request({"type": "inbox"})
    assert inbox["conversations"][0]["read_seq"] == 3


async def test_drain_keeps_listener_open_until_done(node_factory, client_factory, tmp_path):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db", drain_grace_s=0.6)
    base = f"http://127.0.0.1:{node.port}"
    alice = await client_factory(node, "alice")
    assert await asyncio.to_thread(_status, base + "/readyz") == 200
    drain = asyncio.create_task(node.shutdown())
    await asyncio.sleep(0.1)
    assert await asyncio.to_thread(_status, base + "/readyz") == 503       # listener still open
    with pytest.raises(ConnectionClosed) as closed:
        async with connect(f"ws://127.0.0.1:{node.port}/ws") as ws:        # new socket: 1001 at once
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd.code == 1001
    with pytest.raises(RequestError) as info:                               # open ones: shutting_down
        await alice.send("late", to="bob", client_msg_id="a-late")
    assert info.value.code == "shutting_down"
    await asyncio.wait_for(drain, 10)
    assert alice.ws.close_code == 1001
    with pytest.raises(OSError):                                            # and only now it is closed
        await asyncio.to_thread(urllib.request.urlopen, base + "/readyz", None, 2)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("make", [
    lambda mint: mint("alice") + "junk",                                                  # junk after signature
    lambda mint: _b64(b'{"alg":"HS256","x":' + b"[" * 3000 + b"]" * 3000 + b"}") + ".e30.AAAA",   # deep header
    lambda mint: mint("alice") + "\u00e9",
    lambda mint: "é.é.é",
])
async def test_bad_tokens_get_401_not_500(node_factory, mint, tmp_path, make):
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db")
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{node.port}/ws?token=" + urllib.request.quote(make(mint))):
            pass
    assert info.value.response.status_code == 401


@pytest.mark.parametrize("claims", [
    {"sub": "alice\n", "exp": 9e12},                 # trailing newline: a phantom "alice"
    {"sub": "alice", "exp": 9e12, "nbf": 9e12},     # not valid yet
    {"sub": "alice", "exp": 9e12, "iat": 9e12},     # issued in the future
])
async def test_tokens_the_docs_call_invalid_get_401(node_factory, secret, tmp_path, claims):
    from imserver import auth
    node = await node_factory(database_url=f"sqlite:///{tmp_path}/im.db")
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{node.port}/ws",
                           additional_headers={"Authorization": "Bearer " + auth.encode(claims, secret)}):
            pass
    assert info.value.response.status_code == 401
