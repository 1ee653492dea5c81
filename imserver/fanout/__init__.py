"""Live fan-out of frames to users' connections: local (one node) or Redis pub/sub (many nodes).

Live fan-out is best effort; sync by cursor is the delivery guarantee.
"""
from __future__ import annotations


def _pairs(addrs) -> list[tuple[str, int]]:
    return [(h.strip("[]"), int(p)) for h, _, p in (a.rpartition(":") for a in addrs)]  # host:port, [v6]:port


def open_fanout(redis_url: str, node_id: str, deliver_local, on_reconnect=None, metrics=None,
                sentinels=(), sentinel_master: str = "", cluster_nodes=()):
    """sentinels: "host:port" strings of Redis Sentinels that name the master (see RedisFanout);
    cluster_nodes: "host:port" startup nodes of a Redis Cluster (see RedisClusterFanout)."""
    if cluster_nodes:
        from .rcluster import RedisClusterFanout
        return RedisClusterFanout(_pairs(cluster_nodes), redis_url, node_id, deliver_local,
                                  on_reconnect=on_reconnect, metrics=metrics)
    if redis_url:
        from .redis import RedisFanout
        return RedisFanout(redis_url, node_id, deliver_local, on_reconnect=on_reconnect, metrics=metrics,
                           sentinels=_pairs(sentinels), sentinel_master=sentinel_master)
    from .local import LocalFanout
    return LocalFanout(deliver_local)
