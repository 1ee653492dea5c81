"""Capacity profile: what one vCPU / GiB of each tier carries, loaded from YAML with provenance.

The default profile ships in planner/data/capacity-profile.yaml; `--profile FILE` (e.g. written by
`imserver bench --profile-out`) overrides any subset of coefficients. A profile may also describe the
published benchmark runs its coefficients come from (`runs:`: the run's workload and the resources its
servers used), so that planner/anchors.py can replay each run through the demand model; a coefficient
names its run with `run:`.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, ValidationError

from planner.errors import ProfileError
from planner.inputs import Date, InputModel, load_yaml_file

SCHEMA_ID = "implan-capacity-profile/1"


BASIS_PATTERN = "^(measured|published|derived|estimate)$"


class Coefficient(InputModel):
    value: float = Field(gt=0)
    unit: str
    source: str
    as_of: Date
    basis: str = Field(pattern=BASIS_PATTERN)
    run: str | None = None  # id of the published run (profile `runs:`) the value is derived from


class RunWorkload(InputModel):
    """A benchmark's offered load at its steady state, in the demand model's terms."""

    connections: float = Field(gt=0)
    msgs_per_s: float = Field(ge=0)
    deliveries_per_message: float = Field(ge=1)
    receipts_per_delivery: float = Field(0, ge=0)
    typing_events_per_message: float = Field(0, ge=0)
    avg_message_bytes: int = Field(500, gt=0)
    note: str = ""


class TierUse(InputModel):
    """What a run's servers of one implan tier used; a resource left out is not compared."""

    vcpu: float | None = Field(None, gt=0)
    memory_gib: float | None = Field(None, gt=0)
    note: str = ""


class BenchmarkRun(InputModel):
    title: str
    source: str
    url: str
    as_of: Date
    basis: str = Field(pattern=BASIS_PATTERN)
    server: str  # the hardware the run used, as published
    workload: RunWorkload
    used: dict[str, TierUse] = Field(min_length=1)
    whole_stack: bool = False  # `used` covers every component of the run: compare the sum as well


class _ProfileFile(InputModel):
    schema_id: str = Field(alias="schema", pattern=f"^{SCHEMA_ID}$")
    name: str
    as_of: Date
    source: str
    tiers: dict[str, dict[str, Coefficient | float]]
    runs: dict[str, BenchmarkRun] = Field(default_factory=dict)


# coefficient names each tier must end up with after merging
REQUIRED: dict[str, tuple[str, ...]] = {
    "gateway": ("connections_per_vcpu", "memory_kib_per_connection", "deliveries_per_s_per_vcpu"),
    "message": ("msgs_per_s_per_vcpu", "base_memory_gib"),
    "database": ("durable_writes_per_s_per_vcpu", "max_durable_writes_per_s_per_primary", "hot_data_fraction",
                 "row_overhead_bytes", "history_reads_per_delivery", "history_rows_per_s_per_vcpu",
                 "inbox_queries_per_s_per_vcpu", "inbox_conversations_per_s_per_vcpu", "inbox_conversations_per_user"),
    "cache": ("pubsub_ops_per_s_per_vcpu", "memory_kib_per_connection"),
    "load_balancer": ("connections_per_vcpu", "memory_kib_per_connection", "mbps_per_vcpu"),
    "node": ("os_reserved_memory_gib",),
    "serverless": ("handler_ms_per_event", "handler_ms_per_delivery", "function_memory_mb",
                   "worker_cpu_ms_per_request", "item_overhead_bytes"),
}
UTILIZATION_KEYS = ("target_cpu_utilization", "target_memory_utilization")
# coefficients that moved to another tier: a profile written before the move gets the new place in its error
MOVED = {("serverless", "history_reads_per_delivery"): "database.history_reads_per_delivery (since 2026-12-06: "
                                                        "the database tier's copies serve the same reads)"}


@dataclass(frozen=True)
class CapacityProfile:
    names: tuple[str, ...]  # profiles merged, default first
    coefficients: dict[str, dict[str, Coefficient]]
    utilization: dict[str, tuple[float, float]]  # tier -> (cpu, memory) target utilization
    runs: dict[str, BenchmarkRun] = field(default_factory=dict)  # published runs behind the coefficients

    def value(self, tier: str, name: str) -> float:
        return self.coefficients[tier][name].value

    def cpu_utilization(self, tier: str) -> float:
        return self.utilization[tier][0]

    def memory_utilization(self, tier: str) -> float:
        return self.utilization[tier][1]


def default_profile_path() -> Path:
    return Path(str(importlib.resources.files("planner") / "data" / "capacity-profile.yaml"))


def _read(path: Path) -> _ProfileFile:
    data, _ = load_yaml_file(path, "capacity profile", ProfileError)
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a YAML mapping with schema, name, as_of, source, tiers")
    try:
        parsed = _ProfileFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{path}: {where}: {first['msg']}") from None
    for tier, values in parsed.tiers.items():
        if tier not in REQUIRED:
            raise ProfileError(f"{path}: tiers.{tier}: unknown tier (expected one of {', '.join(REQUIRED)})")
        for key, value in values.items():
            known = REQUIRED[tier] + UTILIZATION_KEYS
            if (tier, key) in MOVED:
                raise ProfileError(f"{path}: tiers.{tier}.{key}: moved to {MOVED[tier, key]}")
            if key not in known:
                raise ProfileError(f"{path}: tiers.{tier}.{key}: unknown coefficient "
                                   f"(expected one of {', '.join(known)})")
            is_util = key in UTILIZATION_KEYS
            if is_util != isinstance(value, float) or (is_util and not 0 < value <= 1):
                expected = "a number in (0, 1]" if is_util else "{value, unit, source, as_of, basis}"
                raise ProfileError(f"{path}: tiers.{tier}.{key}: expected {expected}")
    for run_id, run in parsed.runs.items():
        for tier in run.used:
            if tier not in REQUIRED or tier in ("node", "serverless"):
                raise ProfileError(f"{path}: runs.{run_id}.used.{tier}: unknown tier "
                                   f"(expected one of {', '.join(t for t in REQUIRED if t not in ('node', 'serverless'))})")
    return parsed


def load_profile(path: Path | None = None) -> CapacityProfile:
    """The default profile, with `path`'s coefficients merged over it when given."""
    files = [_read(default_profile_path())] + ([_read(Path(path))] if path is not None else [])
    coefficients: dict[str, dict[str, Coefficient]] = {t: {} for t in REQUIRED}
    utilization: dict[str, list[float]] = {t: [1.0, 1.0] for t in REQUIRED}
    runs: dict[str, BenchmarkRun] = {}
    for parsed in files:
        runs.update(parsed.runs)
        for tier, values in parsed.tiers.items():
            for key, value in values.items():
                if key in UTILIZATION_KEYS:
                    utilization[tier][UTILIZATION_KEYS.index(key)] = float(value)
                else:
                    coefficients[tier][key] = value
    for tier, names in REQUIRED.items():
        missing = [n for n in names if n not in coefficients[tier]]
        if missing:
            raise ProfileError(f"capacity profile: tiers.{tier} lacks {', '.join(missing)}")
        for name, c in coefficients[tier].items():
            if c.run is not None and c.run not in runs:
                raise ProfileError(f"capacity profile: tiers.{tier}.{name}: run {c.run!r} is not described "
                                   f"(expected one of {', '.join(runs) or 'no runs'} under runs:)")
    return CapacityProfile(names=tuple(p.name for p in files), coefficients=coefficients,
                           utilization={t: (u[0], u[1]) for t, u in utilization.items()}, runs=runs)
