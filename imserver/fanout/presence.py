"""Cluster-wide presence edges in Redis (single Redis, Sentinel master or Redis Cluster alike).

A user is online while some node holds a connection of theirs: ``imserver:p:{<user>}`` is a hash
of the node ids that do (one key, so one slot). A node reports "online" only when it is the first
live node in the hash and "offline" only when it leaves it empty, so a user connected to two nodes
does not flap when one connection closes. A node that dies without cleaning up would keep its
users online forever, so each node refreshes ``imserver:alive:{<node>}`` (expires after ALIVE_S)
and fields of nodes without it are ignored and removed.
"""
from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisClusterException, RedisError


log = logging.getLogger("imserver.fanout")

ALIVE_S = 30
REDIS_ERRORS = (RedisError, RedisClusterException, OSError)   # a cluster with no reachable node is not a RedisError


class SharedPresence:
    def __init__(self, client, node_id: str):
        self.client = client          # redis.asyncio Redis or RedisCluster
        self.node_id = node_id
        self._alive_key = self.alive_key(node_id)

    @staticmethod
    def alive_key(node_id: str) -> str:
        return "imserver:alive:{" + node_id + "}"

    async def heartbeat(self) -> None:
        """Keep this node's alive key (a task for the node's lifetime)."""
        while True:
            try:
                await self.client.set(self._alive_key, 1, ex=ALIVE_S)
            except REDIS_ERRORS:
                pass
            await asyncio.sleep(ALIVE_S / 3)

    async def leave(self) -> None:
        """At shutdown: this node no longer vouches for anyone."""
        try:
            await self.client.delete(self._alive_key)
        except REDIS_ERRORS:
            pass

    @staticmethod
    def presence_key(user: str) -> str:
        return "imserver:p:{" + user + "}"

    async def _alive(self, nodes) -> list[bool]:
        """Whether each of these nodes still refreshes its alive key."""
        return [bool(await self.client.exists(self.alive_key(n))) for n in nodes]

    async def online_anywhere(self, user: str) -> bool:
        """True when a live node holds a connection of ``user`` (False when Redis cannot tell)."""
        try:
            return any(await self._alive(_names(await self.client.hkeys(self.presence_key(user)))))
        except REDIS_ERRORS as exc:
            log.info("presence check failed", extra={"error": type(exc).__name__})
            return False

    async def edge(self, user: str, online: bool) -> bool:
        """Record this node gaining (or losing) its last connection of ``user``; True when that changes whether the
        user is online anywhere. Without Redis the node decides alone (True), as a single node does."""
        key = self.presence_key(user)
        try:
            pipe = self.client.pipeline(transaction=True)
            if online:
                pipe.hset(key, self.node_id, 1)
            else:
                pipe.hdel(key, self.node_id)
            pipe.hkeys(key)
            others = [n for n in _names((await pipe.execute())[1]) if n != self.node_id]
            if not others:
                return True
            alive = await self._alive(others)
            dead = [n for n, ok in zip(others, alive) if not ok]
            if dead:
                await self.client.hdel(key, *dead)
            return not any(alive)
        except REDIS_ERRORS as exc:
            log.info("presence check failed", extra={"error": type(exc).__name__})
            return True


def _names(raw) -> list[str]:
    """Hash field names as str (the client may return bytes)."""
    return [k.decode() if isinstance(k, bytes) else k for k in raw]
