"""The admin API end to end (docs/imserver.md#admin-api): real nodes, real clients, real HTTP calls, on SQLite and
PostgreSQL; kick and ban across two nodes over Redis; refused calls; erasure as one transaction; the migration."""
import asyncio
import json
import logging
import secrets
import sqlite3

import pytest
from websockets.exceptions import InvalidStatus

from imserver import admin
from imserver.client import RequestError
from imserver.config import Config, ConfigError

from conftest import SECRET, free_port, token
from test_ops import _http

ADMIN_TOKEN = "admin-" + secrets.token_hex(20)


@pytest.fixture
def admin_node(node_factory):
    """start(**config) → a node with its admin API on a free loopback port."""
    async def start(**overrides):
        return await node_factory(admin_port=free_port(), admin_token=ADMIN_TOKEN, **overrides)
    return start


async def call(node, action: str, payload, token: str = ADMIN_TOKEN) -> tuple[int, dict]:
    return await asyncio.to_thread(admin.call, "127.0.0.1", node.admin.port, token, action, payload, "ops-test")


async def closed(client, timeout: float = 10) -> tuple[int, str]:
    await asyncio.wait_for(client.closed.wait(), timeout)
    return client.ws.close_code, client.ws.close_reason


async def test_erase_user_removes_everything_of_theirs_and_keeps_seqs_gapless(admin_node, database_url,
                                                                             client_factory, tmp_path):
    node = await admin_node(database_url=database_url)
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    carol = await client_factory(node, "carol")
    await alice.send("private to bob", to="bob", client_msg_id="a-1")
    await bob.send("private reply", to="alice", client_msg_id="b-1")
    g = await alice.request({"type": "group_create", "name": "team", "members": ["bob", "carol"]})
    conv = g["conv"]
    up = await alice.request({"type": "upload", "content_type": "image/png", "size_bytes": 4})
    assert (await asyncio.to_thread(_http, "PUT", up["url"], b"\x89PNG", up["headers"]))[0] == 201
    await alice.send("hi team", conv=conv, client_msg_id="a-2")
    await bob.send("hi alice", conv=conv, client_msg_id="b-2")
    await alice.send("", conv=conv, media=up["key"], client_msg_id="a-3")
    await carol.request({"type": "receipt", "conv": conv, "seq": 1, "kind": "read"})
    await alice.request({"type": "receipt", "conv": conv, "seq": 3, "kind": "read"})
    media_file = node.media.root / up["key"]
    assert media_file.is_file()
    for c in (bob, carol):
        while not c.pushed.empty():
            c.pushed.get_nowait()

    status, out = await call(node, "erase_user", {"user": "alice"})
    assert status == 200, out
    assert out["messages_tombstoned"] == 2 and out["conversations_deleted"] == ["d:alice:bob"]
    assert out["groups_left"] == [conv] and out["media_objects_deleted"] == 1 and out["connections_closed"] == 1
    assert await closed(alice) == (1008, "account erased")
    assert not media_file.exists()
    # The peers are told: the 1:1 conversation is gone, alice's group messages are tombstones, alice left.
    assert (await bob.next_push("conv_deleted"))["conv"] == "d:alice:bob"
    assert (await carol.next_push("msg_deleted")) == {"type": "msg_deleted", "conv": conv, "seqs": [1, 3]}
    ev = await carol.next_push("group_event")
    assert (ev["event"], ev["users"], ev["by"]) == ("removed", ["alice"], "admin")
    # Sync returns tombstones in place: seqs stay gapless, nothing of alice remains (not even her id).
    msgs = await carol.sync_all(conv)
    assert [m["seq"] for m in msgs] == [1, 2, 3]
    assert msgs[0] == {"conv": conv, "seq": 1, "body": "", "ts": msgs[0]["ts"], "deleted": True}
    assert msgs[1]["from"] == "bob" and msgs[1]["body"] == "hi alice"
    assert msgs[2]["deleted"] is True and "media" not in msgs[2] and "from" not in msgs[2]
    assert (await carol.request({"type": "group_members", "conv": conv}))["members"] == ["bob", "carol"]
    inbox = await bob.request({"type": "inbox"})
    assert [(c["conv"], c["unread"]) for c in inbox["conversations"]] == [(conv, 0)]   # tombstones are not unread
    with pytest.raises(RequestError) as info:
        await bob.sync_all("d:alice:bob")
    assert info.value.code == "forbidden"
    # The group goes on; a new seq follows the tombstones.
    assert (await bob.send("after", conv=conv, client_msg_id="b-3"))["seq"] == 4
    # Nothing is stored under alice's id any more (checked in the database itself).
    if database_url.startswith("sqlite"):
        db = sqlite3.connect(database_url[len("sqlite:///"):])
        rows = [db.execute(q, ("alice",)).fetchone()[0] for q in (
            "SELECT count(*) FROM messages WHERE sender=?1", "SELECT count(*) FROM members WHERE user_id=?1",
            "SELECT count(*) FROM conversations WHERE created_by=?1 OR id LIKE '%' || ?1 || '%'")]
        db.close()
    else:
        import asyncpg
        db = await asyncpg.connect(database_url)
        rows = [await db.fetchval(q, "alice") for q in (
            "SELECT count(*) FROM messages WHERE sender=$1", "SELECT count(*) FROM members WHERE user_id=$1",
            "SELECT count(*) FROM conversations WHERE created_by=$1 OR id LIKE '%' || $1 || '%'")]
        await db.close()
    assert rows == [0, 0, 0]
    status, out = await call(node, "erase_user", {"user": "alice"})
    assert (status, out["error"]) == (404, "not_found")


async def test_delete_message_leaves_a_tombstone_members_are_told(admin_node, database_url, client_factory):
    node = await admin_node(database_url=database_url)
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    up = await alice.request({"type": "upload", "content_type": "text/plain", "size_bytes": 2})
    assert (await asyncio.to_thread(_http, "PUT", up["url"], b"hi", up["headers"]))[0] == 201
    await alice.send("one", to="bob", client_msg_id="a-1")
    ack = await alice.send("oops", to="bob", media=up["key"], client_msg_id="a-2")
    await alice.send("three", to="bob", client_msg_id="a-3")
    await bob.request({"type": "receipt", "conv": "d:alice:bob", "seq": 1, "kind": "read"})
    status, out = await call(node, "delete_message", {"conv": "d:alice:bob", "seq": ack["seq"]})
    assert (status, out) == (200, {"conv": "d:alice:bob", "seq": 2, "deleted": True, "changed": True})
    for c in (alice, bob):      # every member's connections, the sender's too
        assert (await c.next_push("msg_deleted")) == {"type": "msg_deleted", "conv": "d:alice:bob", "seqs": [2]}
    msgs = await bob.sync_all("d:alice:bob")
    assert [m["seq"] for m in msgs] == [1, 2, 3]
    assert msgs[1] == {"conv": "d:alice:bob", "seq": 2, "from": "alice", "body": "", "ts": ack["ts"], "deleted": True}
    assert not (node.media.root / up["key"]).exists()           # no message carries it any more
    inbox = await bob.request({"type": "inbox"})
    assert inbox["conversations"][0]["unread"] == 1              # seq 3 only
    status, out = await call(node, "delete_message", {"conv": "d:alice:bob", "seq": 2})
    assert (status, out["changed"]) == (200, False)              # idempotent
    # A resend of the deleted message's client_msg_id does not bring it back.
    again = await alice.send("oops", to="bob", client_msg_id="a-2")
    assert again.get("duplicate") and again["seq"] == 2
    status, out = await call(node, "delete_message", {"conv": "d:alice:bob", "seq": 99})
    assert (status, out["error"]) == (404, "not_found")
    status, out = await call(node, "delete_message", {"conv": "d:alice:bob", "seq": 0})
    assert (status, out["error"]) == (400, "bad_frame")


async def test_delete_conversation(admin_node, database_url, client_factory):
    node = await admin_node(database_url=database_url)
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    g = await alice.request({"type": "group_create", "name": "doomed", "members": ["bob"]})
    await alice.send("a", conv=g["conv"], client_msg_id="a-1")
    await bob.send("b", conv=g["conv"], client_msg_id="b-1")
    await alice.send("direct", to="bob", client_msg_id="a-2")
    status, out = await call(node, "delete_conversation", {"conv": g["conv"]})
    assert (status, out) == (200, {"conv": g["conv"], "messages_deleted": 2, "members": ["alice", "bob"]})
    assert (await bob.next_push("conv_deleted"))["conv"] == g["conv"]
    assert (await alice.next_push("conv_deleted"))["conv"] == g["conv"]
    for c in (alice, bob):
        with pytest.raises(RequestError) as info:
            await c.sync_all(g["conv"])
        assert info.value.code == "forbidden"
        with pytest.raises(RequestError) as info:
            await c.send("x", conv=g["conv"], client_msg_id=f"{c.hello['user']}-late")
        assert info.value.code == "forbidden"
    assert [c["conv"] for c in (await bob.request({"type": "inbox"}))["conversations"]] == ["d:alice:bob"]
    # A deleted 1:1 conversation starts afresh when the pair writes again.
    status, _ = await call(node, "delete_conversation", {"conv": "d:alice:bob"})
    assert status == 200
    assert (await alice.send("again", to="bob", client_msg_id="a-3"))["seq"] == 1
    status, out = await call(node, "delete_conversation", {"conv": "g:0123456789abcdef"})
    assert (status, out["error"]) == (404, "not_found")


async def test_ban_refuses_tokens_and_unban_restores(admin_node, database_url, client_factory):
    node = await admin_node(database_url=database_url)
    bob = await client_factory(node, "bob")
    await bob.send("hi", to="alice", client_msg_id="b-1")
    status, out = await call(node, "ban", {"user": "bob"})
    assert (status, out["banned"], out["changed"], out["connections_closed_here"]) == (200, True, True, 1)
    assert await closed(bob) == (1008, "banned")
    with pytest.raises(InvalidStatus) as info:
        await client_factory(node, "bob")
    assert info.value.response.status_code == 403
    status, out = await call(node, "ban", {"user": "bob"})
    assert (status, out["changed"]) == (200, False)
    status, out = await call(node, "unban", {"user": "bob"})
    assert (status, out) == (200, {"user": "bob", "banned": False})
    bob = await client_factory(node, "bob")
    assert len(await bob.sync_all("d:alice:bob")) == 1         # a ban keeps the data
    status, out = await call(node, "unban", {"user": "bob"})
    assert (status, out["error"]) == (404, "not_found")


async def test_kick_reaches_a_user_only_connected_to_another_node(admin_node, node_factory, client_factory,
                                                                 pg_dsn, redis_url):
    # dave has stored nothing and is connected to node b only: node a knows him from the shared presence
    a = await admin_node(database_url=pg_dsn, redis_url=redis_url)
    b = await node_factory(database_url=pg_dsn, redis_url=redis_url)
    dave_b = await client_factory(b, "dave")
    status, out = await call(a, "kick", {"user": "dave"})
    assert (status, out) == (200, {"user": "dave", "connections_closed_here": 0})
    assert await closed(dave_b) == (1008, "kicked by an administrator")
    await asyncio.sleep(0.2)                     # his presence entry is gone once the connection closed
    status, out = await call(a, "kick", {"user": "dave"})
    assert (status, out["error"]) == (404, "not_found") and "not connected to any node" in out["message"]


async def test_kick_and_ban_across_two_nodes_over_redis(admin_node, node_factory, client_factory, pg_dsn,
                                                        redis_url):
    a = await admin_node(database_url=pg_dsn, redis_url=redis_url)
    b = await node_factory(database_url=pg_dsn, redis_url=redis_url)      # no admin API on this one
    assert b.admin is None
    bob_a = await client_factory(a, "bob")
    bob_b = await client_factory(b, "bob")
    carol_b = await client_factory(b, "carol")
    await bob_b.send("hi", to="carol", client_msg_id="b-1")
    status, out = await call(a, "kick", {"user": "bob"})
    assert (status, out) == (200, {"user": "bob", "connections_closed_here": 1})
    assert await closed(bob_a) == (1008, "kicked by an administrator")
    assert await closed(bob_b) == (1008, "kicked by an administrator")      # the other node, via Redis
    assert not carol_b.closed.is_set()
    bob_b = await client_factory(b, "bob")                                    # a kick is not a ban
    bob_a = await client_factory(a, "bob")
    status, out = await call(a, "ban", {"user": "bob"})
    assert status == 200
    assert (await closed(bob_b))[1] == "banned" and (await closed(bob_a))[1] == "banned"
    for n in (a, b):
        with pytest.raises(InvalidStatus) as info:
            await client_factory(n, "bob")
        assert info.value.response.status_code == 403
    assert (await call(a, "unban", {"user": "bob"}))[0] == 200
    await client_factory(b, "bob")
    # A message deleted through node a reaches carol on node b.
    status, _ = await call(a, "delete_message", {"conv": "d:bob:carol", "seq": 1})
    assert status == 200
    assert (await carol_b.next_push("msg_deleted"))["seqs"] == [1]


async def test_refused_calls_get_a_clear_json_error_and_every_call_is_audited(admin_node, client_factory, tmp_path,
                                                                               caplog):
    node = await admin_node(database_url=f"sqlite:///{tmp_path}/im.db")
    alice = await client_factory(node, "alice")
    await alice.send("secret body", to="bob", client_msg_id="a-1")
    caplog.set_level(logging.INFO, logger="imserver.admin")
    cases = [
        (dict(token=""), "kick", {"user": "alice"}, 401, "unauthorized", "missing admin credential"),
        (dict(token="wrong-" + "x" * 40), "kick", {"user": "alice"}, 401, "unauthorized", "invalid admin credential"),
        (dict(token=token("alice")), "kick", {"user": "alice"}, 401, "unauthorized", "client JWT"),
        (dict(token=SECRET), "ban", {"user": "alice"}, 401, "unauthorized", "invalid"),
        ({}, "kick", {"user": "nobody"}, 404, "not_found", "no such user"),
        ({}, "erase_user", {"user": "nobody"}, 404, "not_found", "no data"),
        ({}, "kick", {"user": "alice\n"}, 400, "bad_frame", "field user"),
        ({}, "kick", {}, 400, "bad_frame", "field user"),
        ({}, "delete_message", {"conv": "d:bob:alice", "seq": 1}, 400, "bad_frame", "field conv"),
        ({}, "kick", ["alice"], 400, "bad_json", "JSON object"),
        ({}, "reboot", {"user": "alice"}, 404, "not_found", "no admin action"),
    ]
    for kw, action, payload, want_status, want_code, want_text in cases:
        status, out = await call(node, action, payload, **kw)
        assert (status, out["error"]) == (want_status, want_code), (action, payload, out)
        assert want_text in out["message"]
    # Bodies that are not JSON, or not strict JSON, and other methods.
    port = node.admin.port

    async def raw(request: bytes) -> tuple[int, dict]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        head, _, body = reply.partition(b"\r\n\r\n")
        assert b"Content-Type: application/json" in head
        return int(head.split()[1]), json.loads(body)

    auth = f"Authorization: Bearer {ADMIN_TOKEN}\r\n".encode()
    for body in (b"{not json", b'{"user": NaN}', b"\xff\xfe", b'{"user":"alice"} trailing'):
        status, out = await raw(b"POST /admin/kick HTTP/1.1\r\n" + auth + b"Content-Length: %d\r\n\r\n" % len(body)
                                + body)
        assert (status, out["error"]) == (400, "bad_json"), body
    status, out = await raw(b"GET /admin/kick HTTP/1.1\r\n" + auth + b"\r\n")
    assert (status, out["error"]) == (405, "method")
    status, out = await raw(b"POST /admin/kick HTTP/1.1\r\n" + auth + b"Content-Length: 99999\r\n\r\n")
    assert (status, out["error"]) == (400, "bad_json")
    assert not alice.closed.is_set()                 # none of those did anything
    # The audit log: one line per call, with who/what/target/result, never a token or a body.
    records = [r for r in caplog.records if r.name == "imserver.admin" and r.getMessage() == "admin call"]
    assert len(records) == len(cases) + 6
    first = records[0]
    assert (first.actor, first.action, first.target, first.status, first.code) == (
        "ops-test", "kick", None, 401, "unauthorized")          # an unauthenticated body is not even read
    assert records[4].target == "nobody" and records[4].status == 404
    from imserver.logs import JsonFormatter
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    for leak in (ADMIN_TOKEN, token("alice"), SECRET, "secret body"):
        assert leak not in text
    status, out = await call(node, "kick", {"user": "alice"})
    assert status == 200
    assert caplog.records[-1].status == 200 and caplog.records[-1].code is None
    assert node.metrics.get("imserver_admin_calls_total", action="kick", status=200) == 1


@pytest.mark.parametrize("fail_on", ["members"])
async def test_erase_is_one_transaction(admin_node, database_url, client_factory, fail_on):
    """A database refusal in the middle of an erasure (a trigger on the memberships) leaves everything as it was."""
    node = await admin_node(database_url=database_url)
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    await alice.send("keep me", to="bob", client_msg_id="a-1")
    g = await alice.request({"type": "group_create", "name": "g", "members": ["bob"]})
    await alice.send("and me", conv=g["conv"], client_msg_id="a-2")
    if database_url.startswith("sqlite"):
        db = sqlite3.connect(database_url[len("sqlite:///"):])
        db.execute("CREATE TRIGGER refuse BEFORE DELETE ON members WHEN old.conv LIKE 'g:%'"
                   " BEGIN SELECT RAISE(ABORT, 'refused by test'); END")
        db.commit()
        db.close()
    else:
        import asyncpg
        db = await asyncpg.connect(database_url)
        await db.execute("""CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
                              RAISE EXCEPTION 'refused by test' USING ERRCODE = '23514'; END $$ LANGUAGE plpgsql;
                            CREATE TRIGGER refuse BEFORE DELETE ON members FOR EACH ROW
                              WHEN (old.conv LIKE 'g:%') EXECUTE FUNCTION refuse();""")
        await db.close()
    status, out = await call(node, "erase_user", {"user": "alice"})
    assert (status, out["error"]) == (409, "rejected")
    # The 1:1 conversation (deleted before the refused statement) is intact, and so is the rest.
    direct = await bob.sync_all("d:alice:bob")
    assert [(m["from"], m["body"]) for m in direct] == [("alice", "keep me")]
    group = await bob.sync_all(g["conv"])
    assert [(m["from"], m["body"]) for m in group] == [("alice", "and me")]
    assert (await bob.request({"type": "group_members", "conv": g["conv"]}))["members"] == ["alice", "bob"]
    # The writer goes on: later writes commit.
    assert (await bob.send("still here", to="alice", client_msg_id="b-1"))["seq"] == 2


async def test_schema_1_databases_are_migrated_in_place(database_url):
    from imserver.store import open_store
    from imserver.store.base import SCHEMA_VERSION
    if database_url.startswith("sqlite"):
        from imserver.store.sqlite import SCHEMA
        path = database_url[len("sqlite:///"):]
        db = sqlite3.connect(path)
        for stmt in SCHEMA:
            db.execute(stmt)
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO conversations(id, kind, created_by, created_ts, last_seq, member_count)"
                   " VALUES ('d:alice:bob', 'direct', 'alice', 1, 1, 2)")
        db.execute("INSERT INTO members(conv, user_id, joined_ts) VALUES ('d:alice:bob', 'alice', 1),"
                   " ('d:alice:bob', 'bob', 1)")
        db.execute("INSERT INTO messages VALUES ('d:alice:bob', 1, 'alice', 'a-1', 'old', NULL, 1)")
        db.commit()
        db.close()
    else:
        import asyncpg
        from imserver.store.postgres import SCHEMA
        db = await asyncpg.connect(database_url)
        await db.execute(SCHEMA)
        await db.execute("""INSERT INTO schema_version VALUES (1);
            INSERT INTO conversations(id, kind, created_by, created_ts, last_seq, member_count)
              VALUES ('d:alice:bob', 'direct', 'alice', 1, 1, 2);
            INSERT INTO members(conv, user_id, joined_ts) VALUES ('d:alice:bob', 'alice', 1), ('d:alice:bob', 'bob', 1);
            INSERT INTO messages VALUES ('d:alice:bob', 1, 'alice', 'a-1', 'old', NULL, 1);""")
        await db.close()
    store = open_store(database_url)
    await store.open()
    await store.start()
    try:
        assert store.schema_change == (1, SCHEMA_VERSION)
        msgs, last = await store.history("bob", "d:alice:bob", 0, 10)
        assert [(m["seq"], m["body"]) for m in msgs] == [(1, "old")] and last == 1
        res = await store.delete_message("d:alice:bob", 1)
        assert res.changed and await store.ban("alice") is True and await store.is_banned("alice")
        msgs, _ = await store.history("bob", "d:alice:bob", 0, 10)
        assert msgs[0]["deleted"] is True
    finally:
        await store.close()
    again = open_store(database_url)
    await again.open()
    try:
        assert again.schema_change == (SCHEMA_VERSION, SCHEMA_VERSION)
    finally:
        await again._close_backend()


def test_admin_config_is_refused_without_its_own_credential_or_on_a_wildcard():
    ok = dict(admin_port=9999, admin_token="t" * 32, jwt_secret="s" * 32)
    Config(**ok).validate()
    for bad, field in ((dict(admin_token=""), "admin_token"), (dict(admin_token="s" * 32), "admin_token"),
                       (dict(admin_host="0.0.0.0"), "admin_host"), (dict(admin_host="::"), "admin_host"),
                       (dict(admin_port=8765), "admin_port")):
        with pytest.raises(ConfigError) as info:
            Config(**{**ok, **bad}).validate()
        assert field in str(info.value)
    Config(admin_token="").validate()        # no admin_port: no admin API, nothing needed


async def test_cli_admin_calls_the_api(admin_node, client_factory, tmp_path, capsys):
    from imserver import cli
    node = await admin_node(database_url=f"sqlite:///{tmp_path}/im.db")
    bob = await client_factory(node, "bob")
    conf = tmp_path / "admin.yaml"
    conf.write_text(f"admin_port: {node.admin.port}\nadmin_token: {ADMIN_TOKEN}\njwt_secret: {SECRET}\n")
    rc = await asyncio.to_thread(cli.main, ["admin", "--config", str(conf), "ban", "bob"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["banned"] is True
    assert (await closed(bob))[1] == "banned"
    rc = await asyncio.to_thread(cli.main, ["admin", "--config", str(conf), "unban", "carol"])
    err = capsys.readouterr().err
    assert rc == 1 and json.loads(err)["error"] == "not_found"
    with pytest.raises(SystemExit) as info:
        await asyncio.to_thread(cli.main, ["admin", "--config", str(conf), "delete-message", "d:a:b", "x"])
    assert info.value.code == 2 and "invalid int value" in capsys.readouterr().err


async def test_erase_and_delete_remove_s3_objects_against_moto(admin_node, client_factory, tmp_path, moto_s3):
    """Erasure lists the user's key prefix (uploads never sent included) and deletes each object; another user's
    objects stay. A deleted message's object goes too."""
    s3, media_cfg = moto_s3
    node = await admin_node(database_url=f"sqlite:///{tmp_path}/im.db", **media_cfg)
    alice = await client_factory(node, "alice")
    bob = await client_factory(node, "bob")
    keys = {}
    for who, c, n in (("alice", alice, 3), ("bob", bob, 2)):
        for i in range(n):
            up = await c.request({"type": "upload", "content_type": "image/png", "size_bytes": 3})
            assert (await asyncio.to_thread(_http, "PUT", up["url"], b"png", up["headers"]))[0] == 200
            keys.setdefault(who, []).append(up["key"])
    await alice.send("", to="bob", media=keys["alice"][0], client_msg_id="a-1")    # the others never sent
    ack = await bob.send("", to="alice", media=keys["bob"][0], client_msg_id="b-1")

    def stored():
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="media").get("Contents", []))

    status, out = await call(node, "delete_message", {"conv": "d:alice:bob", "seq": ack["seq"]})
    assert status == 200 and keys["bob"][0] not in stored()
    status, out = await call(node, "erase_user", {"user": "alice"})
    assert (status, out["media_objects_deleted"]) == (200, 3), out
    assert stored() == [keys["bob"][1]]
