"""Fixtures for imserver tests: real nodes on loopback (port 0), real websocket clients.

PostgreSQL / Redis come from IMPLAN_TEST_PG_DSN / IMPLAN_TEST_REDIS_URL (set by .ci/run).
When absent, throwaway instances are started here (initdb/pg_ctl via runuser, redis-server)
if the binaries exist; otherwise the tests that need them are skipped with the reason.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from imserver import auth
from imserver.client import ImClient
from imserver.config import Config

SECRET = "test-secret-not-for-production"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token(user: str, ttl_s: int = 3600) -> str:
    return auth.make_token(user, SECRET, ttl_s=ttl_s)


# ---- throwaway services ---------------------------------------------------------------------
class RedisProc:
    """A redis-server of our own on a free port (also used to test Redis restarts)."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisProc":
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--loglevel", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def redis_proc_factory():
    """Own redis-server processes (on free ports) that a test may stop and restart."""
    procs = []

    def make():
        if not shutil.which("redis-server"):
            pytest.skip("redis-server not installed (needed to restart Redis under load)")
        p = RedisProc().start()
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.stop()


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("IMPLAN_TEST_REDIS_URL")
    if url:
        yield url
        return
    if not shutil.which("redis-server"):
        pytest.skip("IMPLAN_TEST_REDIS_URL not set and redis-server not installed")
    r = RedisProc().start()
    try:
        yield r.url
    finally:
        r.stop()


class PgCluster:
    """A PostgreSQL 15 cluster of our own (initdb/pg_ctl as the postgres user) on a free loopback port, which a test
    may kill -9 and restart; ``replica_of`` makes it a streaming replica (pg_basebackup -R) of another cluster."""

    def __init__(self, root: Path, name: str = "pg"):
        self.dir = root / name
        self.data = self.dir / "data"
        self.port = free_port()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def available() -> bool:
        return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None

    @staticmethod
    def _run(*args) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    def _mkdir(self) -> None:
        self.dir.mkdir(parents=True)
        for d in (self.dir.parent, self.dir):
            shutil.chown(d, "postgres")
            d.chmod(0o755)

    def init(self) -> "PgCluster":
        self._mkdir()
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        return self

    def replica_of(self, primary: "PgCluster", apply_delay_s: float = 0) -> "PgCluster":
        self._mkdir()
        self._run(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                  "-D", str(self.data), "-R", "-X", "stream")
        if apply_delay_s:
            with open(self.data / "postgresql.auto.conf", "a") as fh:
                fh.write(f"recovery_min_apply_delay = '{int(apply_delay_s * 1000)}ms'\n")
        return self

    def start(self) -> "PgCluster":
        """Start (after a kill -9, retried while the dead postmaster's backends are still exiting)."""
        for attempt in range(20):
            try:
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-o",
                          f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}", "-w", "start")
                return self
            except subprocess.CalledProcessError:
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def kill9(self) -> None:
        """A crash: SIGKILL to the postmaster (its backends exit when they see it gone)."""
        os.kill(int((self.data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                        "immediate", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


@pytest.fixture
def pg_cluster_factory():
    """make(name) → an unstarted PgCluster of this test (stopped at teardown); under /tmp, which the postgres user
    can traverse (pytest's tmp_path may not be)."""
    if not PgCluster.available():
        pytest.skip("PostgreSQL 15 binaries not installed (needed for clusters of the test's own)")
    root = Path(tempfile.mkdtemp(prefix="imserver-pgc-"))
    clusters = []

    def make(name: str) -> PgCluster:
        c = PgCluster(root, name)
        clusters.append(c)
        return c

    yield make
    for c in clusters:
        c.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_dsn():
    dsn = os.environ.get("IMPLAN_TEST_PG_DSN")
    if dsn:
        yield dsn
        return
    if not PgCluster.available():
        pytest.skip("IMPLAN_TEST_PG_DSN not set and PostgreSQL 15 binaries not installed")
    root = Path(tempfile.mkdtemp(prefix="imserver-pg-"))
    cluster = PgCluster(root).init().start()
    try:
        yield cluster.dsn
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _pg_admin(dsn: str, sql: str) -> None:
    import asyncpg
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_databases(pg_admin_dsn):
    """make() → the DSN of a fresh database; all are dropped afterwards."""
    names = []
    base = pg_admin_dsn.rsplit("/", 1)[0]

    async def make() -> str:
        name = "imserver_test_" + uuid.uuid4().hex[:12]
        await _pg_admin(pg_admin_dsn, f"CREATE DATABASE {name}")
        names.append(name)
        return f"{base}/{name}"

    yield make
    for name in names:
        await _pg_admin(pg_admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def pg_dsn(pg_databases):
    """A fresh database per test, dropped afterwards."""
    return await pg_databases()


@pytest.fixture
async def pg_shard_dsns(pg_databases):
    """Two fresh databases: the primaries of two shards."""
    return [await pg_databases(), await pg_databases()]


def _database_url(request, tmp_path, kind: str) -> str:
    return f"sqlite:///{tmp_path}/im.db" if kind == "sqlite" else request.getfixturevalue("pg_dsn")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    return _database_url(request, tmp_path, request.param)


@pytest.fixture(params=["sqlite", "postgresql", "pg-shards"])
def storage(request, tmp_path):
    """A node's storage settings: SQLite, one PostgreSQL database, or conversations over two PostgreSQL shards."""
    if request.param == "pg-shards":
        return {"database_shards": request.getfixturevalue("pg_shard_dsns")}
    return {"database_url": _database_url(request, tmp_path, request.param)}


@pytest.fixture
def moto_s3():
    """A moto S3 server on loopback with bucket "media": (boto3 client, the node config pointing at it)."""
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="AKIDTEST", aws_secret_access_key="secretTEST")
        s3.create_bucket(Bucket="media")
        yield s3, dict(media_backend="s3", s3_endpoint_url=endpoint, s3_bucket="media", s3_access_key_id="AKIDTEST",
                       s3_secret_access_key="secretTEST")
    finally:
        server.stop()


# ---- nodes and clients ----------------------------------------------------------------------
def make_config(tmp_path, **overrides) -> Config:
    values = dict(listen_port=0, media_port=0, data_dir=str(tmp_path / "data"), jwt_secret=SECRET,
                  ping_interval_s=5, ping_timeout_s=5, drain_timeout_s=5, drain_grace_s=0)
    values.update(overrides)
    cfg = Config(**values)
    cfg.validate()
    return cfg


@pytest.fixture
async def node_factory(tmp_path):
    """start(**config) → a running in-process Node; all are drained at teardown."""
    from imserver.server import Node
    nodes = []

    async def start(**overrides):
        node = Node(make_config(tmp_path, **overrides))
        await node.start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        await node.shutdown()


@pytest.fixture
async def node(node_factory, storage):
    return await node_factory(**storage)


@pytest.fixture
def secret():
    return SECRET


@pytest.fixture
def mint():
    """mint(user, ttl_s=3600) → a token signed with the test secret."""
    return token


@pytest.fixture
async def client_factory():
    clients = []

    async def connect(node_or_url, user: str, **kw) -> ImClient:
        url = node_or_url if isinstance(node_or_url, str) else f"ws://127.0.0.1:{node_or_url.port}/ws"
        c = await ImClient.connect(url, token(user), **kw)
        clients.append(c)
        return c

    yield connect
    for c in clients:
        try:
            await asyncio.wait_for(c.close(), 5)
        except Exception:
            pass
