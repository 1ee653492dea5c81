"""Prometheus as the bundle configures it (issue 11, part 4): the scrape configuration and alert rules rendered by
Ansible for a synthetic inventory (12 PostgreSQL, 65 imserver with 2 processes each, 2 Redis, 1 Prometheus, 12
MinIO hosts), checked by `promtool check config` (which also loads the rules) and `promtool test rules` with series that must
raise each alert (node down, disk, replication lag, a missing replica, an old backup, imserver errors and ack
latency) and series that must not.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.bundle.conftest import require_tool
from tests.bundle.test_ansible_settings import _render, ansible_dir  # noqa: F401  (the fixture)

TEMPLATES = ["prometheus/templates/prometheus.yml.j2", "prometheus/templates/implan.rules.yml.j2"]


@pytest.fixture(scope="module")
def rendered(ansible_dir, tmp_path_factory):  # noqa: F811
    promtool = require_tool(shutil.which("promtool"), "promtool (apt-get install prometheus)")
    out = tmp_path_factory.mktemp("prom")
    files = _render(ansible_dir, out, "mon-01", TEMPLATES, implan_postgresql_primary="pg-01",
                    implan_redis_primary="rd-01", imserver_instances=2, prometheus_dir=str(out))
    (out / "prometheus.yml").write_text(files["prometheus.yml.j2"])
    (out / "implan.rules.yml").write_text(files["implan.rules.yml.j2"])
    return promtool, out


def test_promtool_accepts_the_configuration_and_the_rules(rendered):
    promtool, out = rendered
    proc = subprocess.run([promtool, "check", "config", str(out / "prometheus.yml")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 10 rules found" in proc.stdout + proc.stderr


def test_every_host_and_every_imserver_process_is_scraped_on_its_private_address(rendered):
    config = yaml.safe_load((rendered[1] / "prometheus.yml").read_text())
    jobs = {j["job_name"]: [t for sc in j["static_configs"] for t in sc["targets"]] for j in config["scrape_configs"]}
    assert len(jobs["node"]) == 12 + 65 + 2 + 1 + 12 and "10.0.1.3:9100" in jobs["node"]
    assert len(jobs["imserver"]) == 65 * 2 and {"10.0.2.7:8765", "10.0.2.7:8766"} <= set(jobs["imserver"])
    assert len(jobs["postgres"]) == 12 and "10.0.1.12:9187" in jobs["postgres"]
    assert next(j for j in config["scrape_configs"] if j["job_name"] == "imserver")["metrics_path"] == "/metrics"


ALERT_TESTS = {
    "rule_files": ["implan.rules.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {"interval": "1m",
         "input_series": [
             {"series": 'up{job="node",instance="10.0.1.1:9100",host="pg-01"}', "values": "1 0 0 0 0 0"},
             {"series": 'up{job="node",instance="10.0.1.2:9100",host="pg-02"}', "values": "1 1 1 1 1 1"},
             {"series": 'node_filesystem_avail_bytes{host="pg-02",mountpoint="/",fstype="ext4"}', "values": "5x20"},
             {"series": 'node_filesystem_size_bytes{host="pg-02",mountpoint="/",fstype="ext4"}', "values": "100x20"},
             {"series": 'node_filesystem_avail_bytes{host="pg-03",mountpoint="/",fstype="tmpfs"}', "values": "1x20"},
             {"series": 'node_filesystem_size_bytes{host="pg-03",mountpoint="/",fstype="tmpfs"}', "values": "100x20"},
             *({"series": f'pg_stat_replication_pg_wal_lsn_diff{{host="pg-01",application_name="pg-{i:02d}"}}',
                "values": ("0 300000000x10" if i == 2 else "0x10")} for i in range(2, 13)),
             {"series": 'pg_up{host="pg-04"}', "values": "1 0 0 0"},
             {"series": 'implan_pgbackrest_last_success_timestamp_seconds{host="pg-01",type="diff"}', "values": "0x20"},
             {"series": "imserver_errors_total", "values": "0+10x20"},
             {"series": "imserver_frames_in_total", "values": "0+100x20"},
         ],
         "alert_rule_test": [
             {"eval_time": "1m", "alertname": "NodeDown", "exp_alerts": []},
             {"eval_time": "4m", "alertname": "NodeDown", "exp_alerts": [{"exp_labels": {
                 "severity": "critical", "job": "node", "instance": "10.0.1.1:9100", "host": "pg-01"}, "exp_annotations": {
                 "summary": "node target 10.0.1.1:9100 (pg-01) is not answering"}}]},
             {"eval_time": "15m", "alertname": "DiskAlmostFull", "exp_alerts": [{"exp_labels": {
                 "severity": "critical", "host": "pg-02", "mountpoint": "/", "fstype": "ext4"}, "exp_annotations": {
                 "summary": "pg-02 / has under 10 % free"}}]},
             {"eval_time": "8m", "alertname": "ReplicationLagHigh", "exp_alerts": [{"exp_labels": {
                 "severity": "warning", "host": "pg-01", "application_name": "pg-02"}, "exp_annotations": {
                 "summary": "a replica of pg-01 is 286.1MiB of WAL behind"}}]},
             {"eval_time": "8m", "alertname": "ReplicaNotStreaming", "exp_alerts": []},   # all 11 replicas stream
             {"eval_time": "3m", "alertname": "PostgresDown", "exp_alerts": [{"exp_labels": {
                 "severity": "critical", "host": "pg-04"}, "exp_annotations": {
                 "summary": "the postgres exporter on pg-04 cannot reach PostgreSQL"}}]},
             {"eval_time": "20m", "alertname": "BackupTooOld", "exp_alerts": []},         # 20 minutes old
             {"eval_time": "20m", "alertname": "BackupNeverReported", "exp_alerts": []},
             {"eval_time": "15m", "alertname": "ImserverErrorRate", "exp_alerts": [{"exp_labels": {
                 "severity": "warning"}, "exp_annotations": {
                 "summary": "imserver answers 10% of frames with an error"}}]},
         ]},
        {"interval": "1m",
         "input_series": [     # a backup that stopped 28 hours ago; one of 11 replicas; slow acks
             {"series": 'implan_pgbackrest_last_success_timestamp_seconds{host="pg-01",type="diff"}', "values": "0x1700"},
             {"series": 'pg_stat_replication_pg_wal_lsn_diff{host="pg-01",application_name="pg-02"}', "values": "0x200"},
             {"series": 'imserver_ack_latency_seconds_bucket{le="0.1"}', "values": "0+10x200"},
             {"series": 'imserver_ack_latency_seconds_bucket{le="1"}', "values": "0+100x200"},
             {"series": 'imserver_ack_latency_seconds_bucket{le="+Inf"}', "values": "0+100x200"},
         ],
         "alert_rule_test": [
             {"eval_time": "28h", "alertname": "BackupTooOld", "exp_alerts": [{"exp_labels": {
                 "severity": "critical"}, "exp_annotations": {
                 "summary": "no successful PostgreSQL base backup for 26 hours"}}]},
             {"eval_time": "2h", "alertname": "ReplicaNotStreaming", "exp_alerts": [{"exp_labels": {
                 "severity": "critical"}, "exp_annotations": {"summary": "fewer than 11 replicas stream from the primary"}}]},
             {"eval_time": "3h", "alertname": "AckLatencyHigh", "exp_alerts": [{"exp_labels": {
                 "severity": "warning"}, "exp_annotations": {"summary": "99th percentile ack latency is 990ms"}}]},
         ]},
        {"interval": "1m",
         "input_series": [{"series": 'up{job="node",instance="10.0.1.1:9100",host="pg-01"}', "values": "1x120"}],
         "alert_rule_test": [
             {"eval_time": "90m", "alertname": "BackupNeverReported", "exp_alerts": [{"exp_labels": {
                 "severity": "critical"}, "exp_annotations": {"summary": "no database host reports a successful base backup"}}]},
         ]},
    ],
}


def test_each_alert_fires_on_its_failure_and_not_without_it(rendered):
    promtool, out = rendered
    (out / "alerts.test.yml").write_text(yaml.safe_dump(ALERT_TESTS, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", "alerts.test.yml"], cwd=out, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
