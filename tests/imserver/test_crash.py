"""kill -9 under load, restart, and a checker over every client's records; SIGTERM drain.

The server runs as a subprocess (``python -m imserver serve``).  Clients pipeline sends with
unique client_msg_ids, keep an outbox of unacked sends, and after the restart resend the outbox
in order.  The checker then proves, per conversation:
  * every acked message is stored and returned by sync with the seq it was acked with;
  * nothing is stored twice (client_msg_id unique) and seqs are gapless 1..N;
  * each sender's messages appear in the order they were sent.
"""
import asyncio
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
import yaml

from imserver.client import ImClient

N_PAIRS = 4
WINDOW = 16


def _start_server(tmp_path, database_url, port, secret, redis_url=None, name="imserver", **extra):
    cfg = tmp_path / f"{name}.yaml"
    values = {
        "listen_port": port, "media_backend": "none", "data_dir": str(tmp_path / f"data-{name}"),
        "database_url": database_url, "jwt_secret": secret, "conn_rate_msgs_per_s": 100000,
        "conn_rate_burst_msgs": 100000, "user_rate_msgs_per_s": 100000, "user_rate_burst_msgs": 100000,
        "log_level": "warning", "node_id": name}
    if redis_url:
        values["redis_url"] = redis_url
    values.update(extra)
    cfg.write_text(yaml.safe_dump(values))
    return subprocess.Popen([sys.executable, "-m", "imserver", "serve", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _wait_ready(port, proc):
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError("server exited: " + proc.stderr.read().decode()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError("server not ready")


class Sender:
    """One client's records: what it sent (in order) and what was acked."""

    def __init__(self, user, peer):
        self.user, self.peer = user, peer
        self.sent: list[str] = []          # client_msg_ids in send order
        self.acked: dict[str, tuple] = {}  # client_msg_id → (conv, seq)
        self.n = 0

    async def run(self, client: ImClient, stop: asyncio.Event, interval_s: float = 0.0):
        """Pipeline sends (at most WINDOW unacked) until `stop`; `interval_s` apart when the server's rate
        limits are its defaults (a deployed server)."""
        slots = asyncio.Semaphore(WINDOW)
        pending = set()

        def done(cmid, fut):
            slots.release()
            if not fut.cancelled() and fut.exception() is None and fut.result().get("type") == "ack":
                r = fut.result()
                self.acked[cmid] = (r["conv"], r["seq"])

        while not stop.is_set() and not client.closed.is_set():
            await slots.acquire()
            self.n += 1
            cmid = f"{self.user}-{self.n}"
            self.sent.append(cmid)
            fut = client.submit({"type": "send", "client_msg_id": cmid, "to": self.peer, "body": f"{cmid} body"})
            fut.add_done_callback(lambda f, c=cmid: done(c, f))
            pending.add(fut)
            if interval_s:
                await asyncio.sleep(interval_s)
        await asyncio.gather(*pending, return_exceptions=True)

    async def resend_outbox(self, client: ImClient):
        futs = [(cmid, client.submit({"type": "send", "client_msg_id": cmid, "to": self.peer,
                                      "body": f"{cmid} body"}))
                for cmid in self.sent if cmid not in self.acked]
        for cmid, fut in futs:
            r = await asyncio.wait_for(fut, 30)
            assert r["type"] == "ack", r
            self.acked[cmid] = (r["conv"], r["seq"])


async def acked_grows(senders, by: int, timeout_s: float = 30) -> None:
    """Until the senders together have `by` more acked messages than now."""
    start = sum(len(s.acked) for s in senders)
    async with asyncio.timeout(timeout_s):
        while sum(len(s.acked) for s in senders) < start + by:
            await asyncio.sleep(0.01)


async def until_acked(client: ImClient, frame: dict, timeout_s: float = 20) -> None:
    """Resend ``frame`` until it is acked: after a restarted primary, once imserver's writer has reconnected."""
    async with asyncio.timeout(timeout_s):
        while (await client.submit(frame))["type"] != "ack":
            await asyncio.sleep(0.2)


async def stop_resend_check(stop: asyncio.Event, tasks, senders, clients: dict, readers: dict) -> None:
    """Stop the senders still running, resend every outbox in order, then the checker over each conversation's
    history (read by ``readers[conv]``): every message sent is stored once, in order."""
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    for s in senders:
        await s.resend_outbox(clients[s.user])
    histories = {conv: await reader.sync_all(conv) for conv, reader in readers.items()}
    assert check(senders, histories) == sum(len(s.sent) for s in senders)


def check(senders, history_by_conv):
    """The checker over all clients' records (returns the number of stored messages checked)."""
    stored = {}
    for conv, msgs in history_by_conv.items():
        assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1)), f"gap or reorder in {conv}"
        for m in msgs:
            assert m["client_msg_id"] not in stored, f"stored twice: {m['client_msg_id']}"
            stored[m["client_msg_id"]] = (m["conv"], m["seq"], m["from"])
    for s in senders:
        for cmid, (conv, seq) in s.acked.items():
            assert stored.get(cmid, (None, None))[:2] == (conv, seq), f"acked {cmid} lost or moved"
        mine = sorted((v[1], k) for k, v in stored.items() if v[2] == s.user)
        order = {cmid: i for i, cmid in enumerate(s.sent)}
        assert [order[k] for _, k in mine] == sorted(order[k] for _, k in mine), f"{s.user}: order broken"
        assert set(s.sent) == {k for _, k in mine}, f"{s.user}: after resend every message must be stored"
    return len(stored)


async def test_kill_9_under_load_loses_and_duplicates_nothing(database_url, tmp_path, mint, secret):
    SECRET = secret
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/ws"
    proc = _start_server(tmp_path, database_url, port, SECRET)
    try:
        await _wait_ready(port, proc)
        senders = []
        for i in range(N_PAIRS):
            senders += [Sender(f"a{i}", f"b{i}"), Sender(f"b{i}", f"a{i}")]
        clients = [await ImClient.connect(url, mint(s.user)) for s in senders]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(c, stop)) for s, c in zip(senders, clients)]
        async with asyncio.timeout(60):
            while sum(len(s.acked) for s in senders) < 400:
                await asyncio.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)                 # crash with sends in flight
        proc.wait(10)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        in_flight = sum(len(s.sent) - len(s.acked) for s in senders)
        assert in_flight > 0                               # the crash really interrupted sends

        proc = _start_server(tmp_path, database_url, port, SECRET)
        await _wait_ready(port, proc)
        clients = [await ImClient.connect(url, mint(s.user)) for s in senders]
        await asyncio.gather(*(s.resend_outbox(c) for s, c in zip(senders, clients)))
        histories = {}
        for i in range(N_PAIRS):
            conv = f"d:a{i}:b{i}"
            histories[conv] = await clients[2 * i].sync_all(conv)
        n = check(senders, histories)
        assert n == sum(len(s.sent) for s in senders)
        for c in clients:
            await c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_sigterm_drains_and_closes_with_1001(tmp_path, mint, secret):
    SECRET = secret
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = _start_server(tmp_path, f"sqlite:///{tmp_path}/im.db", port, SECRET)
    try:
        await _wait_ready(port, proc)
        sender = Sender("alice", "bob")
        client = await ImClient.connect(f"ws://127.0.0.1:{port}/ws", mint("alice"))
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(client, stop))
        async with asyncio.timeout(60):
            while len(sender.acked) < 100:
                await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(client.closed.wait(), 30)
        await asyncio.wait_for(task, 30)
        assert client.ws.close_code == 1001
        assert proc.wait(30) == 0
        # Restart and verify every acked message is there.
        proc = _start_server(tmp_path, f"sqlite:///{tmp_path}/im.db", port, SECRET)
        await _wait_ready(port, proc)
        c2 = await ImClient.connect(f"ws://127.0.0.1:{port}/ws", mint("bob"))
        msgs = await c2.sync_all("d:alice:bob")
        stored = {m["client_msg_id"]: m["seq"] for m in msgs}
        assert all(stored.get(k) == v[1] for k, v in sender.acked.items())
        await c2.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_kill_9_one_of_two_nodes_clients_fail_over(tmp_path, mint, secret, pg_dsn, redis_url):
    """Clients on two nodes (PostgreSQL + Redis); node A is killed; its clients fail over to B."""
    import socket
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    procs = [_start_server(tmp_path, pg_dsn, ports[i], secret, redis_url, name=f"node{i}") for i in range(2)]
    try:
        for port, proc in zip(ports, procs):
            await _wait_ready(port, proc)
        urls = [f"ws://127.0.0.1:{p}/ws" for p in ports]
        senders = []
        for i in range(N_PAIRS):
            senders += [Sender(f"a{i}", f"b{i}"), Sender(f"b{i}", f"a{i}")]   # a* on node 0, b* on node 1
        clients = [await ImClient.connect(urls[k % 2], mint(s.user)) for k, s in enumerate(senders)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(c, stop)) for s, c in zip(senders, clients)]
        async with asyncio.timeout(60):
            while sum(len(s.acked) for s in senders) < 400:
                await asyncio.sleep(0.005)
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].wait(10)
        async with asyncio.timeout(60):        # node 1's clients keep going while node 0 is dead
            n0 = sum(len(s.acked) for s in senders[1::2])
            while sum(len(s.acked) for s in senders[1::2]) < n0 + 100:
                await asyncio.sleep(0.005)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        survivors = clients[1::2]
        failed_over = [await ImClient.connect(urls[1], mint(s.user)) for s in senders[0::2]]
        await asyncio.gather(*(s.resend_outbox(c) for s, c in zip(senders[0::2], failed_over)))
        histories = {}
        for i in range(N_PAIRS):
            conv = f"d:a{i}:b{i}"
            histories[conv] = await failed_over[i].sync_all(conv)
        n = check(senders, histories)
        assert n == sum(len(s.sent) for s in senders)
        for c in failed_over + survivors:
            await c.close()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
