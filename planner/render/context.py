"""Plan dict (the `implan plan --format json` contract) → template context. Pure functions only.

The context is plain data (dicts, lists, str, int, float) so templates stay dumb and the same plan always
gives the same context, hence byte-identical files.

Mapping from the planner's tiers to what gets deployed:

    gateway, message  → imserver nodes (one stateless process type serves both tiers)
    database          → PostgreSQL: the plan's topology shards x (1 primary + replicas); imserver spreads
                        conversations over the shards' primaries (database_shards)
    cache             → Redis (pub/sub fan-out between imserver nodes): single, Sentinel or Redis Cluster
    load_balancer     → HAProxy (own servers); on a public cloud the provider's load balancer
    object_storage    → MinIO (own servers); on a public cloud the provider's object storage

A node row whose purchase is ``owned`` is one of the user's own servers (private site); any other purchase is a
cloud instance. Rows of one tier string (pooled tiers are joined with '+') and one provider form one *group*.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict

from planner.errors import PlannerError
from planner.plan_json import WITNESS_TIER, validate_plan
from planner.workload import STRATEGIES
ROLE_OF_TIER = {"gateway": "imserver", "message": "imserver", "database": "postgresql", "cache": "redis",
                "load_balancer": "loadbalancer", "object_storage": "minio"}
ROLE_ORDER = ("postgresql", "redis", "minio", "imserver", "loadbalancer")
STATEFUL_ROLES = {"postgresql", "redis", "minio"}
TERRAFORM_PROVIDERS = ("aws", "gcp", "hetzner")   # Terraform modules; other clouds are documented as manual
HETZNER_LOCATIONS = {"eu-central": ["fsn1", "nbg1", "hel1"], "us-east": ["ash"], "us-west": ["hil"],
                     "ap-southeast": ["sin"]}


def slug(text: str) -> str:
    """A name usable in Terraform identifiers, Ansible group names and file names."""
    out = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return out or "x"


def dns_slug(text: str, limit: int = 28) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "implan"


def check_renderable(strategy: str) -> None:
    """A PlannerError for a strategy implan has no bundle for (checked before the slow solve, and again here)."""
    if strategy == "serverless":
        raise PlannerError("--strategy serverless: implan renders no bundle for the serverless strategy (its API "
                           "Gateway/Lambda/DynamoDB or Workers/Durable Objects deployment is out of scope, issue 14); "
                           "expected public, private or hybrid")


def select_strategy(plan: dict, strategy: str) -> dict:
    """The strategy entry of a plan dict (checked against planner.plan_json), or a PlannerError saying why it
    cannot be rendered."""
    if strategy not in STRATEGIES:
        raise PlannerError(f"--strategy {strategy}: unknown strategy, expected one of {', '.join(STRATEGIES)}")
    check_renderable(strategy)
    validate_plan(plan, "plan")
    for entry in plan["strategies"]:
        if entry["name"] == strategy:
            if entry["monthly_cost_usd"] is None or not entry.get("nodes"):
                raise PlannerError(f"plan: strategy {strategy} has no feasible plan "
                                   f"({entry.get('message') or entry.get('status')})")
            return entry
    names = ", ".join(s["name"] for s in plan["strategies"]) or "none"
    raise PlannerError(f"plan: no strategy {strategy!r} in the plan (it has: {names})")


def aws_arch(instance_type: str) -> str:
    """Graviton families carry a 'g' after the generation digit (c7g, m7gd, r8g, c7gn, t4g)."""
    family = instance_type.split(".")[0]
    return "arm64" if re.match(r"^[a-z]+\d+[a-z]*g[a-z]*$", family) and not family.startswith("g") else "x86_64"


def gcp_arch(machine_type: str) -> str:
    return "arm64" if machine_type.split("-")[0] in ("t2a", "c4a", "n4a") else "x86_64"


def build_groups(entry: dict) -> list[dict]:
    """Node rows → deployment groups (one per tier string and provider), in a stable order."""
    groups: OrderedDict[tuple, dict] = OrderedDict()
    for node in entry["nodes"]:
        if node.get("tier") == WITNESS_TIER:
            continue  # the quorum witness VM is not a tier group (see witness_of)
        owned = node["purchase"] == "owned"
        key = (node["tier"], node["provider"], node["region"], owned)
        g = groups.get(key)
        if g is None:
            tiers = node["tier"].split("+")
            roles = [r for r in ROLE_ORDER if r in {ROLE_OF_TIER[t] for t in tiers}]
            g = groups[key] = {
                "tier": node["tier"], "tiers": tiers, "roles": roles, "provider": node["provider"],
                "region": node["region"], "site": "private" if owned else "cloud",
                "stateful": any(r in STATEFUL_ROLES for r in roles), "rows": [],
                "base_count": 0, "on_demand_count": 0, "spot_count": 0, "owned_count": 0,
                "monthly_cost_usd": 0.0, "types": [],
            }
        row = {"type": node["type"], "count": node["count"], "purchase": node["purchase"],
               "vcpu": node["vcpu"], "memory_gib": node["memory_gib"],
               "monthly_cost_usd": node.get("monthly_cost_usd", 0.0)}
        g["rows"].append(row)
        g["monthly_cost_usd"] = round(g["monthly_cost_usd"] + float(row["monthly_cost_usd"] or 0), 2)
        if node["type"] not in g["types"]:
            g["types"].append(node["type"])
        p = node["purchase"]
        if p == "owned":
            g["owned_count"] += node["count"]
        elif p.startswith("commit") or p == "on_demand":
            g["base_count"] += node["count"]
        elif p == "on_demand (autoscaled)":
            g["on_demand_count"] += node["count"]
        else:
            g["spot_count"] += node["count"]
    names: dict[str, int] = {}
    out = []
    for g in groups.values():
        base = slug(g["tier"]) + ("" if g["site"] == "cloud" else "_own")
        if g["site"] == "cloud" and any(x["site"] == "cloud" and x["tier"] == g["tier"] and x is not g
                                        for x in groups.values()):
            base += "_" + slug(g["provider"])
        n = names.get(base, 0)
        names[base] = n + 1
        g["name"] = base if n == 0 else f"{base}_{n + 1}"
        g["total_count"] = g["owned_count"] + g["base_count"] + g["on_demand_count"] + g["spot_count"]
        first = g["rows"][0]
        g["primary_type"], g["vcpu"], g["memory_gib"] = first["type"], first["vcpu"], first["memory_gib"]
        out.append(g)
    return out


def witness_of(entry: dict) -> dict | None:
    """The plan's quorum witness (a small cloud VM when own servers spread over two cabinets), or None.

    It runs the third Redis Sentinel: with a Redis host in each cabinet, losing a cabinet leaves two of three
    votes, enough to promote the surviving replica. A row is checked like every node row; more than one
    witness row is refused (the planner prices exactly one)."""
    rows = [n for n in entry["nodes"] if n.get("tier") == WITNESS_TIER and n.get("count")]
    if not rows:
        return None
    if len(rows) > 1 or rows[0]["count"] != 1:
        raise PlannerError(f"plan: expected one quorum witness VM, got {sum(n['count'] for n in rows)}")
    n = rows[0]
    arch = {"aws": aws_arch, "gcp": gcp_arch}.get(n["provider"], lambda _t: "x86_64")(n["type"])
    return {"provider": n["provider"], "region": n["region"], "type": n["type"], "arch": arch,
            "vcpu": n["vcpu"], "memory_gib": n["memory_gib"], "purchase": n["purchase"],
            "monthly_cost_usd": n.get("monthly_cost_usd", 0.0), "terraform": n["provider"] in TERRAFORM_PROVIDERS,
            "disk_type": gcp_disk_type(n["type"]) if n["provider"] == "gcp" else "",
            "location": HETZNER_LOCATIONS.get(n["region"], [n["region"]])[0]}


def _aws_group(g: dict) -> dict:
    """Terraform shape of one AWS group: fixed instances for stateful tiers, an autoscaling group otherwise.

    Stateless groups: min = the always-on base (committed or plain on-demand; never scaled in), max = base +
    on-demand + spot peak nodes, the on-demand base capacity = the base, spot for the share of the autoscaled peak the plan put on spot.
    Stateful groups run fixed instances (commitments are a billing construct: buy them as Savings Plans or RIs).
    """
    autoscaled = g["on_demand_count"] + g["spot_count"]
    base = g["base_count"]
    spot_pct = 0
    if autoscaled:
        spot_pct = round(100 * g["spot_count"] / autoscaled)
    asg = not g["stateful"]
    fixed = base + autoscaled if g["stateful"] else 0
    return {
        "name": g["name"], "tier": g["tier"], "roles": g["roles"], "asg": asg,
        "instance_type": g["primary_type"], "types": g["types"], "arch": aws_arch(g["primary_type"]),
        "min_size": max(base, 1) if asg else 0, "max_size": max(base + autoscaled, 1) if asg else 0,
        "desired": max(base, 1) if asg else 0,
        "on_demand_base": base, "on_demand_above_base_pct": 100 - spot_pct, "spot": g["spot_count"] > 0,
        "fixed_count": fixed, "serves_lb": "imserver" in g["roles"],
        "spot_on_stateful": g["stateful"] and g["spot_count"] > 0,
        "volume_gib": 100 if "postgresql" in g["roles"] else 30,
    }


# Machine series that attach Hyperdisk only (no Persistent Disk), per Google Cloud's machine-series documentation.
GCP_HYPERDISK_ONLY_SERIES = ("c4", "c4a", "c4d", "n4")


def gcp_disk_type(machine_type: str) -> str:
    return "hyperdisk-balanced" if machine_type.split("-")[0] in GCP_HYPERDISK_ONLY_SERIES else "pd-balanced"


def _gcp_group(g: dict) -> dict:
    autoscaled = g["on_demand_count"] + g["spot_count"]
    return {
        "name": g["name"], "tier": g["tier"], "roles": g["roles"], "machine_type": g["primary_type"],
        "arch": gcp_arch(g["primary_type"]), "min_size": max(g["base_count"], 1),
        "max_size": max(g["base_count"] + autoscaled, 1), "stateful": g["stateful"],
        "spot": g["spot_count"] > 0 and not g["stateful"], "serves_lb": "imserver" in g["roles"],
        "disk_gib": 100 if "postgresql" in g["roles"] else 30, "disk_type": gcp_disk_type(g["primary_type"]),
    }


# Hetzner Cloud limits: a spread placement group holds at most 10 servers, a network at most 100 servers.
# Source: issue 11 and the limits quoted in kube-hetzner/terraform-hcloud-kube-hetzner PR #1217 (not re-checked
# against Hetzner's own documentation from here).
HETZNER_SPREAD_GROUP_SERVERS = 10
HETZNER_NETWORK_SERVERS = 100
HETZNER_NETWORK_PREFIX = 16          # the template's default ip_range (10.0.0.0/16)
HETZNER_SUBNET_PREFIX_MAX = 24       # the smallest subnet the bundle creates


def _hetzner_groups(groups: list[dict]) -> list[dict]:
    """Hetzner has no autoscaling groups: every group runs the plan's peak count as fixed servers.

    Each group gets consecutive private addresses from ``host_offset`` and one spread placement group per 10 of
    its servers; more servers than one network holds is an error rather than a bundle that cannot apply.
    """
    out, offset = [], 10
    for g in groups:
        autoscaled = g["on_demand_count"] + g["spot_count"]
        count = g["base_count"] + autoscaled
        out.append({"name": g["name"], "tier": g["tier"], "roles": g["roles"], "server_type": g["primary_type"],
                    "count": count, "autoscaled": autoscaled > 0, "stateful": g["stateful"],
                    "serves_lb": "imserver" in g["roles"], "host_offset": offset,
                    "placement_groups": max(1, -(-count // HETZNER_SPREAD_GROUP_SERVERS))})
        offset += max(count, 1) + 10
    total = sum(g["count"] for g in out)
    if total > HETZNER_NETWORK_SERVERS:
        raise PlannerError(f"plan: Hetzner Cloud group(s) {', '.join(g['name'] for g in out)} need {total} servers "
                           f"in one private network; Hetzner allows {HETZNER_NETWORK_SERVERS} servers per network "
                           "(use larger server types or split the deployment)")
    return out


def hetzner_subnet_newbits(groups: list[dict]) -> int:
    """Bits to add to the /16 network so the subnet holds the highest host offset (never smaller than a /24)."""
    highest = max((g["host_offset"] + g["count"] for g in groups), default=0)
    prefix = min(HETZNER_SUBNET_PREFIX_MAX, 32 - (highest + 1).bit_length())
    return prefix - HETZNER_NETWORK_PREFIX


def fixed_load_balancers(entry: dict, catalog: str) -> dict:
    """The fixed-size load balancers the plan buys on `catalog` (its "load balancers" line): their type and count.
    A plan priced before fixed-size load balancers had their own line gets one, and says so."""
    line = next((ln for ln in entry.get("lines", []) if ln.get("unit") == "load balancers"
                 and ln.get("catalog") == catalog), None)
    if line is None:
        return {"count": 1, "type": "lb11", "priced": False}
    count = math.ceil(float(line.get("quantity") or 0) - 1e-9)
    return {"count": max(count, 1), "type": str(line.get("item", "lb11")).split()[0], "priced": True}


def _hetzner(groups: list[dict], entry: dict) -> dict:
    rendered = _hetzner_groups(groups)
    return {"region": region_of(groups), "groups": rendered, "subnet_newbits": hetzner_subnet_newbits(rendered),
            "locations": HETZNER_LOCATIONS.get(region_of(groups), [region_of(groups)]),
            "load_balancers": fixed_load_balancers(entry, "hetzner")}


def backup_target(entry: dict, groups: list[dict]) -> dict:
    """Where pgBackRest puts the database's WAL and base backups: the object store the plan prices the database
    backup copy on (its line, with quantity, price and source, when the plan has one).

    Database on a cloud: that cloud's object storage (S3 on AWS, Cloud Storage on GCP, Hetzner Object Storage);
    on own servers: the site's off-site backup target (an S3-compatible store such as Backblaze B2)."""
    line = next((ln for ln in entry.get("lines", []) if "backup copy" in str(ln.get("item", ""))
                 and "database" in str(ln.get("item", ""))), None)
    db = next((g for g in groups if "postgresql" in g["roles"]), None)
    provider = db["provider"] if db and db["site"] == "cloud" else ""
    repo = {"aws": {"type": "s3", "endpoint": f"s3.{db['region']}.amazonaws.com" if db else "",
                    "region": db["region"] if db else "", "key_type": "auto"},
            "gcp": {"type": "gcs", "endpoint": "", "region": "", "key_type": "auto"},
            "hetzner": {"type": "s3", "endpoint": f"{HETZNER_LOCATIONS.get(db['region'], ['fsn1'])[0]}"
                        ".your-objectstorage.com" if db else "",
                        "region": HETZNER_LOCATIONS.get(db["region"], ["fsn1"])[0] if db else "",
                        "key_type": "shared"}}.get(provider, {"type": "s3", "endpoint": "", "region": "",
                                                              "key_type": "shared"})
    priced = None
    if line:
        priced = {k: line.get(k) for k in ("item", "quantity", "unit", "usd_per_unit", "monthly_cost_usd", "catalog",
                                           "source", "url", "as_of")}
    return dict(repo, provider=provider or "own servers", priced=priced)


def _media_backend(groups: list[dict]) -> str:
    """minio on own storage servers; otherwise the cloud's object storage (S3 API; GCS is separate)."""
    if any("minio" in g["roles"] for g in groups):
        return "minio"
    cloud = [g["provider"] for g in groups if g["site"] == "cloud"]
    if not cloud:
        return "local"
    return "gcs" if cloud[0] == "gcp" else "s3"


def bom_rows(entry: dict, groups: list[dict], witness: dict | None = None) -> list[dict]:
    """Bill of materials: every node row (instances and servers, the quorum witness), then the plan's other
    cost lines."""
    rows = []
    for g in groups:
        for r in g["rows"]:
            rows.append({"kind": "server" if r["purchase"] == "owned" else "instance", "site": g["site"],
                         "provider": g["provider"], "region": g["region"], "tier": g["tier"], "item": r["type"],
                         "quantity": r["count"], "unit": "servers" if r["purchase"] == "owned" else "instances",
                         "purchase": r["purchase"], "vcpu": r["vcpu"], "memory_gib": r["memory_gib"],
                         "monthly_cost_usd": r["monthly_cost_usd"]})
    if witness:
        rows.append({"kind": "instance", "site": "cloud", "provider": witness["provider"], "region": witness["region"],
                     "tier": WITNESS_TIER, "item": witness["type"], "quantity": 1, "unit": "instances",
                     "purchase": witness["purchase"], "vcpu": witness["vcpu"], "memory_gib": witness["memory_gib"],
                     "monthly_cost_usd": witness["monthly_cost_usd"]})
    for line in entry.get("lines", []):
        if line.get("category") == "compute" or str(line.get("item", "")).endswith("amortized over 5 years"):
            continue   # already listed as node rows above
        unit = line.get("unit", "")
        kind = {"racks": "rack", "Mbps": "transit", "FTE": "labour", "kWh": "power"}.get(unit, line.get("category"))
        rows.append({"kind": kind, "site": "", "provider": line.get("catalog", ""), "region": "",
                     "tier": "", "item": line.get("item", ""), "quantity": line.get("quantity", ""),
                     "unit": unit, "purchase": "", "vcpu": "", "memory_gib": "",
                     "monthly_cost_usd": line.get("monthly_cost_usd", "")})
    return rows


def layout_of(entry: dict, groups: list[dict]) -> dict:
    """The stateful tiers' layout the bundle deploys: the plan's `topology` (schema 2.2), or for an older plan the
    layout its node rows imply (one database shard, its other hosts replicas; one Redis master)."""
    found = {t["tier"]: t for t in entry.get("topology") or []}
    db_hosts = sum(g["total_count"] for g in groups if "postgresql" in g["roles"])
    redis_hosts = sum(g["total_count"] for g in groups if "redis" in g["roles"])
    db = found.get("database")
    cache = found.get("cache")
    media = found.get("object_storage")
    if db and db["nodes"] != db_hosts:
        raise PlannerError(f"plan: topology database runs on {db['nodes']} nodes but the node rows hold {db_hosts} "
                           "database hosts")
    return {
        "database_shards": db["shards"] if db else (1 if db_hosts else 0),
        "database_copies": db["replicas_per_shard"] + 1 if db else max(db_hosts, 1),
        "redis_mode": cache["mode"] if cache else ("sentinel" if redis_hosts >= 2 else "single"),
        "redis_masters": cache["shards"] if cache else 1,
        "redis_replicas": cache["replicas_per_shard"] if cache else max(redis_hosts - 1, 0),
        "minio_distributed": bool(media),
        "media_redundancy": next((n.get("redundancy") for n in entry["nodes"] if n.get("tier") == "object_storage"
                                  and n.get("redundancy")), ""),
    }


def region_of(groups: list[dict]) -> str:
    return groups[0]["region"] if groups else ""


def build_context(plan: dict, strategy: str, *, wheel_name: str | None = None) -> dict:
    """Everything the templates need, derived from the plan dict only (plus the carried wheel's file name)."""
    entry = select_strategy(plan, strategy)
    groups = build_groups(entry)
    witness = witness_of(entry)
    workload = plan.get("workload", {})
    resolved = workload.get("resolved", {}) or {}
    retention = resolved.get("retention", {}) or {}
    name = str(workload.get("name") or "implan")
    deployment = dns_slug(f"{name}-{strategy}", 40)
    cloud = [g for g in groups if g["site"] == "cloud"]
    private = [g for g in groups if g["site"] == "private"]
    aws = [g for g in cloud if g["provider"] == "aws"]
    gcp = [g for g in cloud if g["provider"] == "gcp"]
    hetzner = [g for g in cloud if g["provider"] == "hetzner"]
    manual_cloud = [g for g in cloud if g["provider"] not in TERRAFORM_PROVIDERS]
    roles_present = sorted({r for g in groups for r in g["roles"]}, key=ROLE_ORDER.index)
    has_lb_tier = "loadbalancer" in roles_present
    availability = (resolved.get("availability") or {}).get("target_percent", 99.9)
    return {
        "deployment": deployment,
        "name_prefix": dns_slug(deployment, 20),
        "strategy": strategy,
        "schema_version": plan.get("schema_version", ""),
        "generator": plan.get("generator", ""),
        "workload": {"name": name, "mau": workload.get("mau"),
                     "message_days": retention.get("message_days", 0) or 0,
                     "media_days": retention.get("media_days", 0) or 0,
                     "media_hot_days": retention.get("media_hot_days", 30) or 30,
                     "availability_percent": availability},
        "catalogs": [{"name": c.get("name"), "as_of": c.get("as_of"), "sha256": c.get("sha256")}
                     for c in plan.get("catalogs", [])],
        "plan": {"status": entry.get("status"), "monthly_cost_usd": entry.get("monthly_cost_usd"),
                 "location": entry.get("location", ""), "pooling": entry.get("pooling", ""),
                 "breakdown": [{"category": k, "usd": v} for k, v in (entry.get("breakdown") or {}).items()],
                 "message": entry.get("message", "")},
        "groups": groups,
        "roles_present": roles_present,
        "aws": {"region": region_of(aws), "groups": [_aws_group(g) for g in aws],
                "az_count": 3 if availability >= 99.9 else 2,
                "azs": [f"{region_of(aws)}{z}" for z in ("a", "b", "c")[: 3 if availability >= 99.9 else 2]]}
        if aws else None,
        "gcp": {"region": region_of(gcp), "groups": [_gcp_group(g) for g in gcp]} if gcp else None,
        "hetzner": _hetzner(hetzner, entry) if hetzner else None,
        "manual_cloud": manual_cloud,
        "private_groups": private,
        "has_terraform": bool(aws or gcp or hetzner or (witness and witness["terraform"])),
        "has_lb_tier": has_lb_tier,
        "media_backend": _media_backend(groups),
        "retention_days": retention.get("message_days", 0) or 0,
        "wheel_name": wheel_name or "",
        "witness": witness,
        "layout": layout_of(entry, groups),
        "backup": backup_target(entry, groups) if "postgresql" in roles_present else None,
        "bom": bom_rows(entry, groups, witness),
    }
