"""PostgreSQL backups as the bundle configures them, and a point-in-time restore (issue 11, part 4).

The postgresql role runs on one inventory host (`ansible_connection: local`, own root and port) with a pgBackRest
repository in a local directory (`postgresql_backup_repo_type: posix`; object stores differ only in the repo1-* lines).
The role creates the stanza, checks WAL archiving and takes the first full backup. The test then writes rows,
takes a differential backup with the command of the rendered schedule, writes more rows, notes the time, writes
a last batch, restores to that time into a fresh data directory with the documented command, starts it and
finds exactly the rows committed before the target. Retention keeps `postgresql_backup_retention_full` fulls.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.bundle.deploylib import (PG_BIN, as_postgres, assert_second_run_changes_nothing, deployed, free_port, psql,
                                    require_prereqs)

pytestmark = pytest.mark.deploy      # slow: real installs/deployments; `pytest -m "not deploy"` skips them

HOST = "pg-a"


@pytest.fixture(scope="module")
def primary():
    require_prereqs("backup test")
    port = free_port()

    def hosts(base: Path) -> dict:
        return {HOST: {"implan_roles": ["postgresql"], "postgresql_memory_mb": 1024, "postgresql_port": port,
                       "postgresql_backup_repo_type": "posix", "postgresql_backup_repo_path": str(base / "repo"),
                       "postgresql_backup_retention_full": 2}}

    with deployed("backup", "plan-tiny.json", hosts) as deployment:
        root, restored = deployment.roots[HOST], deployment.base / "restored"
        try:
            yield {"deployment": deployment, "base": deployment.base, "root": root, "port": port,
                   "restored": restored, "conf": root / "etc" / "implan" / "pgbackrest.conf"}
        finally:
            if (restored / "postmaster.pid").exists():
                subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(restored), "-m",
                                "immediate", "stop"], capture_output=True, timeout=60, cwd="/")


def _info(conf: Path) -> dict:
    return json.loads(as_postgres(["pgbackrest", f"--config={conf}", "--stanza=implan", "--output=json", "info"]))[0]


def _scheduled(root: Path, kind: str) -> list[str]:
    """The command the rendered schedule runs for `kind` backups (cron.d: minute hour dom month dow user cmd)."""
    for line in (root / "etc" / "cron.d" / "implan-pgbackrest").read_text().splitlines():
        fields = line.split(None, 6)
        if len(fields) == 7 and not line.startswith("#") and f"--type={kind} " in fields[6]:
            assert fields[5] == "postgres"
            return ["/bin/sh", "-c", fields[6]]
    raise AssertionError(f"no {kind} backup in the schedule")


def _last_success(root: Path, kind: str) -> float:
    """The backup job's report to the node exporter's textfile collector (the BackupTooOld alert reads it)."""
    text = (root / "var" / "lib" / "implan" / "node-exporter" / f"implan_pgbackrest_{kind}.prom").read_text()
    m = re.fullmatch(r'implan_pgbackrest_last_success_timestamp_seconds\{type="%s"\} (\d+)\n' % kind, text)
    assert m, text
    return float(m.group(1))


def test_the_role_archives_wal_and_takes_a_first_full_backup(primary):
    conf = primary["conf"].read_text()
    assert "repo1-cipher-type=aes-256-cbc" in conf and "repo1-retention-full=2" in conf
    settings = psql(primary["root"], primary["port"], "SELECT name || '=' || setting FROM pg_settings WHERE name IN "
                    "('archive_mode', 'archive_command') ORDER BY name").splitlines()
    assert settings[0].endswith("archive-push %p") and settings[1] == "archive_mode=on"
    info = _info(primary["conf"])
    assert info["status"]["code"] == 0
    assert [b["type"] for b in info["backup"]] == ["full"]
    assert info["archive"][0]["min"]
    assert abs(_last_success(primary["root"], "full") - time.time()) < 600


def test_second_run_changes_nothing(primary):
    assert_second_run_changes_nothing(primary["deployment"])


def test_point_in_time_restore_into_a_fresh_data_directory(primary):
    root, port, conf = primary["root"], primary["port"], primary["conf"]

    def sql(q: str) -> str:
        return psql(root, port, q, db="imserver")

    sql("CREATE TABLE probe (n int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())")
    sql("INSERT INTO probe (n) SELECT generate_series(1, 100)")
    as_postgres(_scheduled(root, "diff"))                                 # the schedule's differential backup
    assert abs(_last_success(root, "diff") - time.time()) < 600
    sql("INSERT INTO probe (n) SELECT generate_series(101, 150)")         # only in WAL after the diff backup
    time.sleep(1.1)
    target = sql("SELECT clock_timestamp()")
    time.sleep(1.1)
    sql("INSERT INTO probe (n) SELECT generate_series(151, 200)")         # after the target: must not come back
    sql("SELECT pg_switch_wal()")
    as_postgres(["pgbackrest", f"--config={conf}", "--stanza=implan", "check"])   # waits for the segment
    assert [b["type"] for b in _info(conf)["backup"]] == ["full", "diff"]

    restored = primary["restored"]
    restored.mkdir(mode=0o700)
    shutil.chown(restored, "postgres")
    as_postgres(["pgbackrest", f"--config={conf}", "--stanza=implan", f"--pg1-path={restored}", "--type=time",
                  f"--target={target}", "--target-action=promote", "restore"], timeout=300)
    new_port, sock = free_port(), primary["base"] / "restored-sock"
    sock.mkdir()
    shutil.chown(sock, "postgres")
    as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(restored), "-w", "-t", "120", "-l", str(sock / "restored.log"),
                  "-o", f"-p {new_port} -k {sock} -c listen_addresses='' -c archive_mode=off", "start"], timeout=180)
    restored_psql = [str(PG_BIN / "psql"), "-h", str(sock), "-p", str(new_port), "-d", "imserver", "-tAc"]
    deadline = time.monotonic() + 60
    while as_postgres(restored_psql + ["SELECT pg_is_in_recovery()"]).strip() != "f":      # promoted at the target
        assert time.monotonic() < deadline, (sock / "restored.log").read_text()[-3000:]
        time.sleep(0.5)
    assert as_postgres(restored_psql + ["SELECT count(*), min(n), max(n) FROM probe"]).strip() == "150|1|150"


def test_retention_keeps_the_configured_number_of_full_backups(primary):
    conf = primary["conf"]
    full = _scheduled(primary["root"], "full")
    for _ in range(2):
        as_postgres(full)
    backups = _info(conf)["backup"]
    assert [b["type"] for b in backups] == ["full", "full"]                 # the oldest full and its diff expired
    assert re.fullmatch(r"\d{8}-\d{6}F", backups[0]["label"])
