"""Helpers shared by the planner tests: catalog writers, small workloads, contexts with chosen requirements."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from planner.demand import TierRequirement
from planner.optimize.context import PlanContext
from planner.workload import Workload

ROOT = Path(__file__).resolve().parents[2]
TINY_DIR = ROOT / "tests" / "fixtures" / "tiny-catalog"
SOURCES = {"test": {"title": "test fixture (not a real price)", "url": "https://example.invalid/test",
                    "as_of": "2026-11-01"}}


def read_tiny(name: str) -> dict:
    """One tiny catalog file as a dict (cloudx, colox or chatco), to copy and edit."""
    return yaml.safe_load((TINY_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def write_catalogs(directory: Path, files: dict[str, dict], fx: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    if fx is not None:
        (directory / "fx.yaml").write_text(yaml.safe_dump(fx, sort_keys=False), encoding="utf-8")
    return directory


def tiny_files() -> dict[str, dict]:
    return {name: read_tiny(name) for name in ("cloudx", "colox", "chatco")}


def free_public(offerings: list[dict], region: str = "r1", jurisdiction: str = "US", domains: int = 3,
                provider: str = "cloudx") -> dict:
    """A public catalog whose region-level prices are all zero or negligible, so a plan's cost is its compute
    (the workloads of the known-answer tests store nothing and send nothing)."""
    row = {"region": region, "source": "test"}
    return {
        "schema": "implan-catalog/1", "provider": provider, "kind": "public", "title": "known-answer cloud",
        "sources": copy.deepcopy(SOURCES),
        "regions": [{"id": region, "name": "Region", "jurisdiction": jurisdiction, "failure_domains": domains}],
        "compute": [{"region": region, "family": "f", "class": "general", "arch": "x86_64", "source": "test", **o}
                    for o in offerings],
        "block_storage": [{**row, "name": "ssd", "per_gb_month": 0.1}],
        "object_storage": [{**row, "storage_class": "standard", "per_gb_month": 0.02}],
        "transfer": [{**row, "kind": "internet", "tiers": [{"per_gb": 0.0}]}],
        "network": [{**row, "cross_zone_per_gb": 0.0, "inter_region_per_gb": 0.0}],
        "load_balancers": [{**row, "name": "lb", "per_hour": 0.0, "per_capacity_unit_hour": 0.0,
                            "unit_active_connections": 1000, "unit_new_connections_per_s": 100,
                            "unit_gb_per_hour": 1}],
    }


# labour priced at (almost) nothing, for the known-answer tests of other terms (labour has its own tests)
NO_LABOUR = {"fte_per_system": 0, "minimum_fte": 0, "nodes_per_fte": 1e12, "hardware_servers_per_fte": 1e12}


def quiet_workload(**sections) -> Workload:
    """A workload that stores and sends nothing (no messages, no media): region-level costs are zero and
    the test sets the tiers' resource needs itself (see context_with). No labour, no cost of capital."""
    data = {"name": "known-answer", "messaging": {"messages_per_dau_per_day": 0, "media_share": 0},
            "availability": {"target_percent": 99.0}, "placement": {"pooling": "dedicated"},
            "saas": {"compare": False}, "labour": dict(NO_LABOUR), "private": {"cost_of_capital_percent": 0}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return Workload.model_validate(data)


def requirement(tier: str, vcpu, memory_gib=None, *, stateful=False, spot=True, min_nodes=1) -> TierRequirement:
    vcpu = tuple(float(v) for v in (vcpu if isinstance(vcpu, (list, tuple)) else [vcpu] * 24))
    memory = tuple(float(m) for m in (memory_gib if isinstance(memory_gib, (list, tuple))
                                      else [memory_gib or 0.0] * 24))
    if stateful:
        vcpu, memory = (max(vcpu),) * 24, (max(memory),) * 24
    return TierRequirement(tier, vcpu, memory, stateful, spot and not stateful, min_nodes)


def context_with(workload: Workload, profile, catalog, requirements: dict[str, TierRequirement],
                 reserved_gib: float = 0.0) -> PlanContext:
    """A plan context whose tier requirements are given (tiers not named need nothing)."""
    base = PlanContext.build(workload, profile, catalog)
    reqs = {t: requirements.get(t, requirement(t, 0.0, 0.0)) for t in base.requirements}
    return PlanContext(workload, profile, catalog, base.demand, reqs, reserved_gib)


TIMING = re.compile(r"\d+\.\d+ s\b")


def strip_timing(text: str) -> str:
    """Golden files never hold solver seconds; trailing spaces are not significant either."""
    return "\n".join(TIMING.sub("<t> s", line).rstrip() for line in text.splitlines()) + "\n"
