"""Cross-node fan-out through Redis Cluster sharded pub/sub (SPUBLISH / SSUBSCRIBE, Redis >= 7.0).

Same design as RedisFanout (one channel per user, origin-prefixed payloads, drop-and-resync on
outages), with channels ``imserver:u:{<user>}``: the hash tag is the user id, so users spread over
all 16384 slots and thus over every master, and a frame crosses only the shard owning the
recipient's slot. (A per-conversation channel would make every node subscribe to every
conversation of every local user.)

Publishing goes through redis-py's RedisCluster (a pipeline routed by slot). Subscribing does not
use redis-py's ClusterPubSub: its single reader polls the masters in turn and holds a master's lock
while polling it, so a push waits for its master's turn and an SSUBSCRIBE for the poll to end
(hundreds of milliseconds, enough to miss the first message after a connect). Instead each master
gets its own pub/sub connection and reader task, routed by the cluster client's slot map. Any sign
that the map is stale or a master is gone — a connection error, a MOVED reply to SSUBSCRIBE, or a
SUNSUBSCRIBE the server sends because the slot moved (failover, resharding) — makes the subscriber
start over: reload the slot map, subscribe every local user on the current owners, then
``on_reconnect`` tells clients to resync (frames published meanwhile are gone, as with a single
Redis restart).
"""
from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from .redis import PREFIX, RedisFanout, url_auth_tls


class RedisClusterFanout(RedisFanout):
    PUBLISH, SUBSCRIBE, UNSUBSCRIBE, MESSAGE = "spublish", "ssubscribe", "sunsubscribe", "smessage"
    CHANNEL_OPEN, CHANNEL_CLOSE = PREFIX + "{", "}"

    def __init__(self, nodes, url: str, node_id: str, deliver_local, on_reconnect=None, metrics=None):
        """nodes: startup ``(host, port)`` pairs; url: "" or a host-less redis(s):// URL for password and TLS."""
        super().__init__(url, node_id, deliver_local, on_reconnect=on_reconnect, metrics=metrics)
        self._nodes = [ClusterNode(h, p) for h, p in nodes]
        self._auth, self._tls = url_auth_tls(url)

    def _client(self, **timeouts):
        return RedisCluster(startup_nodes=self._nodes, **self._auth, **self._tls, **timeouts)

    async def _subscribe_all(self, client):
        await client.initialize()
        sub = ShardedSubscriber(client, self._wants,
                                dict(self._auth, **self._tls, socket_connect_timeout=2))
        try:
            await sub.ssubscribe(*self._node_channels(client), *[self.channel(u) for u in list(self.users)])
            sub.raise_pending()
        except BaseException:
            await sub.aclose()
            raise
        return sub

    def _wants(self, channel: str) -> bool:
        """The channel is this node's own or a connected user's (so a SUNSUBSCRIBE from the server is a move)."""
        user = channel[self._prefix_len:len(channel) - self._suffix_len]
        return user in self.users or user.startswith(f"node:{self.node_id}:")

    def _node_channels(self, client) -> list[str]:
        """One channel of this node's own on every master: every master's connection is open (and read) before
        any user subscribes, so a user's SSUBSCRIBE is one round trip, never a connect as well."""
        wanted = {n.name for n in client.get_primaries()}
        channels, i = [], 0
        while wanted:
            channel = self.channel(f"node:{self.node_id}:{i}")
            owner = client.get_node_from_key(channel).name
            if owner in wanted:
                wanted.discard(owner)
                channels.append(channel)
            i += 1
        return channels

    async def _next_message(self, pubsub):
        return await pubsub.get_message(timeout=1.0)


class ShardedSubscriber:
    """SSUBSCRIBE on one pub/sub connection per slot owner, read by one task each into one queue.

    ``get_message`` raises the first failure of any master (the caller starts over on a fresh slot map)."""

    def __init__(self, cluster: RedisCluster, wanted, conn_kwargs: dict):
        self.cluster = cluster
        self.wanted = wanted                   # wanted(channel): still subscribed by us
        self.conn_kwargs = conn_kwargs
        self.pubsubs: dict[str, aioredis.client.PubSub] = {}
        self.readers: dict = {}                # pubsub -> its reader task
        self.queue: asyncio.Queue = asyncio.Queue()
        self.failure: BaseException | None = None

    def _owner(self, channel: str):
        node = self.cluster.get_node_from_key(channel)
        pubsub = self.pubsubs.get(node.name)
        if pubsub is None:
            client = aioredis.Redis(host=node.host, port=node.port, **self.conn_kwargs)
            pubsub = self.pubsubs[node.name] = client.pubsub()
            pubsub.imserver_client = client
        return pubsub

    async def ssubscribe(self, *channels: str) -> None:
        await self._each(channels, "ssubscribe")

    async def sunsubscribe(self, *channels: str) -> None:
        await self._each(channels, "sunsubscribe")

    async def _each(self, channels, command: str) -> None:
        by_owner: dict = {}
        for channel in channels:
            by_owner.setdefault(self._owner(channel), []).append(channel)
        try:
            for pubsub, chans in by_owner.items():
                for channel in chans:          # one slot per SSUBSCRIBE (several would be CROSSSLOT)
                    await getattr(pubsub, command)(channel)
                if pubsub not in self.readers:     # a pub/sub connection exists once something was subscribed
                    self.readers[pubsub] = asyncio.get_running_loop().create_task(self._read(pubsub),
                                                                                  name="imserver-redis-shard")
        except Exception as exc:              # MOVED (a stale slot map), a dead master: start over
            self._fail(exc)
            raise

    async def _read(self, pubsub) -> None:
        try:
            while True:
                msg = await pubsub.get_message(timeout=1.0)
                if msg is None:
                    continue
                if msg["type"] == "sunsubscribe":
                    channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                    if self.wanted(channel):
                        raise ConnectionError(f"slot of {channel} moved")
                elif msg["type"] == "smessage":
                    self.queue.put_nowait(msg)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
            self.queue.put_nowait(None)        # wakes get_message

    def raise_pending(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def get_message(self, timeout: float):
        self.raise_pending()
        try:
            msg = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        self.raise_pending()
        return msg

    async def aclose(self) -> None:
        for t in self.readers.values():
            t.cancel()
        for pubsub in self.pubsubs.values():
            try:
                await pubsub.aclose()
                await pubsub.imserver_client.aclose()
            except Exception:
                pass
        await self.cluster.aclose()
