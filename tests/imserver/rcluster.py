"""A throwaway Redis Cluster on loopback: N masters (optionally one replica each) started with
``redis-server --cluster-enabled yes`` in a temporary directory and joined with ``redis-cli --cluster create``.

Used by the Redis Cluster tests and by bench/redis_cluster.py (both need the same real cluster)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def _free_port() -> int:
    # cluster bus port = port + 10000: keep both below 65536 and free
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    pass


class RedisCluster:
    def __init__(self, masters: int = 3, replicas: int = 0, timeout_s: float = 30):
        self.dir = Path(tempfile.mkdtemp(prefix="imserver-rcluster-"))
        self.ports = [_free_port() for _ in range(masters * (1 + replicas))]
        self.replicas = replicas
        self.timeout_s = timeout_s
        self.procs: dict[int, subprocess.Popen] = {}

    @property
    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{p}" for p in self.ports]

    def start(self) -> "RedisCluster":
        for port in self.ports:
            d = self.dir / str(port)
            d.mkdir()
            self.procs[port] = subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000", "--dir", str(d),
                 "--save", "", "--appendonly", "no", "--loglevel", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for port in self.ports:
            self._until(lambda: self._client(port).ping(), f"redis-server on {port}")
        subprocess.run(["redis-cli", "--cluster", "create", *self.nodes, "--cluster-replicas", str(self.replicas),
                        "--cluster-yes"], check=True, capture_output=True, timeout=self.timeout_s)
        for port in self.ports:
            self._until(lambda: self.info(port)["cluster_state"] == "ok", f"cluster_state:ok on {port}")
        if self.replicas:
            self._until(lambda: all(self._client(p).info("replication")["role"] == "master" or
                                    self._client(p).info("replication").get("master_link_status") == "up"
                                    for p in self.ports), "replicas in sync")
        return self

    def masters(self) -> list[int]:
        return [p for p in self.ports if p in self.procs and self._role(p) == "master"]

    def kill(self, port: int) -> None:
        """kill -9: the cluster notices after cluster-node-timeout and promotes the replica."""
        p = self.procs.pop(port)
        p.kill()
        p.wait(10)

    def stop(self) -> None:
        for p in self.procs.values():
            p.kill()
        for p in self.procs.values():
            p.wait(10)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def info(self, port: int) -> dict:
        return self._client(port).cluster("info")

    def _role(self, port: int) -> str:
        try:
            return self._client(port).info("replication")["role"]
        except redis.RedisError:
            return "down"

    @staticmethod
    def _client(port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=2,
                           decode_responses=True)

    def _until(self, check, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                if check():
                    return
            except (redis.RedisError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.05)
