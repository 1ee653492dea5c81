"""The whole protocol end to end with real websocket clients, on SQLite and PostgreSQL."""
import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from imserver.client import RequestError


async def test_direct_chat_ack_push_sync_inbox_receipts(node, client_factory):
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    ack = await alice.send("hello bob", to="bob", client_msg_id="a-1")
    assert ack["type"] == "ack" and ack["conv"] == "d:alice:bob" and ack["seq"] == 1
    msg = await bob.next_push("msg")
    assert (msg["from"], msg["body"], msg["seq"], msg["conv"]) == ("alice", "hello bob", 1, "d:alice:bob")
    ack2 = await bob.send("hi alice", conv="d:alice:bob", client_msg_id="b-1")
    assert ack2["seq"] == 2
    assert (await alice.next_push("msg"))["body"] == "hi alice"
    hist = await bob.request({"type": "sync", "conv": "d:alice:bob", "after_seq": 0, "limit": 10})
    assert [m["seq"] for m in hist["messages"]] == [1, 2] and hist["last_seq"] == 2 and not hist["has_more"]
    page = await bob.request({"type": "sync", "conv": "d:alice:bob", "after_seq": 0, "limit": 1})
    assert [m["seq"] for m in page["messages"]] == [1] and page["has_more"]
    inbox = await alice.request({"type": "inbox"})
    (entry,) = inbox["conversations"]
    assert entry["conv"] == "d:alice:bob" and entry["unread"] == 1   # bob's reply
    ok = await alice.request({"type": "receipt", "conv": "d:alice:bob", "seq": 2, "kind": "read"})
    assert ok["seq"] == 2
    rec = await bob.next_push("receipt")
    assert (rec["user"], rec["kind"], rec["seq"]) == ("alice", "read", 2)
    inbox = await alice.request({"type": "inbox"})
    assert inbox["conversations"][0]["unread"] == 0
    alice.submit({"type": "typing", "conv": "d:alice:bob"})
    typing = await bob.next_push("typing")
    assert typing["user"] == "alice"
    pong = await alice.request({"type": "ping"})
    assert pong["type"] == "pong"


async def test_resend_same_client_msg_id_stored_once(node, client_factory):
    alice = await client_factory(node, "alice")
    first = await alice.send("once", to="bob", client_msg_id="dup-1")
    again = await alice.send("once", to="bob", client_msg_id="dup-1")
    assert again["seq"] == first["seq"] and again.get("duplicate") is True
    third = await alice.send("next", to="bob", client_msg_id="dup-2")
    assert third["seq"] == first["seq"] + 1     # no hole: the duplicate consumed no seq
    msgs = await alice.sync_all("d:alice:bob")
    assert [m["client_msg_id"] for m in msgs] == ["dup-1", "dup-2"]


async def test_groups_create_join_leave_members_limit(node_factory, database_url, client_factory):
    node = await node_factory(database_url=database_url, max_group_members=3)
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    carol = await client_factory(node, "carol")
    dave = await client_factory(node, "dave")
    g = await alice.request({"type": "group_create", "name": "team", "members": ["bob"], "public": True})
    conv = g["conv"]
    assert g["members"] == ["alice", "bob"]
    ev = await bob.next_push("group_event")
    assert ev["event"] == "added" and ev["conv"] == conv
    joined = await carol.request({"type": "group_join", "conv": conv})
    assert joined["members"] == ["alice", "bob", "carol"]
    with pytest.raises(RequestError) as full:
        await dave.request({"type": "group_join", "conv": conv})
    assert full.value.code == "group_full"
    ack = await alice.send("hi team", conv=conv, client_msg_id="g-1")
    got = await asyncio.gather(bob.next_push("msg"), carol.next_push("msg"))
    assert all(m["seq"] == ack["seq"] and m["body"] == "hi team" for m in got)
    left = await carol.request({"type": "group_leave", "conv": conv})
    assert "carol" not in left["members"]
    with pytest.raises(RequestError) as forb:
        await carol.send("still here?", conv=conv, client_msg_id="c-1")
    assert forb.value.code == "forbidden"
    members = await bob.request({"type": "group_members", "conv": conv})
    assert members["members"] == ["alice", "bob"]
    priv = await alice.request({"type": "group_create", "name": "private", "members": []})
    with pytest.raises(RequestError) as closed:
        await dave.request({"type": "group_join", "conv": priv["conv"]})
    assert closed.value.code == "forbidden"
    added = await alice.request({"type": "group_add", "conv": priv["conv"], "user": "dave"})
    assert added["members"] == ["alice", "dave"]


async def test_resume_with_stale_cursor(node, client_factory):
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    for i in range(5):
        await alice.send(f"m{i}", to="bob", client_msg_id=f"s-{i}")
    seen = await bob.sync_all("d:alice:bob")
    cursor = seen[1]["seq"]                    # bob only processed up to seq 2, then went away
    await bob.close()
    for i in range(5, 8):
        await alice.send(f"m{i}", to="bob", client_msg_id=f"s-{i}")
    bob2 = await client_factory(node, "bob")
    rest = await bob2.sync_all("d:alice:bob", after_seq=cursor, limit=2)
    assert [m["seq"] for m in rest] == list(range(cursor + 1, 9))
    assert [m["body"] for m in rest] == [f"m{i}" for i in range(cursor, 8)]


async def test_auth_rejected_at_handshake(node, mint):
    token = mint
    url = f"ws://127.0.0.1:{node.port}/ws"
    for headers in ({}, {"Authorization": "Bearer nonsense"},
                    {"Authorization": "Bearer " + token("alice", ttl_s=-120)}):
        with pytest.raises(InvalidStatus) as info:
            async with connect(url, additional_headers=headers):
                pass
        assert info.value.response.status_code == 401
    async with connect(url + "?token=" + token("alice")) as ws:   # query-string token works
        assert '"hello"' in await ws.recv()


async def test_presence_to_contacts(node, client_factory):
    alice = await client_factory(node, "alice")
    await alice.send("hi", to="bob", client_msg_id="p-1")
    bob = await client_factory(node, "bob")
    p = await alice.next_push("presence")
    assert (p["user"], p["status"]) == ("bob", "online")
    await bob.close()
    p = await alice.next_push("presence")
    assert (p["user"], p["status"]) == ("bob", "offline")


def _presence_of(client, user: str) -> list[str]:
    """The presence statuses of `user` waiting in the client's push queue."""
    return [f["status"] for f in list(client.pushed._queue) if f["type"] == "presence" and f["user"] == user]


async def _until_presence(client, user: str, status: str) -> None:
    """Until the client is told that `user` is `status` (other presence pushes pass: their order is not fixed)."""
    while True:
        got = await client.next_push("presence")
        if (got["user"], got["status"]) == (user, status):
            return


async def test_presence_is_not_shared_across_a_block(node, client_factory):
    # alice, bob and carol share a group; alice blocked bob: neither learns the other's presence, carol both.
    # One publish carries an event to all its recipients at once, so carol's push is the barrier for the others.
    first = await client_factory(node, "alice")
    await first.request({"type": "group_create", "name": "g", "members": ["bob", "carol"]})
    await first.request({"type": "block", "user": "bob"})
    await first.close()
    bob, carol = await client_factory(node, "bob"), await client_factory(node, "carol")
    alice = await client_factory(node, "alice")
    await _until_presence(carol, "alice", "online")
    await asyncio.sleep(0.1)
    assert _presence_of(bob, "alice") == []                          # the blocked user does not see the blocker
    await bob.close()
    await _until_presence(carol, "bob", "offline")
    await asyncio.sleep(0.1)
    assert _presence_of(alice, "bob") == []                          # nothing reaches the blocker from bob
    await alice.request({"type": "unblock", "user": "bob"})
    await client_factory(node, "bob")
    await _until_presence(alice, "bob", "online")                    # unblocked: shared again


async def test_pipelined_duplicates_and_order_in_one_batch(node, client_factory):
    alice = await client_factory(node, "alice")
    frames = [{"type": "send", "client_msg_id": f"p-{i % 20}", "to": "bob", "body": f"b{i % 20}",
               "ref": f"r{i}"} for i in range(40)]          # every id twice, not waiting for acks
    acks = await asyncio.gather(*(alice.submit(f) for f in frames))
    by_id = {}
    for a in acks:
        assert a["type"] == "ack"
        by_id.setdefault(a["client_msg_id"], set()).add(a["seq"])
    assert all(len(seqs) == 1 for seqs in by_id.values())
    msgs = await alice.sync_all("d:alice:bob")
    assert [m["client_msg_id"] for m in msgs] == [f"p-{i}" for i in range(20)]   # stored once, in send order
    assert [m["seq"] for m in msgs] == list(range(1, 21))
