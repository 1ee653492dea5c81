"""``imserver bench``: load generator and capacity calibration.

Starts a server subprocess on loopback (or targets ``--url``), spreads client connections
over several client processes (at most ``MAX_SOCKETS_PER_PROCESS`` each: the fd limit here is
20,000 per process), drives a workload for a bounded time and reports:

* sustained durable msgs/s (acks received in the measurement window) and deliveries/s;
* p50/p99 ack latency (send → ack at the client) and delivery latency (send → msg at a member);
* server CPU seconds per 1,000 messages and msgs/deliveries per server core-second
  (from /proc/<pid>/stat, so the figure is per core even when the server is not saturated);
* server RSS per idle connection (VmRSS delta / connections).

Scenarios: ``idle`` (RSS), ``durable`` (1:1 sends, fixed offered rate), ``fanout`` (group sends),
``mixed`` (1:1 and group by ``--group-share``), ``all`` (idle + durable + fanout, each on a
fresh server) — ``--profile-out FILE`` then writes a planner capacity profile.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import random
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

MAX_SOCKETS_PER_PROCESS = 19_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BENCH_SECRET = "imserver-bench-secret"


class BenchError(Exception):
    pass


def add_arguments(p) -> None:
    p.add_argument("--scenario", choices=["idle", "durable", "fanout", "mixed", "all"], default="mixed")
    p.add_argument("--url", help="target a running server (ws://HOST:PORT/ws) instead of starting one")
    p.add_argument("--server-pid", type=int, help="with --url: PID of the server, for CPU and RSS figures")
    p.add_argument("--secret", help="with --url: the server's jwt_secret (default: $IMSERVER_JWT_SECRET)")
    p.add_argument("--database-url", help="for the started server (default: SQLite in a temp dir)")
    p.add_argument("--connections", type=int, default=400, help="active connections (durable/mixed/fanout)")
    p.add_argument("--fanout-connections", type=int, default=1000, help="connections for the fanout scenario")
    p.add_argument("--idle-connections", type=int, default=10_000, help="connections for the idle scenario")
    p.add_argument("--processes", type=int, default=0, help="client processes (default: enough for the fd limit, min 2)")
    p.add_argument("--duration-s", type=float, default=10.0, help="measurement window (after --warmup-s)")
    p.add_argument("--warmup-s", type=float, default=2.0)
    p.add_argument("--rate-msgs-per-s", type=float, default=4000.0, help="offered send rate, total (0 = closed loop)")
    p.add_argument("--fanout-rate-msgs-per-s", type=float, default=1000.0, help="offered group send rate (fanout)")
    p.add_argument("--window", type=int, default=32, help="max unacked sends per connection")
    p.add_argument("--message-bytes", type=int, default=300, help="body size")
    p.add_argument("--group-share", type=float, default=0.2, help="share of sends to groups (mixed)")
    p.add_argument("--group-size", type=int, default=25, help="members per group")
    p.add_argument("--commit-delay-ms", type=float, default=None,
                   help="group_commit_delay_ms of the started server (default: the server default)")
    p.add_argument("--server-cpu", type=int, default=-1, help="CPU to pin the started server to, clients get the others (default -1: no pinning)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--profile-out", metavar="FILE", help="write a planner capacity profile (YAML)")


# ---- /proc helpers ----------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError("no VmRSS")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(math.ceil(q * len(values))) - 1))]


# ---- server -----------------------------------------------------------------------------------
class StartedServer:
    def __init__(self, database_url: str | None, cpu: int, commit_delay_ms: float | None = None):
        self.dir = tempfile.mkdtemp(prefix="imserver-bench-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        cfg = {
            "listen_port": self.port, "data_dir": self.dir, "jwt_secret": BENCH_SECRET, "media_backend": "none",
            "conn_rate_msgs_per_s": 1e6, "conn_rate_burst_msgs": 1_000_000, "user_rate_msgs_per_s": 1e6,
            "user_rate_burst_msgs": 1_000_000, "max_group_members": 10_000, "log_level": "warning",
            "idle_timeout_s": 3600,
        }
        if database_url:
            cfg["database_url"] = database_url
        if commit_delay_ms is not None:
            cfg["group_commit_delay_ms"] = commit_delay_ms
        path = Path(self.dir) / "bench.json"   # JSON is valid YAML
        path.write_text(json.dumps(cfg))
        cmd = [sys.executable, "-m", "imserver", "serve", "--config", str(path)]
        if cpu >= 0 and hasattr(os, "sched_setaffinity") and cpu < os.cpu_count():
            cmd = ["taskset", "-c", str(cpu)] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("server exited: " + self.proc.stderr.read().decode()[-500:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise BenchError("server did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- client worker (runs in a child process) --------------------------------------------------
def _worker_entry(spec: dict, results, go, start_at) -> None:
    if spec.get("cpus"):
        os.sched_setaffinity(0, spec["cpus"])   # keep load generation off the server's core
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    try:
        results.put(asyncio.run(_worker(spec, go, start_at, results)))
    except Exception as exc:  # report instead of hanging the coordinator
        results.put({"worker": spec["worker"], "error": f"{type(exc).__name__}: {exc}"})


async def _worker(spec: dict, go, start_at, results) -> dict:
    from urllib.parse import urlsplit

    from .auth import make_token
    from .benchclient import BenchWS

    parts = urlsplit(spec["url"])
    host, port, path = parts.hostname, parts.port, parts.path or "/ws"
    secret = spec["secret"]
    ack_lat: list[float] = []
    del_lat: list[float] = []
    counts = {"acks": 0, "deliveries": 0, "errors": 0, "sent": 0}
    win = {"t0": float("inf"), "t1": float("inf")}
    pad = "x" * max(0, spec["message_bytes"] - 20)
    window = spec["window"]
    closed_loop = spec["rate_per_sender"] == 0
    now_fn = time.time
    ACK = '{"type":"ack","ref":"'
    MSG = '{"type":"msg"'

    class Conn:
        __slots__ = ("user", "ws", "prefix", "pending", "n")

        def __init__(self, user, target):
            self.user = user
            self.ws = None
            self.pending: dict[str, float] = {}
            self.n = 0
            self.prefix = None
            if target is not None:
                key, value = next(iter(target.items()))
                self.prefix = '{"type":"send","%s":"%s","client_msg_id":"%s.%s.' % (key, value, user, spec["run"])

        def send_one(self, now):
            self.n += 1
            cmid = f"{self.user}.{spec['run']}.{self.n}"
            self.pending[cmid] = now
            self.ws.send_text(f'{self.prefix}{self.n}","body":"t:{now:.6f}|{pad}"}}')
            counts["sent"] += 1

        def on_text(self, text: str):
            now = now_fn()
            if text.startswith(MSG):
                i = text.find('"body":"t:')
                if i >= 0 and win["t0"] <= now <= win["t1"]:
                    counts["deliveries"] += 1
                    del_lat.append(now - float(text[i + 10:text.index("|", i)]))
            elif text.startswith(ACK):
                j = text.index('"', 21)
                sent = self.pending.pop(text[21:j], None)
                if sent is not None and win["t0"] <= now <= win["t1"]:
                    counts["acks"] += 1
                    ack_lat.append(now - sent)
                if closed_loop and self.prefix is not None and now < win["t1"] and len(self.pending) < window:
                    self.send_one(now)
            elif text.startswith('{"type":"error"'):
                counts["errors"] += 1

    conns = [Conn(u, spec["targets"].get(u)) for u in spec["users"]]
    handshake = asyncio.Semaphore(100)

    async def open_conn(c):
        async with handshake:
            for attempt in range(8):
                try:
                    c.ws = await BenchWS.connect(host, port, path, make_token(c.user, secret, ttl_s=7200), c.on_text)
                    return
                except (OSError, asyncio.TimeoutError):
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise BenchError(f"cannot connect {c.user}")

    await asyncio.gather(*(open_conn(c) for c in conns))
    results.put({"ready": spec["worker"]})
    while not go.is_set():
        await asyncio.sleep(0.01)
    start = start_at.value
    win["t0"], win["t1"] = start + spec["warmup_s"], start + spec["warmup_s"] + spec["duration_s"]
    senders = [c for c in conns if c.prefix is not None]
    await asyncio.sleep(max(0.0, start - now_fn()))
    if senders and closed_loop:
        now = now_fn()
        for c in senders:
            for _ in range(window):
                c.send_one(now)
    elif senders:
        rate = spec["rate_per_sender"] * len(senders)
        sent_total, i = 0, 0
        while True:
            now = now_fn()
            if now > win["t1"]:
                break
            due = int((now - start) * rate) - sent_total
            tries = 0
            while due > 0 and tries < len(senders):
                c = senders[i % len(senders)]
                i += 1
                if len(c.pending) < window:
                    c.send_one(now)
                    sent_total += 1
                    due -= 1
                    tries = 0
                else:
                    tries += 1
            await asyncio.sleep(0.002)
    await asyncio.sleep(max(0.0, win["t1"] - now_fn()) + (spec.get("hold_s") or 1.0))
    for c in conns:
        c.ws.close()
    rng = random.Random(1)
    return {"worker": spec["worker"], **counts,
            "ack_lat": rng.sample(ack_lat, min(len(ack_lat), 20000)),
            "del_lat": rng.sample(del_lat, min(len(del_lat), 20000))}


# ---- coordinator ------------------------------------------------------------------------------
def _setup_groups(url: str, secret: str, groups: list[list[str]]) -> list[str]:
    from .auth import make_token
    from .client import ImClient

    async def run():
        convs = []
        for members in groups:
            c = await ImClient.connect(url, make_token(members[0], secret))
            g = await c.request({"type": "group_create", "name": "bench", "members": members[1:]})
            convs.append(g["conv"])
            await c.close()
        return convs

    return asyncio.run(run())


def run_phase(args, scenario: str, server_pid: int | None, url: str, secret: str) -> dict:
    n = {"idle": args.idle_connections, "fanout": args.fanout_connections}.get(scenario, args.connections)
    users = [f"u{i}" for i in range(n)]
    targets: dict[str, dict] = {}
    rate = 0.0
    if scenario in ("durable", "mixed"):
        n_group = int(round(n * args.group_share)) if scenario == "mixed" else 0
        group_users, direct_users = users[:n_group], users[n_group:]
        for i in range(0, len(direct_users) - 1, 2):
            a, b = direct_users[i], direct_users[i + 1]
            targets[a], targets[b] = {"to": b}, {"to": a}
        groups = [group_users[i:i + args.group_size] for i in range(0, len(group_users), args.group_size)]
        groups = [g for g in groups if len(g) >= 2]
        for g, conv in zip(groups, _setup_groups(url, secret, groups)):
            for u in g:
                targets[u] = {"conv": conv}
        rate = args.rate_msgs_per_s
    elif scenario == "fanout":
        groups = [users[i:i + args.group_size] for i in range(0, n, args.group_size)]
        groups = [g for g in groups if len(g) >= 2]
        convs = _setup_groups(url, secret, groups)
        for g, conv in zip(groups, convs):
            targets[g[0]] = {"conv": conv}           # one sender per group, everyone receives
        rate = args.fanout_rate_msgs_per_s
    senders = len(targets)
    procs_n = max(args.processes or 2, math.ceil(n / MAX_SOCKETS_PER_PROCESS))
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    go = ctx.Event()
    start_at = ctx.Value("d", 0.0)
    rss_before = rss_kib(server_pid) if server_pid else None
    run_id = "%08x" % random.getrandbits(32)    # client_msg_ids stay unique across runs on one database
    all_cpus = sorted(os.sched_getaffinity(0))
    client_cpus = ([c for c in all_cpus if c != args.server_cpu] or all_cpus) if args.server_cpu >= 0 else None
    workers = []
    for w in range(procs_n):
        mine = users[w::procs_n]
        spec = {"worker": w, "url": url, "cpus": client_cpus, "run": run_id, "secret": secret, "users": mine,
                "targets": {u: targets[u] for u in mine if u in targets},
                "rate_per_sender": (rate / senders) if senders and rate else 0.0,
                "window": args.window, "message_bytes": args.message_bytes,
                "warmup_s": args.warmup_s if scenario != "idle" else 0.0,
                "duration_s": args.duration_s if scenario != "idle" else 0.0,
                "hold_s": 3.0 if scenario == "idle" else 0.0}
        p = ctx.Process(target=_worker_entry, args=(spec, results, go, start_at), daemon=True)
        p.start()
        workers.append(p)
    ready, reports = 0, []
    deadline = time.monotonic() + 300
    while ready < procs_n:
        item = results.get(timeout=max(1, deadline - time.monotonic()))
        if "error" in item:
            raise BenchError(f"client worker {item['worker']}: {item['error']}")
        ready += 1
    out: dict = {"scenario": scenario, "connections": n, "client_processes": procs_n, "senders": senders}
    if scenario == "idle":
        time.sleep(2.0)   # let the server settle (GC, buffers)
        rss_after = rss_kib(server_pid) if server_pid else None
        if server_pid:
            out["server_rss_kib_before"] = rss_before
            out["server_rss_kib_after"] = rss_after
            out["rss_kib_per_idle_connection"] = round((rss_after - rss_before) / n, 2)
        start_at.value = time.time()
        go.set()
    else:
        start_at.value = time.time() + 0.2
        go.set()
        t0 = start_at.value + args.warmup_s
        time.sleep(max(0.0, t0 - time.time()))
        cpu0 = cpu_seconds(server_pid) if server_pid else None
        time.sleep(args.duration_s)
        cpu1 = cpu_seconds(server_pid) if server_pid else None
        out["server_cpu_s"] = round(cpu1 - cpu0, 3) if server_pid else None
    for _ in range(procs_n):
        item = results.get(timeout=120)
        if "error" in item:
            raise BenchError(f"client worker {item['worker']}: {item['error']}")
        reports.append(item)
    for p in workers:
        p.join(10)
    if scenario != "idle":
        acks = sum(r["acks"] for r in reports)
        deliveries = sum(r["deliveries"] for r in reports)
        ack_lat = [x for r in reports for x in r["ack_lat"]]
        del_lat = [x for r in reports for x in r["del_lat"]]
        ms = lambda v: None if v is None else round(v * 1000, 2)
        cpu = out["server_cpu_s"]
        out.update({
            "duration_s": args.duration_s, "offered_msgs_per_s": rate or None, "message_bytes": args.message_bytes,
            "durable_msgs_per_s": round(acks / args.duration_s, 1),
            "deliveries_per_s": round(deliveries / args.duration_s, 1),
            "ack_p50_ms": ms(_pct(ack_lat, 0.5)), "ack_p99_ms": ms(_pct(ack_lat, 0.99)),
            "delivery_p50_ms": ms(_pct(del_lat, 0.5)), "delivery_p99_ms": ms(_pct(del_lat, 0.99)),
            "errors": sum(r["errors"] for r in reports),
            "server_cpu_s_per_1000_msgs": round(cpu / acks * 1000, 4) if cpu and acks else None,
            "msgs_per_server_core_s": round(acks / cpu, 1) if cpu and acks else None,
            "deliveries_per_server_core_s": round(deliveries / cpu, 1) if cpu and deliveries else None,
            "server_core_utilization": round(cpu / args.duration_s, 3) if cpu else None,
        })
    return out


def fsync_probe_ms(directory: str, n: int = 50) -> dict:
    """fsync latency of the disk under the data dir right now (context for the ack latencies)."""
    path = Path(directory) / ".fsync-probe"
    lat = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    return {"p50": round(_pct(lat, 0.5) * 1000, 2), "p99": round(_pct(lat, 0.99) * 1000, 2)}


def run(args, argv_text: str) -> dict:
    context = {"loadavg_1m_at_start": float(Path("/proc/loadavg").read_text().split()[0]),
               "fsync_ms_at_start": fsync_probe_ms(tempfile.gettempdir())}
    scenarios = ["idle", "durable", "fanout"] if args.scenario == "all" else [args.scenario]
    phases = []
    for scenario in scenarios:
        server = None
        try:
            if args.url:
                url, pid = args.url, args.server_pid
                secret = args.secret or os.environ.get("IMSERVER_JWT_SECRET", "")
                if not secret:
                    raise BenchError("--url needs --secret or IMSERVER_JWT_SECRET to mint client tokens")
            else:
                server = StartedServer(args.database_url, args.server_cpu, args.commit_delay_ms)
                url, pid, secret = server.url, server.pid, BENCH_SECRET
            phases.append(run_phase(args, scenario, pid, url, secret))
        finally:
            if server is not None:
                server.stop()
    return {"command": argv_text, "cpus": os.cpu_count(), "as_of": dt.date.today().isoformat(), **context,
            "phases": phases}


def profile_yaml(report: dict) -> str:
    """The planner's capacity-profile format, with only the coefficients this run measured."""
    src = f"{report['command']}, {report['cpus']}-core machine, client and server in separate processes"
    as_of = report["as_of"]
    by = {p["scenario"]: p for p in report["phases"]}
    q = lambda s: json.dumps(s)    # a JSON string is a valid YAML double-quoted scalar

    def entry(value, unit):
        return f"{{value: {value}, unit: {unit}, source: {q(src)}, as_of: {as_of}, basis: measured}}"

    lines = ["schema: implan-capacity-profile/1", "name: imserver-measured", f"as_of: {as_of}",
             f"source: {q(src)}", "tiers:"]
    gateway = []
    if "idle" in by and by["idle"].get("rss_kib_per_idle_connection") is not None:
        gateway.append("    memory_kib_per_connection: " + entry(by["idle"]["rss_kib_per_idle_connection"],
                                                                "KiB/connection"))
    fan = by.get("fanout") or by.get("mixed")
    if fan and fan.get("deliveries_per_server_core_s"):
        gateway.append("    deliveries_per_s_per_vcpu: " + entry(round(fan["deliveries_per_server_core_s"]),
                                                                "deliveries/s/vCPU"))
    dur = by.get("durable") or by.get("mixed")
    if gateway:
        lines += ["  gateway:"] + gateway
    if dur and dur.get("msgs_per_server_core_s"):
        v = round(dur["msgs_per_server_core_s"])
        lines += ["  message:", "    msgs_per_s_per_vcpu: " + entry(v, "msgs/s/vCPU"),
                  "  database:", "    durable_writes_per_s_per_vcpu: " + entry(v, "writes/s/vCPU")]
    return "\n".join(lines) + "\n"


def _text(report: dict) -> str:
    out = [f"imserver bench ({report['cpus']} CPUs): {report['command']}",
           f"machine: load average {report['loadavg_1m_at_start']}, fsync p50/p99 "
           f"{report['fsync_ms_at_start']['p50']}/{report['fsync_ms_at_start']['p99']} ms"]
    for p in report["phases"]:
        out.append(f"-- {p['scenario']}: {p['connections']} connections over {p['client_processes']} client processes")
        for k, v in p.items():
            if k not in ("scenario", "connections", "client_processes"):
                out.append(f"   {k:32s} {v}")
    return "\n".join(out)


def run_cli(args) -> int:
    for name in ("connections", "idle_connections", "fanout_connections", "window", "message_bytes", "group_size"):
        if getattr(args, name) < 1 and not (name == "message_bytes"):
            print(f"imserver: --{name.replace('_', '-')}: expected an integer >= 1", file=sys.stderr)
            return 2
    if args.duration_s <= 0 or not (0 <= args.group_share <= 1) or args.group_size < 2:
        print("imserver: --duration-s must be > 0, --group-share in 0..1, --group-size >= 2", file=sys.stderr)
        return 2
    if args.scenario == "idle" and args.idle_connections > 19_900:
        print("imserver: --idle-connections: the server process holds at most ~19,900 sockets (fd limit)",
              file=sys.stderr)
        return 2
    argv_text = "imserver bench " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:])
    try:
        report = run(args, argv_text)
    except BenchError as exc:
        print(f"imserver: bench: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.format == "json" else _text(report))
    if args.profile_out:
        Path(args.profile_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.profile_out).write_text(profile_yaml(report))
    return 0
