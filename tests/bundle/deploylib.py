"""What the deployment tests share: loopback ports, prerequisites, running the bundle's playbook against hosts
that are directories of this machine, reading the recap, PostgreSQL as its own user, and stopping what ran.

Every host of an inventory deployment is a root directory under one temporary base (`implan_root`), connected
with `ansible_connection: local`, its services under start-stop-daemon on free loopback ports. `deployed()` renders
the bundle, runs the playbook once, yields, and always stops every pidfile and removes the base.
"""
from __future__ import annotations

import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import load_fixture_plan

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PLAYBOOK_TIMEOUT_S = 600

_TAKEN: set[int] = set()


def free_port(pairs: int = 1) -> int:
    """A free loopback port p such that p .. p+pairs-1 are all free.

    Drawn below Linux's ephemeral range (32768-60999), so busy client sockets (a load test running alongside)
    cannot take p+1 between this check and the service binding it.
    """
    rng = random.Random()
    for _ in range(2000):
        port = rng.randrange(20000, 32000)
        if any(port + extra in _TAKEN for extra in range(pairs)):
            continue
        socks = []
        try:
            for extra in range(pairs):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", port + extra))
            _TAKEN.update(port + extra for extra in range(pairs))
            return port
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free loopback port")


def missing_prereqs() -> str | None:
    """Why a full deployment cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (runs PostgreSQL as the postgres user via runuser)"
    for tool in ("ansible-playbook", "start-stop-daemon", "runuser", "openssl", "redis-server"):
        if not shutil.which(tool):
            return f"{tool} not found"
    if not Path("/usr/sbin/haproxy").exists():
        return "haproxy not installed (apt-get install haproxy)"
    if not shutil.which("pgbackrest"):
        return "pgbackrest not installed (apt-get install pgbackrest)"
    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL 15 not installed"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user"
    return None


def require_prereqs(what: str) -> None:
    """Skip locally when something is missing; fail on CI, where .ci/run installs it all."""
    reason = missing_prereqs()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{what} cannot run: {reason}")
        pytest.skip(reason)


def ansible_env(ansible_dir: Path) -> dict:
    return dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_CONFIG=str(ansible_dir / "ansible.cfg"))


def playbook(ansible_dir: Path, inventory: Path, log: Path, limit: str | None = None) -> tuple[int, str]:
    """Run site.yml against an inventory file (only on the hosts `limit` names, if given); the whole output
    goes to `log`."""
    argv = ["ansible-playbook", "-i", str(inventory), "site.yml", *(["--limit", limit] if limit else [])]
    proc = subprocess.run(argv, cwd=ansible_dir, env=ansible_env(ansible_dir), capture_output=True, text=True,
                          timeout=PLAYBOOK_TIMEOUT_S)
    log.write_text(proc.stdout + proc.stderr)
    return proc.returncode, proc.stdout


def recap(stdout: str) -> dict:
    """ok/changed/failed/... counts of the single host `localhost` in the PLAY RECAP."""
    m = re.search(r"localhost\s+:\s+(.*)", stdout.split("PLAY RECAP")[-1])
    assert m, stdout[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def recap_all(stdout: str) -> dict:
    """The PLAY RECAP counts of every host."""
    totals: dict = {}
    for line in stdout.split("PLAY RECAP")[-1].splitlines():
        if ":" in line and "ok=" in line:
            host, counts = line.split(":", 1)
            totals[host.strip()] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return totals


def stop_all(run_dir: Path, pattern: str = "*.pid") -> None:
    """Stop every service that left a pidfile matching `pattern` in `run_dir`."""
    for pidfile in sorted(run_dir.glob(pattern)):
        subprocess.run(["start-stop-daemon", "--stop", "--pidfile", str(pidfile), "--retry=TERM/15/KILL/5",
                        "--oknodo", "--quiet"], check=False)


def as_postgres(argv: list[str], timeout: float = 120) -> str:
    out = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True,
                         timeout=timeout, cwd="/")
    assert out.returncode == 0, (argv, out.stdout[-2000:], out.stderr[-2000:])
    return out.stdout


def psql(root: Path, port: int, sql: str, db: str = "postgres") -> str:
    """Run one statement; a standby still replaying to a consistent state ("the database system is starting
    up") is waited for, at most 60 s."""
    sock = root / "run" / "implan" / "postgresql"
    deadline = time.monotonic() + 60
    while True:
        out = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "psql"), "-h", str(sock), "-p",
                              str(port), "-d", db, "-tAc", sql], capture_output=True, text=True, timeout=30, cwd="/")
        if out.returncode == 0 or "starting up" not in out.stderr or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def local_host_vars(base: Path) -> dict:
    """Variables every host of an inventory deployment needs: this machine, no system changes, services under
    start-stop-daemon, secrets under the base. Set as host variables: they outrank the bundle's group_vars/all
    (inventory `all: vars:` would not)."""
    return {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "implan_manage_system": False, "implan_become": False, "implan_service_manager": "start-stop-daemon",
            "implan_secrets_dir": str(base / "secrets"), "implan_address": "127.0.0.1",
            "node_exporter_enabled": False}


@dataclass
class Deployment:
    base: Path
    roots: dict[str, Path]
    bundle: Path
    inventory: Path


@contextmanager
def deployed(prefix: str, plan_fixture: str, hosts: Callable[[Path], dict[str, dict]],
             wheel: tuple[str, bytes] | None = None) -> Iterator[Deployment]:
    """Render the private bundle of `plan_fixture` (with the imserver `wheel` when a host runs imserver), run its
    playbook once on the hosts `hosts(base)` names (each host's own variables over local_host_vars), assert it
    succeeded, yield; always stop and remove everything."""
    base = Path(tempfile.mkdtemp(prefix=f"implan-{prefix}-"))
    host_vars = hosts(base)
    roots = {h: base / h for h in host_vars}
    try:
        base.chmod(0o755)                   # the postgres user must traverse it
        bundle = base / "bundle"
        write_bundle(render_bundle(load_fixture_plan(plan_fixture), "private", wheel=wheel), bundle)
        inventory = {"all": {"hosts": {h: {**local_host_vars(base), "implan_root": str(roots[h]), **v}
                                       for h, v in host_vars.items()}}}
        inv = base / "inventory.yml"
        inv.write_text(yaml.safe_dump(inventory))
        for r in roots.values():
            r.mkdir()
        rc, out = playbook(bundle / "ansible", inv, base / "run1.log")
        assert rc == 0, (base / "run1.log").read_text()[-4000:]
        yield Deployment(base, roots, bundle, inv)
    finally:
        # imserver first: PostgreSQL's shutdown waits for its clients to disconnect
        for pattern in ("implan-imserver-*.pid", "*.pid"):
            for r in roots.values():
                stop_all(r / "run" / "implan", pattern)
        shutil.rmtree(base, ignore_errors=True)


def assert_second_run_changes_nothing(deployment: Deployment) -> None:
    """Run the playbook again: every host of the inventory must report changed=0 and failed=0 (idempotence)."""
    rc, out = playbook(deployment.bundle / "ansible", deployment.inventory, deployment.base / "run2.log")
    assert rc == 0, out[-4000:]
    recaps = recap_all(out)
    assert set(recaps) == set(deployment.roots)
    for host, counts in recaps.items():
        assert counts["changed"] == 0 and counts["failed"] == 0, (host, counts)
