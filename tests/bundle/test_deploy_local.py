"""A real deployment: the generated Ansible configures this machine and a client chats through the load balancer.

The bundle of the tiny private plan is rendered with the project's wheel, then `ansible-playbook site.yml` runs
against `-i localhost, -c local` with everything under a temporary root and the start-stop-daemon service mode:
PostgreSQL (the role's own cluster, as the `postgres` user), Redis, two imserver nodes and HAProxy (TLS), each on
a free loopback port. Websocket clients connect through HAProxy until users sit on both nodes, then send each other
messages across the nodes (fan-out through Redis). A second run must report changed=0. The fixture stops every
process it started (by pidfile) and removes the root.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import load_fixture_plan
from tests.bundle.deploylib import (PG_BIN, PLAYBOOK_TIMEOUT_S, ansible_env, free_port, psql, recap, require_prereqs,
                                    stop_all)

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them

def _run_playbook(ansible_dir: Path, extra_vars: Path, log: Path) -> tuple[int, str]:
    """site.yml on this machine as the single host `localhost`, the host's variables from a file."""
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "site.yml",
                           "-e", f"@{extra_vars}"], cwd=ansible_dir, env=ansible_env(ansible_dir), capture_output=True,
                          text=True, timeout=PLAYBOOK_TIMEOUT_S)
    log.write_text(proc.stdout + proc.stderr)
    return proc.returncode, proc.stdout


@pytest.fixture(scope="module")
def deployment(wheel):
    require_prereqs("deployment test")
    base = Path(tempfile.mkdtemp(prefix="implan-deploy-"))
    root = base / "root"
    run_dir = root / "run" / "implan"
    try:
        base.chmod(0o755)                   # the postgres user must traverse it
        root.mkdir()
        bundle = base / "bundle"
        write_bundle(render_bundle(load_fixture_plan("plan-tiny.json"), "private", wheel=wheel), bundle)
        ports = {"imserver_port": free_port(2), "imserver_media_port": free_port(2), "imserver_admin_port": free_port(2),
                 "postgresql_port": free_port(), "redis_port": free_port(), "haproxy_https_port": free_port(),
                 "haproxy_http_port": free_port()}
        extra = {
            "ansible_python_interpreter": sys.executable,
            "implan_root": str(root), "implan_manage_system": False, "implan_become": False,
            "implan_service_manager": "start-stop-daemon", "implan_secrets_dir": str(base / "secrets"),
            "implan_address": "127.0.0.1", "implan_domain": "localhost",
            "implan_roles": ["postgresql", "redis", "imserver", "loadbalancer"],
            "node_exporter_enabled": False, "imserver_instances": 2, "imserver_python": sys.executable,
            "imserver_media_backend": "local", "postgresql_memory_mb": 1024,
            "postgresql_backup_repo_type": "posix", "postgresql_backup_repo_path": str(base / "backups"), "haproxy_bind_address": "127.0.0.1", "haproxy_maxconn": 4000,
            **ports,
        }
        vars_file = base / "vars.json"
        vars_file.write_text(json.dumps(extra, indent=1))
        rc, out1 = _run_playbook(bundle / "ansible", vars_file, base / "run1.log")
        assert rc == 0, f"first playbook run failed (log {base / 'run1.log'}):\n{out1[-4000:]}"
        yield {"base": base, "root": root, "bundle": bundle, "vars": extra, "vars_file": vars_file, "run1": out1}
    finally:
        stop_all(run_dir)
        if not os.environ.get("IMPLAN_KEEP_DEPLOY"):
            shutil.rmtree(base, ignore_errors=True)


def _token(root: Path, user: str) -> str:
    venv = root / "opt" / "implan" / "venv" / "bin" / "imserver"
    out = subprocess.run([str(venv), "token", user, "--config", str(root / "etc" / "implan" / "imserver-0.yaml")],
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip()


async def _chat(url: str, tokens: dict[str, str]) -> dict:
    from websockets.asyncio.client import connect

    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE           # the role's self-signed certificate
    conns, nodes = {}, {}
    for user, token in tokens.items():
        ws = await connect(url, ssl=tls, additional_headers={"Authorization": f"Bearer {token}"},
                           compression=None, open_timeout=10)
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "hello" and hello["user"] == user, hello
        conns[user], nodes[user] = ws, hello["node"]
    users = sorted(tokens)
    received: dict[str, list] = {u: [] for u in users}
    acks = []
    # every user sends one message to every user on the *other* node(s)
    pairs = [(a, b) for a in users for b in users if nodes[a] != nodes[b]]
    for i, (a, b) in enumerate(pairs):
        await conns[a].send(json.dumps({"type": "send", "client_msg_id": f"m{i}", "to": b, "body": f"{a}->{b}"}))
    deadline = time.monotonic() + 20
    expected = {b: sum(1 for _, x in pairs if x == b) for b in users}

    async def drain(user):
        ws = conns[user]
        while time.monotonic() < deadline:
            if len(received[user]) >= expected[user] and sum(1 for f in acks if f[0] == user) >= \
                    sum(1 for a, _ in pairs if a == user):
                return
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                return
            if frame["type"] == "msg":
                received[user].append(frame["body"])
            elif frame["type"] == "ack":
                acks.append((user, frame["seq"]))
            elif frame["type"] == "error":
                raise AssertionError(frame)

    await asyncio.gather(*(drain(u) for u in users))
    for ws in conns.values():
        await ws.close()
    return {"nodes": nodes, "pairs": pairs, "received": received, "acks": acks}


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name) and
               not line.startswith("#"))


def test_services_run_under_the_temporary_root(deployment):
    run_dir = deployment["root"] / "run" / "implan"
    names = sorted(p.stem for p in run_dir.glob("*.pid"))
    assert names == ["implan-haproxy", "implan-imserver-0", "implan-imserver-1", "implan-postgresql",
                     "implan-redis"]
    for pidfile in run_dir.glob("*.pid"):
        os.kill(int(pidfile.read_text().strip()), 0)      # alive
    assert (deployment["base"] / "secrets" / "jwt_secret").is_file()
    # no secret is written into the bundle
    secret = (deployment["base"] / "secrets" / "jwt_secret").read_text().split()[0]
    for path in deployment["bundle"].rglob("*"):
        if path.is_file() and path.suffix != ".whl":
            assert secret not in path.read_text(errors="replace"), path


def test_chat_through_the_load_balancer_across_both_nodes(deployment):
    v = deployment["vars"]
    tokens = {f"user{i}": _token(deployment["root"], f"user{i}") for i in range(6)}
    result = asyncio.run(_chat(f"wss://127.0.0.1:{v['haproxy_https_port']}/ws", tokens))
    assert len(set(result["nodes"].values())) == 2, f"users did not land on both nodes: {result['nodes']}"
    assert result["pairs"]
    assert len(result["acks"]) == len(result["pairs"])
    for a, b in result["pairs"]:
        assert f"{a}->{b}" in result["received"][b], (a, b, result["received"])
    # each node counted connections of its own: both took clients through HAProxy
    for i in range(2):
        assert _metric(v["imserver_port"] + i, "imserver_connections_total") >= 1
    # plain HTTP on the load balancer redirects to HTTPS; /healthz passes through
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    body = urllib.request.urlopen(f"https://127.0.0.1:{v['haproxy_https_port']}/healthz", context=ctx,
                                  timeout=5).read()
    assert body == b"ok\n"


def test_imserver_reaches_postgresql_over_verified_tls_only(deployment):
    """Every imserver connection to PostgreSQL is TLS (the deployment CA's certificate, sslmode=verify-full);
    a TCP client without TLS finds no pg_hba entry."""
    root, port = deployment["root"], deployment["vars"]["postgresql_port"]
    sessions = psql(root, port, "SELECT count(*), bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                                "USING (pid) WHERE a.usename = 'imserver'")
    count, all_tls = sessions.split("|")
    assert int(count) >= 2 and all_tls == "t", sessions
    config = (root / "etc" / "implan" / "imserver-0.yaml").read_text()
    assert "sslmode=verify-full&sslrootcert=" in config
    password = (deployment["base"] / "secrets" / "postgresql_imserver").read_text().split()[0]
    plain = subprocess.run([str(PG_BIN / "psql"), f"host=127.0.0.1 port={port} user=imserver dbname=imserver "
                            "sslmode=disable", "-tAc", "SELECT 1"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PGPASSWORD=password))
    assert plain.returncode != 0 and "no encryption" in plain.stderr, plain.stderr
    tls = subprocess.run([str(PG_BIN / "psql"), f"host=127.0.0.1 port={port} user=imserver dbname=imserver "
                          f"sslmode=verify-full sslrootcert={root}/etc/implan/tls/ca.crt", "-tAc", "SELECT 1"],
                         capture_output=True, text=True, timeout=30, env=dict(os.environ, PGPASSWORD=password))
    assert tls.returncode == 0 and tls.stdout.strip() == "1", tls.stderr


def test_second_run_changes_nothing(deployment):
    rc, out = _run_playbook(deployment["bundle"] / "ansible", deployment["vars_file"],
                            deployment["base"] / "run2.log")
    assert rc == 0, out[-4000:]
    counts = recap(out)
    assert counts["failed"] == 0 and counts["changed"] == 0, \
        "not idempotent:\n" + "\n".join(line for line in out.splitlines() if line.startswith(("changed", "TASK")))
