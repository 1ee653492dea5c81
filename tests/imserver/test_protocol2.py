"""Protocol version 2 end to end over WebSockets, on SQLite and PostgreSQL (docs/protocol.md): edit and recall,
blocks, group roles and member removal, per-device markers and sync cursors, version-1 clients unchanged, the
schema step 3 migration and erasure of the new per-user tables."""
import asyncio
import json
import sqlite3
import time

import pytest
import websockets

from imserver import auth
from imserver.client import ImClient, RequestError
from imserver.protocol import PROTOCOL_VERSION

from conftest import SECRET, token
from test_admin import admin_node, call  # noqa: F401  (admin_node is a fixture)


async def refused(coro) -> str:
    with pytest.raises(RequestError) as info:
        await coro
    return info.value.code


def drain(client) -> list:
    out = []
    while not client.pushed.empty():
        out.append(client.pushed.get_nowait())
    return out


async def test_edit_and_recall_are_events_with_their_own_seq(node, client_factory):
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    assert alice.hello["protocol"] == PROTOCOL_VERSION == 2
    await alice.send("helo bob", to="bob", client_msg_id="a-1")
    assert (await bob.next_push("msg"))["seq"] == 1
    edit = {"type": "edit", "client_msg_id": "a-2", "conv": "d:alice:bob", "seq": 1, "body": "hello bob"}
    ack = await alice.request(dict(edit))
    assert (ack["seq"], ack["edit_of"]) == (2, 1) and "duplicate" not in ack
    push = await bob.next_push("msg")
    assert (push["seq"], push["edit_of"], push["body"], push["from"]) == (2, 1, "hello bob", "alice")
    again = await alice.request(dict(edit))                       # resent after a timeout: stored once
    assert (again["seq"], again["edit_of"], again["duplicate"]) == (2, 1, True)
    # Only the sender; only an original message.
    assert await refused(bob.request({"type": "edit", "client_msg_id": "b-1", "conv": "d:alice:bob", "seq": 1,
                                      "body": "mine now"})) == "forbidden"
    assert await refused(alice.request({**edit, "client_msg_id": "a-3", "seq": 2})) == "bad_frame"
    assert await refused(alice.request({**edit, "client_msg_id": "a-4", "seq": 99})) == "not_found"
    msgs = await bob.sync_all("d:alice:bob")
    assert [(m["seq"], m["body"], m.get("edit_of")) for m in msgs] == [(1, "hello bob", None), (2, "hello bob", 1)]
    assert "edited_ts" in msgs[0]
    # Recall: a new event; the original and the edit carrying its text become tombstones.
    rec = await alice.request({"type": "recall", "client_msg_id": "a-5", "conv": "d:alice:bob", "seq": 1})
    assert (rec["seq"], rec["recall_of"]) == (3, 1)
    push = await bob.next_push("msg")
    assert (push["seq"], push["recall_of"], push["body"]) == (3, 1, "")
    msgs = await bob.sync_all("d:alice:bob", after_seq=0)
    assert [m.get("deleted", False) for m in msgs] == [True, True, False] and msgs[2]["recall_of"] == 1
    assert "hello bob" not in json.dumps(msgs)
    assert await refused(alice.request({**edit, "client_msg_id": "a-6"})) == "bad_frame"   # recalled already
    # Sync from a cursor replays the events in order; events are not unread.
    assert [m["seq"] for m in await bob.sync_all("d:alice:bob", after_seq=2)] == [3]
    inbox = await bob.request({"type": "inbox"})
    assert inbox["conversations"][0]["unread"] == 0


async def test_edits_are_refused_after_the_window(node_factory, database_url, client_factory):
    node = await node_factory(database_url=database_url, edit_window_s=0.001)
    alice = await client_factory(node, "alice")
    await alice.send("typo", to="bob", client_msg_id="a-1")
    await asyncio.sleep(0.05)
    assert await refused(alice.request({"type": "edit", "client_msg_id": "a-2", "conv": "d:alice:bob", "seq": 1,
                                        "body": "fixed"})) == "window_expired"
    assert await refused(alice.request({"type": "recall", "client_msg_id": "a-3", "conv": "d:alice:bob",
                                        "seq": 1})) == "window_expired"


async def test_blocked_users_cannot_message_or_add(node, client_factory):
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    mallory = await client_factory(node, "mallory")
    await mallory.send("hi", to="bob", client_msg_id="m-1")
    ok = await bob.request({"type": "block", "user": "mallory"})
    assert (ok["for"], ok["user"], ok["changed"]) == ("block", "mallory", True)
    assert (await bob.request({"type": "block", "user": "mallory"}))["changed"] is False
    assert (await bob.request({"type": "blocks"}))["users"] == ["mallory"]
    assert await refused(mallory.send("hi again", to="bob", client_msg_id="m-2")) == "blocked"
    assert await refused(mallory.request({"type": "edit", "client_msg_id": "m-3", "conv": "d:bob:mallory",
                                          "seq": 1, "body": "edited"})) == "blocked"
    assert await refused(mallory.request({"type": "group_create", "name": "x", "members": ["alice", "bob"]})) \
        == "blocked"
    g = await mallory.request({"type": "group_create", "name": "y", "members": ["alice"]})
    assert await refused(mallory.request({"type": "group_add", "conv": g["conv"], "user": "bob"})) == "blocked"
    # Blocking is one way: bob may still write, others are unaffected, and nothing reached bob.
    assert (await bob.send("stop", to="mallory", client_msg_id="b-1"))["seq"] == 2
    assert (await alice.send("hi bob", to="bob", client_msg_id="a-1"))["seq"] == 1
    drain(bob)
    await mallory.ws.send(json.dumps({"type": "typing", "conv": "d:bob:mallory"}))
    await alice.ws.send(json.dumps({"type": "typing", "conv": "d:alice:bob"}))
    assert (await bob.next_push("typing"))["user"] == "alice"                # mallory's typing was dropped
    assert [m["body"] for m in await bob.sync_all("d:bob:mallory")] == ["hi", "stop"]
    assert await refused(bob.request({"type": "block", "user": "bob"})) == "bad_frame"
    await bob.request({"type": "unblock", "user": "mallory"})
    assert (await bob.request({"type": "blocks"}))["users"] == []
    assert await refused(bob.request({"type": "unblock", "user": "mallory"})) == "not_found"
    assert (await mallory.send("sorry", to="bob", client_msg_id="m-4"))["seq"] == 3


async def test_group_roles_removal_and_transfer(node, client_factory):
    alice, bob, carol, dave = [await client_factory(node, u) for u in ("alice", "bob", "carol", "dave")]
    g = await alice.request({"type": "group_create", "name": "team", "members": ["bob", "carol"]})
    conv = g["conv"]
    assert (await bob.request({"type": "group_members", "conv": conv}))["roles"] == \
        {"alice": "owner", "bob": "member", "carol": "member"}
    assert await refused(bob.request({"type": "group_add", "conv": conv, "user": "dave"})) == "forbidden"
    assert await refused(bob.request({"type": "group_role", "conv": conv, "user": "carol", "role": "admin"})) \
        == "forbidden"
    drain(bob)
    await alice.request({"type": "group_role", "conv": conv, "user": "bob", "role": "admin"})
    ev = await bob.next_push("group_event")
    assert (ev["event"], ev["users"], ev["role"], ev["by"]) == ("role", ["bob"], "admin", "alice")
    await bob.request({"type": "group_add", "conv": conv, "user": "dave"})
    drain(carol)
    reply = await bob.request({"type": "group_remove", "conv": conv, "user": "carol"})
    assert reply["members"] == ["alice", "bob", "dave"]
    ev = await carol.next_push("group_event")
    assert (ev["event"], ev["users"], ev["by"]) == ("removed", ["carol"], "bob")
    await alice.send("after carol", conv=conv, client_msg_id="a-1")
    assert (await dave.next_push("msg"))["body"] == "after carol"
    assert [f for f in drain(carol) if f["type"] == "msg"] == []        # no further messages for carol
    assert await refused(carol.sync_all(conv)) == "forbidden"
    assert await refused(carol.send("let me in", conv=conv, client_msg_id="c-1")) == "forbidden"
    assert await refused(bob.request({"type": "group_remove", "conv": conv, "user": "alice"})) == "forbidden"
    await alice.request({"type": "group_role", "conv": conv, "user": "dave", "role": "admin"})
    assert await refused(bob.request({"type": "group_remove", "conv": conv, "user": "dave"})) == "forbidden"
    # The owner hands over: bob owns, alice is an admin and can no longer set roles.
    await alice.request({"type": "group_transfer", "conv": conv, "user": "bob"})
    roles = (await dave.request({"type": "group_members", "conv": conv}))["roles"]
    assert roles == {"alice": "admin", "bob": "owner", "dave": "admin"}
    assert await refused(alice.request({"type": "group_transfer", "conv": conv, "user": "dave"})) == "forbidden"
    # An owner who leaves passes the group to the earliest admin.
    await bob.request({"type": "group_leave", "conv": conv})
    roles = (await dave.request({"type": "group_members", "conv": conv}))["roles"]
    assert roles == {"alice": "owner", "dave": "admin"}


async def test_edits_removals_and_blocks_across_two_nodes(node_factory, client_factory, pg_dsn, redis_url):
    """PostgreSQL + Redis, two nodes: an edit and a recall on node A reach node B; a removal on B reaches the removed
    user on A; a block stored through B refuses a send through A."""
    a = await node_factory(database_url=pg_dsn, redis_url=redis_url)
    b = await node_factory(database_url=pg_dsn, redis_url=redis_url)
    alice, carol = await client_factory(a, "alice"), await client_factory(a, "carol")
    bob = await client_factory(b, "bob")
    g = await alice.request({"type": "group_create", "name": "g", "members": ["bob", "carol"]})
    conv = g["conv"]
    await alice.send("frist", conv=conv, client_msg_id="a-1")
    await alice.request({"type": "edit", "client_msg_id": "a-2", "conv": conv, "seq": 1, "body": "first"})
    await alice.request({"type": "recall", "client_msg_id": "a-3", "conv": conv, "seq": 1})
    got = [await bob.next_push("msg") for _ in range(3)]
    assert [(m["seq"], m.get("edit_of"), m.get("recall_of")) for m in got] == [(1, None, None), (2, 1, None),
                                                                                (3, None, 1)]
    await alice.request({"type": "group_role", "conv": conv, "user": "bob", "role": "admin"})
    drain(carol)
    await bob.request({"type": "group_remove", "conv": conv, "user": "carol"})
    ev = await carol.next_push("group_event")
    assert (ev["event"], ev["users"], ev["by"]) == ("removed", ["carol"], "bob")
    await bob.request({"type": "block", "user": "alice"})
    assert await refused(alice.send("hi", to="bob", client_msg_id="a-4")) == "blocked"


def device_token(user: str, device: str) -> str:
    now = int(time.time())
    return auth.encode({"sub": user, "iat": now, "exp": now + 3600, "device_id": device}, SECRET)


async def test_device_markers_and_cursors(node, client_factory):
    url = f"ws://127.0.0.1:{node.port}/ws"
    bob = await client_factory(node, "bob")
    for i in range(3):
        await bob.send(f"m{i + 1}", to="alice", client_msg_id=f"b-{i}")
    phone = await ImClient.connect(url, device_token("alice", "phone"))
    laptop = await client_factory(node, "alice")
    try:
        assert phone.hello["device_id"] == "phone"
        assert (await laptop.request({"type": "hello", "protocol": 2, "device_id": "laptop"}))["device_id"] \
            == "laptop"
        assert await refused(laptop.request({"type": "hello", "device_id": "laptop"})) == "bad_frame"
        assert await refused(phone.request({"type": "hello", "device_id": "tablet"})) == "bad_frame"
        await phone.request({"type": "receipt", "conv": "d:alice:bob", "seq": 2, "kind": "delivered"})
        assert (await bob.next_push("receipt"))["kind"] == "delivered"
        page = await phone.request({"type": "sync", "conv": "d:alice:bob"})      # resumes from the phone's cursor
        assert (page["after_seq"], [m["seq"] for m in page["messages"]]) == (2, [3])
        page = await laptop.request({"type": "sync", "conv": "d:alice:bob"})     # the laptop has none yet
        assert (page["after_seq"], [m["seq"] for m in page["messages"]]) == (0, [1, 2, 3])
        await phone.request({"type": "receipt", "conv": "d:alice:bob", "seq": 3, "kind": "read"})
        push = await bob.next_push("receipt")
        assert (push["kind"], push["seq"], push["user"]) == ("read", 3, "alice")
        # alice's other device hears of the phone's receipts (its unread count follows); the phone does not
        mine = [await laptop.next_push("receipt") for _ in range(2)]
        assert [(f["kind"], f["seq"], f["user"]) for f in mine] == [("delivered", 2, "alice"), ("read", 3, "alice")]
        assert [f for f in drain(phone) if f["type"] == "receipt"] == []
        # The laptop is behind the user's marker: its own marker moves, nobody is told, nothing is refused.
        await laptop.request({"type": "receipt", "conv": "d:alice:bob", "seq": 1, "kind": "read"})
        repeat = await laptop.request({"type": "receipt", "conv": "d:alice:bob", "seq": 1, "kind": "delivered"})
        assert repeat["type"] == "ok"                                             # read implied delivered
        assert await refused(phone.request({"type": "receipt", "conv": "d:alice:bob", "seq": 2,
                                            "kind": "read"})) == "bad_frame"      # behind the phone's marker
        entry = (await laptop.request({"type": "inbox"}))["conversations"][0]
        assert (entry["read_seq"], entry["device_read_seq"], entry["device_delivered_seq"], entry["unread"]) == \
            (3, 1, 1, 0)
    finally:
        await phone.close()
    phone = await ImClient.connect(url, device_token("alice", "phone"))             # a new connection, same device
    try:
        page = await phone.request({"type": "sync", "conv": "d:alice:bob"})
        assert page["after_seq"] == 3 and page["messages"] == []
    finally:
        await phone.close()
    assert [f for f in drain(bob) if f["type"] == "receipt"] == []
    bad = auth.encode({"sub": "alice", "iat": int(time.time()), "exp": int(time.time()) + 60,
                       "device_id": "phone\n"}, SECRET)
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        await ImClient.connect(url, bad)
    assert info.value.response.status_code == 401


async def test_version_1_clients_keep_working(node):
    """A client that knows only version-1 frames (no hello frame, no device): every frame and reply as before."""
    url = f"ws://127.0.0.1:{node.port}/ws"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token('alice')}"}) as a, \
            websockets.connect(url, additional_headers={"Authorization": f"Bearer {token('bob')}"}) as b:
        hello = json.loads(await a.recv())
        assert {"type", "user", "node", "ts", "max_frame_bytes"} <= set(hello) and hello["type"] == "hello"
        await b.recv()

        async def rpc(ws, frame):
            await ws.send(json.dumps(frame))
            while True:
                reply = json.loads(await ws.recv())
                if reply.get("ref") == frame.get("ref", frame.get("client_msg_id")):
                    return reply

        ack = await rpc(a, {"type": "send", "client_msg_id": "a-1", "to": "bob", "body": "v1"})
        assert set(ack) == {"type", "ref", "client_msg_id", "conv", "seq", "ts"} and ack["seq"] == 1
        msg = json.loads(await b.recv())
        assert set(msg) == {"type", "conv", "seq", "from", "client_msg_id", "body", "ts"}
        hist = await rpc(b, {"type": "sync", "ref": "s", "conv": "d:alice:bob"})   # no after_seq: from the start
        assert [m["seq"] for m in hist["messages"]] == [1]
        assert set(hist["messages"][0]) == {"conv", "seq", "from", "client_msg_id", "body", "ts"}
        ok = await rpc(b, {"type": "receipt", "ref": "r", "conv": "d:alice:bob", "seq": 1, "kind": "read"})
        assert ok["type"] == "ok"
        again = await rpc(b, {"type": "receipt", "ref": "r2", "conv": "d:alice:bob", "seq": 1, "kind": "read"})
        assert again["type"] == "ok"
        inbox = await rpc(b, {"type": "inbox", "ref": "i"})
        assert set(inbox["conversations"][0]) == {"conv", "kind", "name", "last_seq", "read_seq", "delivered_seq",
                                                  "unread"}
        g = await rpc(a, {"type": "group_create", "ref": "g", "name": "t", "members": []})
        added = await rpc(a, {"type": "group_add", "ref": "ga", "conv": g["conv"], "user": "bob"})
        assert added["members"] == ["alice", "bob"]
        members = await rpc(b, {"type": "group_members", "ref": "gm", "conv": g["conv"]})
        assert members["members"] == ["alice", "bob"]
        left = await rpc(b, {"type": "group_leave", "ref": "gl", "conv": g["conv"]})
        assert left["type"] == "group" and left["members"] == ["alice"]


async def db_counts(database_url: str, user: str) -> list:
    queries = ["SELECT count(*) FROM blocks WHERE user_id={0} OR blocked={0}",
               "SELECT count(*) FROM device_markers WHERE user_id={0}"]
    if database_url.startswith("sqlite"):
        db = sqlite3.connect(database_url[len("sqlite:///"):])
        try:
            return [db.execute(q.format("?1"), (user,)).fetchone()[0] for q in queries]
        finally:
            db.close()
    import asyncpg
    db = await asyncpg.connect(database_url)
    try:
        return [await db.fetchval(q.format("$1"), user) for q in queries]
    finally:
        await db.close()


async def test_erase_user_covers_blocks_and_device_markers(admin_node, database_url):  # noqa: F811
    node = await admin_node(database_url=database_url)
    url = f"ws://127.0.0.1:{node.port}/ws"
    alice = await ImClient.connect(url, device_token("alice", "phone"))
    bob = await ImClient.connect(url, token("bob"))
    carol = await ImClient.connect(url, token("carol"))
    try:
        g = await bob.request({"type": "group_create", "name": "g", "members": ["alice"]})
        await bob.send("hi", conv=g["conv"], client_msg_id="b-1")
        await alice.request({"type": "receipt", "conv": g["conv"], "seq": 1, "kind": "read"})
        await alice.request({"type": "block", "user": "mallory"})
        await carol.request({"type": "block", "user": "alice"})
        assert await db_counts(database_url, "alice") == [2, 1]
        status, out = await call(node, "erase_user", {"user": "alice"})
        assert status == 200, out
        assert await db_counts(database_url, "alice") == [0, 0]
        assert (await carol.request({"type": "blocks"}))["users"] == []
        # Someone whose only data is a block is erased too (not "nothing stored").
        await carol.request({"type": "block", "user": "dave"})
        await carol.close()
        status, out = await call(node, "erase_user", {"user": "carol"})
        assert status == 200 and await db_counts(database_url, "carol") == [0, 0]
    finally:
        for c in (alice, bob, carol):
            await c.close()


async def test_schema_2_databases_get_roles_blocks_and_device_markers(database_url):
    """Step 3 on a version-2 database: existing groups keep letting every member add (members become admins) with
    the creator, or else the earliest member, as owner; the old rows stay."""
    from imserver.store import open_store
    rows = ["INSERT INTO conversations(id, kind, name, created_by, created_ts, last_seq, member_count) VALUES"
            " ('g:1', 'group', 'a', 'alice', 1, 1, 2), ('g:2', 'group', 'b', '', 1, 0, 2)",
            "INSERT INTO members(conv, user_id, joined_ts) VALUES ('g:1', 'alice', 1), ('g:1', 'bob', 2),"
            " ('g:2', 'carol', 5), ('g:2', 'bob', 3)",
            "INSERT INTO messages(conv, seq, sender, client_msg_id, body, media, ts) VALUES"
            " ('g:1', 1, 'bob', 'b-1', 'old', NULL, 1)"]
    if database_url.startswith("sqlite"):
        from imserver.store.sqlite import MIGRATIONS, SCHEMA
        db = sqlite3.connect(database_url[len("sqlite:///"):])
        for stmt in SCHEMA + MIGRATIONS[2] + ["INSERT INTO schema_version VALUES (2)"] + rows:
            db.execute(stmt)
        db.commit()
        db.close()
    else:
        import asyncpg
        from imserver.store.postgres import MIGRATIONS, SCHEMA
        db = await asyncpg.connect(database_url)
        for stmt in [SCHEMA, MIGRATIONS[2], "INSERT INTO schema_version VALUES (2)"] + rows:
            await db.execute(stmt)
        await db.close()
    store = open_store(database_url)
    await store.open()
    await store.start()
    try:
        assert store.schema_change == (2, 3)
        assert await store.member_roles("bob", "g:1") == {"alice": "owner", "bob": "admin"}
        assert await store.member_roles("bob", "g:2") == {"bob": "owner", "carol": "admin"}
        msgs, _ = await store.history("bob", "g:1", 0, 10)
        assert [(m["seq"], m["body"]) for m in msgs] == [(1, "old")]
        assert await store.block("bob", "carol") is True and await store.blocks("bob") == ["carol"]
    finally:
        await store.close()


async def test_blocks_hold_after_a_restart(database_url):
    """A block stored before the node restarted still refuses the blocked user's 1:1 send (SQLite's writer keeps
    the set of users who block anyone in memory: it is reloaded at open)."""
    from imserver.store import StoreError, open_store
    store = open_store(database_url)
    await store.open()
    await store.start()
    try:
        assert await store.block("bob", "mallory") is True
    finally:
        await store.close()
    store = open_store(database_url)
    await store.open()
    await store.start()
    try:
        with pytest.raises(StoreError) as info:
            await store.send("mallory", "m-1", None, "bob", "hi", None)
        assert info.value.code == "blocked"
        assert (await store.send("bob", "b-1", None, "mallory", "hi", None)).seq == 1
    finally:
        await store.close()
