"""Every node the plan prices has a role in the rendered bundle (issue 16 part 5).

The private strategy of the default workload (2 database shards of 2 copies, one Sentinel-managed Redis, a
distributed MinIO) and of a 20M-MAU one (17 shards, a Redis Cluster, MinIO erasure-coded 8+4) are solved, and their
bundles rendered: hosts.example.yml holds each group's priced node count with the group's roles, the shard map names
every database host exactly once in shards of the plan's copies, and group_vars carries the plan's shard count,
Redis Cluster, MinIO redundancy and media retention, which the roles check against the inventory or apply.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml
from typer.testing import CliRunner

from planner.cli import app
from planner.render import render_bundle

CASES = {"default": [], "20m": ["--set", "users.mau=20000000"]}


@pytest.fixture(scope="module", params=list(CASES))
def rendered(request):
    result = CliRunner().invoke(app, ["plan", "--strategy", "private", "--format", "json", *CASES[request.param]])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    entry = next(s for s in plan["strategies"] if s["name"] == "private")
    return entry, render_bundle(plan, "private"), plan["workload"]["resolved"]["retention"]


def test_every_priced_node_is_a_host_with_roles(rendered):
    entry, files, _ = rendered
    hosts = yaml.safe_load(files["ansible/hosts.example.yml"])["all"]
    priced = Counter()
    for row in entry["nodes"]:
        priced[row["tier"]] += row["count"]
    # the quorum witness is a cloud VM: Terraform creates it and gives it the Sentinel role in its inventory
    if priced.pop("witness", 0):
        assert 'implan_roles = ["sentinel"]' in files["terraform/witness/main.tf"]
    groups = hosts["children"]
    assert sum(len(g["hosts"]) for g in groups.values()) == sum(priced.values())
    for name, group in groups.items():
        assert group["vars"]["implan_roles"], name                  # no idle host: each does some work
    assert sorted(len(g["hosts"]) for g in groups.values()) == sorted(priced.values())


def test_the_shard_map_holds_every_database_host_once(rendered):
    entry, files, _ = rendered
    db = next(t for t in entry["topology"] if t["tier"] == "database")
    hosts = yaml.safe_load(files["ansible/hosts.example.yml"])["all"]
    db_hosts = [h for g in hosts["children"].values() if "postgresql" in g["vars"]["implan_roles"] for h in g["hosts"]]
    shards = hosts["vars"]["implan_postgresql_shards"]
    assert len(shards) == db["shards"] and {len(s) for s in shards} == {db["replicas_per_shard"] + 1}
    assert sorted(h for s in shards for h in s) == sorted(db_hosts)
    group_vars = yaml.safe_load(files["ansible/group_vars/all/main.yml"])
    assert group_vars["implan_plan_database_shards"] == db["shards"]


def test_the_cache_and_media_tiers_are_deployed_as_the_plan_lays_them_out(rendered):
    entry, files, _ = rendered
    layout = {t["tier"]: t for t in entry["topology"]}
    group_vars = yaml.safe_load(files["ansible/group_vars/all/main.yml"])
    cache = layout["cache"]
    if cache["mode"] == "cluster":
        assert group_vars["implan_plan_redis_cluster_masters"] == cache["shards"] >= 3
        assert group_vars["implan_plan_redis_cluster_replicas"] == cache["replicas_per_shard"]
    else:
        assert "implan_plan_redis_cluster_masters" not in group_vars
    media = next(n for n in entry["nodes"] if n["tier"] == "object_storage")
    assert layout["object_storage"]["mode"] == "distributed"
    assert group_vars["minio_redundancy"] == media["redundancy"]


def test_media_retention_is_a_lifecycle_rule_on_the_minio_bucket(rendered):
    """retention.media_days reaches the MinIO role, whose lifecycle task expires media, current and noncurrent
    versions (the bucket is versioned). MinIO itself is not run by the tests (no binary here)."""
    _, files, retention = rendered
    assert retention["media_days"] > 0
    assert yaml.safe_load(files["ansible/group_vars/all/main.yml"])["minio_media_days"] == retention["media_days"]
    tasks = yaml.safe_load(files["ansible/roles/minio/tasks/main.yml"])
    rule = next(t for t in tasks if t["name"].startswith("Media retention"))
    assert '--expire-days "{{ minio_media_days | int }}" --noncurrent-expire-days 1' in rule["ansible.builtin.shell"]
    assert rule["when"] == "minio_media_days | int > 0"
