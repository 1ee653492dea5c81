"""The command line: one-command start on a fresh directory, dev tokens, bad config, bench smoke."""
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys

import yaml

from imserver.client import ImClient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args, cwd, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "imserver", *args], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


async def test_two_users_chat_on_a_fresh_directory_with_one_command(tmp_path):
    port, media_port = _free_port(), _free_port()
    env = {**os.environ, "IMSERVER_LISTEN_PORT": str(port), "IMSERVER_MEDIA_PORT": str(media_port)}
    env.pop("IMSERVER_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "imserver", "serve"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lines = [json.loads(proc.stderr.readline()) for _ in range(2)]     # structured JSON log lines
        assert lines[0]["event"].startswith("using the development jwt secret")
        assert lines[1]["event"] == "listening" and lines[1]["port"] == port
        assert (tmp_path / "imserver-data" / "imserver.db").exists()      # SQLite, no other service
        tokens = {u: _run(["token", u], tmp_path, env).stdout.strip() for u in ("alice", "bob")}
        url = f"ws://127.0.0.1:{port}/ws"
        alice = await ImClient.connect(url, tokens["alice"])
        bob = await ImClient.connect(url, tokens["bob"])
        ack = await alice.send("hi bob", to="bob", client_msg_id="1")
        msg = await bob.next_push("msg")
        assert (msg["body"], msg["seq"]) == ("hi bob", ack["seq"])
        await alice.close()
        await bob.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "hi bob" not in err and tokens["alice"] not in err     # logs carry no bodies or tokens


def test_bad_config_is_one_line_and_nonzero(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"listen_port": "eighty"}))
    r = _run(["serve", "--config", str(bad)], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "listen_port" in r.stderr
    bad.write_text(yaml.safe_dump({"max_frame_bytez": 5}))
    r = _run(["serve", "--config", str(bad)], tmp_path)
    assert r.returncode == 2 and "unknown field 'max_frame_bytez'" in r.stderr and "Traceback" not in r.stderr
    r = _run(["serve"], tmp_path, env={"IMSERVER_DATABASE_URL": "mysql://x"})
    assert r.returncode == 2 and "database_url" in r.stderr
    r = _run(["serve", "--port", "notaport"], tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("imserver:") and r.stderr.count("\n") == 1
    r = _run(["token", "bad user!"], tmp_path)
    assert r.returncode == 2 and "user" in r.stderr


def test_migrate_creates_schema(tmp_path):
    r = _run(["migrate", "--data-dir", str(tmp_path / "d")], tmp_path)
    assert r.returncode == 0, r.stderr
    import sqlite3
    tables = {row[0] for row in sqlite3.connect(tmp_path / "d" / "imserver.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "members", "messages", "schema_version"} <= tables


def test_bench_smoke_writes_profile_in_planner_format(tmp_path):
    out = tmp_path / "profile.yaml"
    r = _run(["bench", "--scenario", "mixed", "--connections", "20", "--duration-s", "1", "--warmup-s", "0.5",
              "--rate-msgs-per-s", "200", "--group-size", "5", "--group-share", "0.5", "--processes", "1",
              "--format", "json", "--profile-out", str(out)], tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    (phase,) = report["phases"]
    assert phase["durable_msgs_per_s"] > 0 and phase["deliveries_per_s"] > 0 and phase["errors"] == 0
    assert phase["ack_p99_ms"] >= phase["ack_p50_ms"] > 0
    profile = yaml.safe_load(out.read_text())
    assert profile["schema"] == "implan-capacity-profile/1" and profile["name"] == "imserver-measured"
    entry = profile["tiers"]["message"]["msgs_per_s_per_vcpu"]
    assert entry["basis"] == "measured" and entry["unit"] == "msgs/s/vCPU" and entry["value"] > 0
    assert "imserver bench --scenario mixed" in entry["source"]
    assert profile["tiers"]["database"]["durable_writes_per_s_per_vcpu"]["unit"] == "writes/s/vCPU"
    assert profile["tiers"]["gateway"]["deliveries_per_s_per_vcpu"]["value"] > 0


def test_bench_bad_flag_is_one_line(tmp_path):
    r = _run(["bench", "--connections", "0"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _run(["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")], tmp_path,
                 env={"IMSERVER_MEDIA_PORT": "0"})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot listen" in r.stderr
