"""Two nodes whose Redis is found through Sentinels: the master dies, the Sentinels promote the replica and
both nodes reconnect to it by themselves (the deployment's witness is the third Sentinel vote)."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest
import redis

from imserver.config import Config, ConfigError
from conftest import free_port

PASSWORD = "sentinel-test-password"
MASTER = "implan"


class Proc:
    def __init__(self, args: list[str], port: int):
        self.port = port
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=port, password=PASSWORD, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{args[0]} on {port} did not start")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _redis(port: int, replica_of: int | None = None) -> Proc:
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
            "--requirepass", PASSWORD, "--masterauth", PASSWORD, "--loglevel", "warning"]
    if replica_of:
        args += ["--replicaof", "127.0.0.1", str(replica_of)]
    return Proc(args, port)


def _sentinel(tmp_path, port: int, master_port: int) -> Proc:
    conf = tmp_path / f"sentinel-{port}.conf"       # Sentinel rewrites its file: one each, writable
    conf.write_text(f"bind 127.0.0.1\nport {port}\nrequirepass {PASSWORD}\ndir {tmp_path}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n"
                    f"sentinel auth-pass {MASTER} {PASSWORD}\n"
                    f"sentinel down-after-milliseconds {MASTER} 1000\n"
                    f"sentinel failover-timeout {MASTER} 10000\n")
    return Proc(["redis-server", str(conf), "--sentinel"], port)


@pytest.fixture
def sentinel_stack(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    procs = []
    try:
        master = _redis(free_port())
        procs.append(master)
        replica = _redis(free_port(), replica_of=master.port)
        procs.append(replica)
        for _ in range(3):
            procs.append(_sentinel(tmp_path, free_port(), master.port))
        yield master, replica, [p.port for p in procs[2:]]
    finally:
        for p in procs:
            p.stop()


def _master_port(sentinel_port: int) -> int:
    client = redis.Redis(port=sentinel_port, password=PASSWORD, decode_responses=True)
    return int(client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)[1])


async def _delivered(sender, receiver, body: str, timeout: float) -> bool:
    """Send until a live push arrives (publishes are dropped while no master is reachable)."""
    deadline, attempt = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        attempt += 1
        await sender.send(body, to="bob", client_msg_id=f"{body.replace(' ', '-')}-{attempt}")
        try:
            if (await receiver.next_push("msg", timeout=1))["body"] == body:
                return True
        except TimeoutError:
            pass
    return False


async def test_nodes_follow_the_master_the_sentinels_promote(node_factory, client_factory, pg_dsn, sentinel_stack):
    master, replica, sentinels = sentinel_stack
    cfg = dict(database_url=pg_dsn, redis_url=f"redis://:{PASSWORD}@127.0.0.1:1/0", redis_sentinel_master=MASTER,
               redis_sentinels=[f"127.0.0.1:{p}" for p in sentinels])
    a = await node_factory(**cfg)
    b = await node_factory(**cfg)
    alice = await client_factory(a, "alice")
    bob = await client_factory(b, "bob")
    assert await _delivered(alice, bob, "before failover", 10)
    master.stop()
    deadline = time.monotonic() + 30
    while _master_port(sentinels[0]) != replica.port:
        assert time.monotonic() < deadline, "the Sentinels did not promote the replica"
        await asyncio.sleep(0.2)
    assert await _delivered(alice, bob, "after failover", 20)
    assert a.fanout.healthy() and b.fanout.healthy()


@pytest.mark.parametrize("fields,needle", [
    ({"redis_sentinels": ["h:26379"], "redis_url": "redis://h:6379/0"}, "redis_sentinel_master"),
    ({"redis_sentinels": ["h:26379"], "redis_sentinel_master": "m"}, "redis_url"),
    ({"redis_sentinels": ["h"], "redis_sentinel_master": "m", "redis_url": "redis://h:6379/0"}, "HOST:PORT"),
])
def test_sentinel_settings_are_checked(fields, needle):
    with pytest.raises(ConfigError, match=needle):
        Config(**fields).validate()
