"""Cross-node fan-out through Redis pub/sub, routed by user channel.

Each node subscribes to ``imserver:u:<user>`` for the users connected to it and publishes a
frame once per recipient user channel (pipelined, one round trip per batch).  A payload is
``<origin node id>\\n<frame text>``: the origin delivers to its own connections directly and
ignores its own echo.  If Redis goes away, publishes are dropped (counted) and the
subscriber reconnects with backoff, re-subscribes every local user and calls ``on_reconnect``
(the server then tells its clients to ``resync``): sync by cursor fills the gap.

With Redis Sentinels (``sentinels``: ``(host, port)`` pairs, ``sentinel_master``: the monitored name) every
connection asks the Sentinels for the current master, so after a failover the reconnect lands on the promoted
replica; the URL then supplies only the password and database.
"""
from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel

from .presence import REDIS_ERRORS, SharedPresence

log = logging.getLogger("imserver.fanout")

PREFIX = "imserver:u:"
MAX_OUTBOX = 200_000


def url_auth_tls(url: str) -> tuple[dict, dict]:
    """The credentials and the TLS options (rediss://, ?ssl_ca_certs=...) of a Redis URL, as client keywords."""
    if not url:
        return {}, {}
    parts = parse_url(url)
    auth = {k: v for k, v in parts.items() if k in ("username", "password")}
    tls = {k: v for k, v in parts.items() if k.startswith("ssl_")}
    if url.startswith("rediss://"):
        tls["ssl"] = True
    return auth, tls


class RedisFanout:
    # the commands and the channel naming that RedisClusterFanout replaces with their sharded variants
    PUBLISH, SUBSCRIBE, UNSUBSCRIBE, MESSAGE = "publish", "subscribe", "unsubscribe", "message"
    CHANNEL_OPEN, CHANNEL_CLOSE = PREFIX, ""

    def __init__(self, url: str, node_id: str, deliver_local, on_reconnect=None, metrics=None,
                 sentinels=(), sentinel_master: str = ""):
        self.url = url
        self._sentinel = None
        self._sentinel_master = sentinel_master
        if sentinels:
            auth, tls = url_auth_tls(url)   # TLS to the Sentinels and to the master they name alike
            self._sentinel = Sentinel(list(sentinels), sentinel_kwargs=dict(auth, socket_connect_timeout=2, **tls),
                                      db=parse_url(url).get("db", 0), **auth, **tls)
        self.node_id = node_id
        self.deliver_local = deliver_local
        self.on_reconnect = on_reconnect
        self.metrics = metrics
        self.users: set[str] = set()
        self._outbox: list[tuple[str, str]] = []
        self._wake = asyncio.Event()
        self._pub = None
        self._presence = None
        self._pubsub = None
        self._up = False
        self._tasks: list[asyncio.Task] = []
        self._closing = False
        self._prefix_len, self._suffix_len = len(self.CHANNEL_OPEN), len(self.CHANNEL_CLOSE)
        self._node_prefix = node_id + "\n"

    def _client(self, **timeouts):
        """A client of the current master: the URL's server, or the one the Sentinels name."""
        if self._sentinel is not None:
            return self._sentinel.master_for(self._sentinel_master, **timeouts)
        return aioredis.from_url(self.url, **timeouts)

    async def start(self) -> None:
        self._pub = self._client(socket_connect_timeout=2, socket_timeout=5)
        self._presence = SharedPresence(self._pub, self.node_id)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._subscriber(), name="imserver-redis-sub"),
                       loop.create_task(self._publisher(), name="imserver-redis-pub"),
                       loop.create_task(self._presence.heartbeat(), name="imserver-redis-alive")]
        for _ in range(100):      # wait briefly for the first subscription (readiness)
            if self._up:
                break
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._presence is not None:
            await self._presence.leave()
        self._closing = True
        self._wake.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        for client in (self._pubsub, self._pub):
            if client is not None:
                try:
                    await client.aclose()
                except Exception:
                    pass

    def healthy(self) -> bool:
        return self._up

    async def presence_edge(self, user: str, online: bool) -> bool:
        """True when the user came online on the first node, or went offline from the last (see SharedPresence)."""
        return await self._presence.edge(user, online)

    async def online_anywhere(self, user: str) -> bool:
        """True when some live node holds a connection of the user (SharedPresence)."""
        return await self._presence.online_anywhere(user)

    # ---- publish (best effort) -----------------------------------------------------------
    def publish(self, users, text: str, exclude=None) -> None:
        self.deliver_local(users, text, exclude)
        if len(self._outbox) > MAX_OUTBOX:
            if self.metrics:
                self.metrics.inc("imserver_fanout_publish_errors_total", len(users))
            return
        payload = self._node_prefix + text
        self._outbox.extend((self.channel(u), payload) for u in users)
        self._wake.set()

    async def _publisher(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch, self._outbox = self._outbox[:5000], self._outbox[5000:]
                try:
                    pipe = self._pub.pipeline(transaction=False)
                    publish = getattr(pipe, self.PUBLISH)
                    for channel, payload in batch:
                        publish(channel, payload)
                    await pipe.execute()
                except REDIS_ERRORS as exc:
                    if self.metrics:
                        self.metrics.inc("imserver_fanout_publish_errors_total", len(batch))
                    log.warning("redis publish failed", extra={"error": type(exc).__name__, "dropped": len(batch)})
                    await asyncio.sleep(0.2)

    # ---- subscribe -----------------------------------------------------------------------
    def subscribe(self, user: str) -> None:
        self.users.add(user)
        if self._up and self._pubsub is not None:
            asyncio.get_running_loop().create_task(self._safe(getattr(self._pubsub, self.SUBSCRIBE)(self.channel(user))))

    def unsubscribe(self, user: str) -> None:
        self.users.discard(user)
        if self._up and self._pubsub is not None:
            asyncio.get_running_loop().create_task(self._safe(getattr(self._pubsub, self.UNSUBSCRIBE)(self.channel(user))))

    def channel(self, user: str) -> str:
        return self.CHANNEL_OPEN + user + self.CHANNEL_CLOSE

    async def _subscribe_all(self, client):
        """A pubsub on the node's own channel (never empty: reads block instead of spinning) and every local user's."""
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe("imserver:node:" + self.node_id)
        users = list(self.users)
        for i in range(0, len(users), 1000):
            await pubsub.subscribe(*[self.channel(u) for u in users[i:i + 1000]])
        return pubsub

    async def _next_message(self, pubsub):
        return await pubsub.get_message(timeout=1.0)

    @staticmethod
    async def _safe(coro) -> None:
        try:
            await coro
        except REDIS_ERRORS:
            pass   # the subscriber loop re-subscribes everything after reconnecting

    async def _subscriber(self) -> None:
        backoff = 0.1
        first = True
        while not self._closing:
            client = None
            try:
                client = self._client(socket_connect_timeout=2)
                pubsub = await self._subscribe_all(client)
                self._pubsub = pubsub
                self._up = True
                backoff = 0.1
                if not first:
                    log.info("redis reconnected", extra={"users": len(self.users)})
                    if self.on_reconnect is not None:
                        self.on_reconnect()
                first = False
                while not self._closing:
                    msg = await self._next_message(pubsub)
                    if msg is None or msg.get("type") != self.MESSAGE:
                        continue
                    data = msg["data"].decode() if isinstance(msg["data"], bytes) else msg["data"]
                    origin, _, text = data.partition("\n")
                    if origin == self.node_id:
                        continue
                    channel = msg["channel"]
                    channel = channel.decode() if isinstance(channel, bytes) else channel
                    self.deliver_local((channel[self._prefix_len:len(channel) - self._suffix_len],), text, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # RedisError, OSError, protocol errors after a restart
                if self._up:
                    log.warning("redis connection lost", extra={"error": type(exc).__name__})
                self._up = False
                stale, self._pubsub = self._pubsub, None
                if stale is not None:
                    await self._safe(stale.aclose())
                first = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                if client is not None and not self._up:
                    try:
                        await client.aclose()
                    except Exception:
                        pass
