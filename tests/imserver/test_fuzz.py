"""Issue 10: a bounded frame fuzzer (hypothesis) against a live node.

Every frame type, with each field drawn from valid values and from junk (wrong types, lone
surrogates, NUL, NaN, huge numbers, deep nesting, trailing newlines), sometimes truncated or
with a byte inserted.  After each frame the fuzzing connection must still answer a ping, no
reply may be ``internal``, and a bystander's send made at the same time must be acked.  At the
end every acked message is stored exactly once with the acked seq.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import threading

import pytest

from hypothesis import HealthCheck, given, settings, strategies as st   # in the test extra: CI runs this

from imserver.client import ImClient
from imserver.server import Node

from conftest import _pg_admin, make_config, token

USERS = ["alice", "bob", "mallory", "zed", "mallory\n", "Mallory"]
CONVS = ["d:alice:bob", "d:bob:mallory", "d:mallory:zed", "d:zed:mallory", "d:mallory:mallory", "g:deadbeef",
         "GROUP"]   # GROUP: replaced by a group mallory belongs to
TYPES = ["send", "sync", "inbox", "ping", "group_create", "group_join", "group_add", "group_leave",
         "group_members", "typing", "receipt", "media_url", "upload",
         # protocol 2
         "hello", "edit", "recall", "block", "unblock", "blocks", "group_remove", "group_role", "group_transfer"]

nasty_text = st.one_of(
    st.text(max_size=20),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), st.sampled_from(["\ud800", "\udfff", "\x00", "\n"]),
              st.text(max_size=5)),
)
junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63, max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), nasty_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=12)
deep = st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n)

cmid = st.text(alphabet="abc123-:", min_size=1, max_size=8)
VALID = {   # per frame type, its fields with valid values: the base each example mutates
    "send": {"client_msg_id": cmid, "to": st.sampled_from(["bob", "zed"]), "body": st.text(max_size=30)},
    "sync": {"conv": st.sampled_from(["d:bob:mallory", "GROUP"]), "after_seq": st.integers(0, 50),
             "limit": st.integers(1, 500)},
    "inbox": {}, "ping": {},
    "group_create": {"name": st.text(max_size=10), "members": st.lists(st.sampled_from(USERS[:4]), max_size=4),
                     "public": st.booleans()},
    "group_join": {"conv": st.sampled_from(CONVS)}, "group_leave": {"conv": st.sampled_from(CONVS)},
    "group_members": {"conv": st.sampled_from(CONVS)}, "typing": {"conv": st.sampled_from(CONVS)},
    "group_add": {"conv": st.just("GROUP"), "user": st.sampled_from(USERS)},
    "receipt": {"conv": st.sampled_from(["d:bob:mallory", "GROUP"]), "seq": st.integers(1, 50),
                "kind": st.sampled_from(["read", "delivered"])},
    "media_url": {"key": st.just("mallory/0123456789abcdef0123456789abcdef")},
    "upload": {"content_type": st.just("image/png"), "size_bytes": st.integers(1, 1000)},
    "hello": {"protocol": st.integers(1, 3), "device_id": st.sampled_from(["phone", "laptop-2", "x:y"])},
    "edit": {"client_msg_id": cmid, "conv": st.sampled_from(["d:bob:mallory", "GROUP"]), "seq": st.integers(1, 50),
             "body": st.text(min_size=1, max_size=30)},
    "recall": {"client_msg_id": cmid, "conv": st.sampled_from(["d:bob:mallory", "GROUP"]),
               "seq": st.integers(1, 50)},
    "block": {"user": st.sampled_from(USERS)}, "unblock": {"user": st.sampled_from(USERS)}, "blocks": {},
    "group_remove": {"conv": st.just("GROUP"), "user": st.sampled_from(USERS)},
    "group_role": {"conv": st.just("GROUP"), "user": st.sampled_from(USERS),
                   "role": st.sampled_from(["admin", "member"])},
    "group_transfer": {"conv": st.just("GROUP"), "user": st.sampled_from(USERS)},
}
assert sorted(VALID) == sorted(TYPES)
FIELDS = {
    "ref": st.one_of(nasty_text, st.integers(-5, 10**6), st.text(min_size=65, max_size=70)),
    "client_msg_id": cmid, "to": st.sampled_from(USERS), "conv": st.sampled_from(CONVS),
    "body": nasty_text, "name": nasty_text, "media": st.sampled_from(["mallory/0123456789abcdef0123456789abcdef",
                                                                       "alice/x", "mallory/../../etc"]),
    "after_seq": st.integers(-1, 2**63), "limit": st.integers(-1, 600), "members": st.lists(nasty_text, max_size=3),
    "public": st.booleans(), "user": st.sampled_from(USERS), "seq": st.integers(-1, 2**63),
    "kind": st.sampled_from(["read", "delivered", "seen"]), "key": nasty_text,
    "content_type": st.sampled_from(["image/png", "text/plain\n", "x"]), "size_bytes": st.integers(-1, 10**8),
    "role": st.sampled_from(["owner", "admin", "member", "Admin", ""]), "protocol": st.integers(-1, 2**63),
    "device_id": st.one_of(nasty_text, st.sampled_from(["phone", "phone\n", "a" * 65])),
}


@st.composite
def frames(draw):
    """A valid frame of some type with up to three fields replaced (by junk, nasty text, other values)."""
    ftype = draw(st.sampled_from(sorted(VALID)))
    frame = {"type": ftype, **{name: draw(strategy) for name, strategy in VALID[ftype].items()}}
    if draw(st.booleans()):
        frame["ref"] = draw(FIELDS["ref"])
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS) + ["type"]), max_size=3, unique=True)):
        frame[name] = draw(st.one_of(junk, FIELDS.get(name, junk)))
    text = json.dumps(frame, allow_nan=True)       # ensure_ascii: lone surrogates become \udxxx
    how = draw(st.sampled_from(["plain"] * 6 + ["truncate", "insert", "deep"]))
    if how == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    elif how == "insert":
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["\\", '"', "{", "\n", "\\ud800", "NaN", "é", "\x00"])) + text[i:]
    elif how == "deep":
        text = text[:-1] + ',"x":' + draw(deep) + "}"
    return text


class Harness:
    """A node, a fuzzing connection (mallory) and a bystander pair, all on one background loop."""

    def __init__(self, tmp_path, database_url: str):
        self.database_url = database_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tmp_path = tmp_path
        self.probe = itertools.count()
        self.acked: dict[tuple, tuple] = {}        # (user, client_msg_id) -> (conv, seq)
        self.call(self._start())

    def call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self):
        cfg = make_config(self.tmp_path, database_url=self.database_url,
                          conn_rate_msgs_per_s=100000, conn_rate_burst_msgs=100000,
                          user_rate_msgs_per_s=100000, user_rate_burst_msgs=100000, max_connections_per_user=50,
                          group_commit_delay_ms=3,   # the bystander's send shares mallory's batch
                          # no keepalive pings while examples are drawn: websockets draws ping payloads from the
                          # global `random`, which Hypothesis reports as a strategy using `random`
                          ping_interval_s=3600, ping_timeout_s=3600)
        self.node = Node(cfg)
        await self.node.start()
        self.url = f"ws://127.0.0.1:{self.node.port}/ws"
        self.alice = await ImClient.connect(self.url, token("alice"), ping_interval=None)
        self.bob = await ImClient.connect(self.url, token("bob"), ping_interval=None)
        self.mallory = await ImClient.connect(self.url, token("mallory"), ping_interval=None)
        group = await self.mallory.request({"type": "group_create", "name": "m", "members": ["zed"]})
        self.group = group["conv"]

    async def _one(self, text: str):
        n = next(self.probe)
        if self.mallory.closed.is_set():    # an earlier (failing) example killed it: start clean
            self.mallory = await ImClient.connect(self.url, token("mallory"), ping_interval=None)
        m = self.mallory
        replies = []
        m.pushed = asyncio.Queue()          # replies without a pending ref land here
        await m.ws.send(text.replace('"GROUP"', json.dumps(self.group)))
        bystander = asyncio.ensure_future(self.alice.send(f"hi {n}", to="bob", client_msg_id=f"by-{n}"))
        try:
            pong = await asyncio.wait_for(m.submit({"type": "ping", "ref": f"probe-{n}"}), 10)
        except ConnectionError:
            rcvd = m.ws.close_rcvd
            raise AssertionError(f"connection closed ({rcvd.code if rcvd else 'no close frame'}) "
                                 f"after {text[:200]!r}") from None
        assert pong["type"] == "pong", pong
        while not m.pushed.empty():
            replies.append(m.pushed.get_nowait())
        ack = await asyncio.wait_for(bystander, 10)
        assert ack["type"] == "ack", ack
        self.acked[("alice", ack["client_msg_id"])] = (ack["conv"], ack["seq"])
        for r in replies:
            # nothing here makes the database fail, so "unavailable" would mean a poisoned batch
            assert not (r.get("type") == "error" and r.get("code") in ("internal", "unavailable")), (text, r)
            if r.get("type") == "ack":
                key = ("mallory", r["client_msg_id"])
                assert self.acked.setdefault(key, (r["conv"], r["seq"])) == (r["conv"], r["seq"]), (text, r)
        assert not m.closed.is_set(), f"connection dropped after {text[:200]!r}"

    async def _check_stored(self):
        readers = {"alice": self.alice, "mallory": self.mallory}
        by_conv: dict[str, list] = {}
        for (user, cmid), (conv, seq) in self.acked.items():
            by_conv.setdefault((user, conv), []).append((cmid, seq))
        for (user, conv), items in by_conv.items():
            msgs = await readers[user].sync_all(conv)
            seqs, recalled = {}, set()
            for msg in msgs:
                if msg.get("deleted"):     # recalled (or an edit of a recalled message): a tombstone at its seq
                    recalled.add(msg["seq"])
                elif msg["from"] == user:
                    assert msg["client_msg_id"] not in seqs, f"{msg['client_msg_id']} stored twice"
                    seqs[msg["client_msg_id"]] = msg["seq"]
            for cmid, seq in items:
                assert seqs.get(cmid) == seq or seq in recalled, (conv, cmid, seq, seqs.get(cmid))
        metrics = self.node.metrics.render()
        assert 'code="internal"' not in metrics

    async def _stop(self):
        for c in (self.alice, self.bob, self.mallory):
            await c.close()
        await self.node.shutdown()

    def close(self):
        try:
            self.call(self._check_stored(), timeout=60)
        finally:
            self.call(self._stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def harness(request, tmp_path_factory):
    """One node per backend for all examples (PostgreSQL: a database of its own, dropped after)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        h = Harness(tmp, f"sqlite:///{tmp}/im.db")
        yield h
        h.close()
        return
    import uuid
    admin = request.getfixturevalue("pg_admin_dsn")
    name = "imserver_fuzz_" + uuid.uuid4().hex[:12]
    asyncio.run(_pg_admin(admin, f"CREATE DATABASE {name}"))
    try:
        h = Harness(tmp, f"{admin.rsplit('/', 1)[0]}/{name}")
        yield h
        h.close()
    finally:
        asyncio.run(_pg_admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@settings(max_examples=1000, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(text=frames())
def test_fuzzed_frames_hurt_nobody(harness, text):
    harness.call(harness._one(text))
