"""Live fan-out of frames to users' connections: local (one node) or Redis pub/sub (many nodes).

Live fan-out is best effort; sync by cursor is the delivery guarantee.
"""
from __future__ import annotations


def open_fanout(redis_url: str, node_id: str, deliver_local, on_reconnect=None, metrics=None,
                sentinels=(), sentinel_master: str = ""):
    """sentinels: "host:port" strings of Redis Sentinels that name the master (see RedisFanout)."""
    if redis_url:
        from .redis import RedisFanout
        pairs = [(h.strip("[]"), int(p)) for h, _, p in (a.rpartition(":") for a in sentinels)]  # [v6]:port
        return RedisFanout(redis_url, node_id, deliver_local, on_reconnect=on_reconnect, metrics=metrics,
                           sentinels=pairs, sentinel_master=sentinel_master)
    from .local import LocalFanout
    return LocalFanout(deliver_local)
