"""Two nodes whose Redis is found through Sentinels: the master dies, the Sentinels promote the replica and
both nodes reconnect to it by themselves (the deployment's witness is the third Sentinel vote). Run in the clear
and with TLS only (Redis, replication and Sentinels on TLS ports, imserver verifying against a CA)."""
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
    def __init__(self, args: list[str], port: int, tls: dict):
        self.port = port
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port, password=PASSWORD, socket_connect_timeout=0.2,
                             **_client_tls(tls))
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


def _make_tls(tmp_path) -> dict:
    """A CA and a certificate for 127.0.0.1 signed by it (openssl), as the bundle's deployment CA makes them."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", "/CN=test CA", "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=host",
        "-keyout", "host.key", "-out", "host.csr")
    (tmp_path / "host.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    run("x509", "-req", "-in", "host.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "host.ext", "-out", "host.crt")
    return {"ca": str(tmp_path / "ca.crt"), "crt": str(tmp_path / "host.crt"), "key": str(tmp_path / "host.key")}


def _client_tls(tls: dict) -> dict:
    return {"ssl": True, "ssl_ca_certs": tls["ca"], "ssl_cert_reqs": "required"} if tls else {}


def _server_tls(tls: dict, port: int) -> list[str]:
    """redis.conf lines: TLS only on `port` (as the bundle's redis.conf.j2 writes them)."""
    if not tls:
        return [f"port {port}"]
    return ["port 0", f"tls-port {port}", f"tls-cert-file {tls['crt']}", f"tls-key-file {tls['key']}",
            f"tls-ca-cert-file {tls['ca']}", "tls-auth-clients no", "tls-replication yes"]


def _redis(tmp_path, port: int, tls: dict, replica_of: int | None = None) -> Proc:
    lines = ["bind 127.0.0.1", *_server_tls(tls, port), 'save ""', "appendonly no", f"requirepass {PASSWORD}",
             f"masterauth {PASSWORD}", "loglevel warning"]
    if replica_of:
        lines.append(f"replicaof 127.0.0.1 {replica_of}")
    conf = tmp_path / f"redis-{port}.conf"
    conf.write_text("\n".join(lines) + "\n")
    return Proc(["redis-server", str(conf)], port, tls)


def _sentinel(tmp_path, port: int, master_port: int, tls: dict) -> Proc:
    conf = tmp_path / f"sentinel-{port}.conf"       # Sentinel rewrites its file: one each, writable
    conf.write_text("\n".join(["bind 127.0.0.1", *_server_tls(tls, port), f"requirepass {PASSWORD}",
                               f"dir {tmp_path}", f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 2",
                               f"sentinel auth-pass {MASTER} {PASSWORD}",
                               f"sentinel down-after-milliseconds {MASTER} 1000",
                               f"sentinel failover-timeout {MASTER} 10000"]) + "\n")
    return Proc(["redis-server", str(conf), "--sentinel"], port, tls)


@pytest.fixture(params=[False, True], ids=["plain", "tls"])
def sentinel_stack(request, tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    tls = _make_tls(tmp_path) if request.param else {}
    procs = []
    try:
        master = _redis(tmp_path, free_port(), tls)
        procs.append(master)
        replica = _redis(tmp_path, free_port(), tls, replica_of=master.port)
        procs.append(replica)
        for _ in range(3):
            procs.append(_sentinel(tmp_path, free_port(), master.port, tls))
        yield master, replica, [p.port for p in procs[2:]], tls
    finally:
        for p in procs:
            p.stop()


def _master_port(sentinel_port: int, tls: dict) -> int:
    client = redis.Redis(host="127.0.0.1", port=sentinel_port, password=PASSWORD, decode_responses=True,
                         **_client_tls(tls))
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
    master, replica, sentinels, tls = sentinel_stack
    # with TLS (the bundle's rediss:// URL): Sentinels and master only speak TLS, verified against the CA
    url = (f"rediss://:{PASSWORD}@127.0.0.1:1/0?ssl_ca_certs={tls['ca']}&ssl_cert_reqs=required" if tls
           else f"redis://:{PASSWORD}@127.0.0.1:1/0")
    cfg = dict(database_url=pg_dsn, redis_url=url, redis_sentinel_master=MASTER,
               redis_sentinels=[f"127.0.0.1:{p}" for p in sentinels])
    a = await node_factory(**cfg)
    b = await node_factory(**cfg)
    alice = await client_factory(a, "alice")
    bob = await client_factory(b, "bob")
    assert await _delivered(alice, bob, "before failover", 10)
    master.stop()
    deadline = time.monotonic() + 30
    while _master_port(sentinels[0], tls) != replica.port:
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
