"""Plan data: frozen dataclasses the optimizer fills and the reports read (no behaviour besides sums)."""

from __future__ import annotations

from dataclasses import dataclass, field

from planner.catalog.records import PriceRef

SOLVERS = ("highs", "cbc")  # MILP solvers implan drives through PuLP; cbc is the fallback

# Breakdown categories of every plan (the JSON contract's `breakdown` keys).
COMPUTE = "compute"
STORAGE = "storage"
NETWORK = "egress_network"
LOAD_BALANCING = "load_balancing"
HARDWARE = "hardware_amortization"
FACILITIES = "facilities_power"
LABOUR = "labour"
SAAS_FEES = "saas_fees"
CATEGORIES = (COMPUTE, STORAGE, NETWORK, LOAD_BALANCING, HARDWARE, FACILITIES, LABOUR, SAAS_FEES)


@dataclass(frozen=True)
class CostLine:
    category: str
    item: str
    quantity: float
    unit: str
    monthly_cost_usd: float
    ref: PriceRef | None = None
    usd_per_unit: float | None = None  # graduated prices: the effective (average) price per unit
    tiers: tuple = ()  # TransferTier list of a graduated price
    basis: str = ""  # how the quantity was derived, where a reader needs it


@dataclass(frozen=True)
class Node:
    tier: str  # a tier name, or "+"-joined tiers for a pooled group
    provider: str
    region: str
    type: str
    count: int  # nodes at the busiest slice (for autoscaled rows) or always on
    purchase: str  # commit_1y | commit_3y | on_demand | spot | owned
    monthly_cost_usd: float
    node_hours_per_month: float
    vcpu: int
    memory_gib: float
    ref: PriceRef | None = None
    redundancy: str = ""  # a storage group's scheme over its nodes ("2 copies", "erasure coding 8+4")


@dataclass(frozen=True)
class TierTopology:
    """How a stateful tier runs on the nodes the plan prices: what the bundle deploys (planner/shards.py)."""

    tier: str  # database, cache or object_storage
    system: str  # PostgreSQL, Redis, MinIO
    mode: str  # sharded | single | sentinel | cluster | distributed
    shards: int  # primaries (database, Redis masters); object storage: 1 (one cluster)
    replicas_per_shard: int
    nodes: int  # the priced nodes it runs on
    host_group: str  # the node rows' tier it runs on (a pooled group's name when pooled)
    basis: str  # what decided the shard count, in words


@dataclass(frozen=True)
class TierUsage:
    tier: str
    peak_utilization_cpu: float  # demand at the peak slice / capacity of the nodes then running
    peak_utilization_memory: float
    binding_resource: str  # "vcpu", "memory", "availability" (min nodes / HA) or "storage"


@dataclass(frozen=True)
class SolverInfo:
    name: str
    status: str  # optimal | feasible | infeasible | error | not_solved
    gap: float | None
    seconds: float
    objective_usd: float | None
    message: str = ""


@dataclass(frozen=True)
class StrategyPlan:
    name: str
    status: str
    monthly_cost_usd: float | None
    location: str
    pooling: str  # "pooled" or "dedicated"
    lines: tuple[CostLine, ...]
    nodes: tuple[Node, ...]
    usage: tuple[TierUsage, ...]
    solver: SolverInfo
    alternatives: dict[str, float | None] = field(default_factory=dict)  # variant -> monthly cost
    skipped: dict[str, float] = field(default_factory=dict)  # variant -> LP lower bound above the chosen cost
    message: str = ""
    placement: str = ""  # hybrid: burst, media-on-own-servers or media-in-cloud
    topology: tuple[TierTopology, ...] = ()  # the stateful tiers' shards and replicas

    def breakdown(self) -> dict[str, float]:
        out = {c: 0.0 for c in CATEGORIES}
        for line in self.lines:
            out[line.category] += line.monthly_cost_usd
        return out


# What a SaaS quote is: fully priced from published prices, priced only in part (a lower bound: some fee of the
# plan is not published), above a published cap (sales quote), or left out by placement.residency.
SAAS_PRICED, SAAS_PARTIAL, SAAS_QUOTE, SAAS_EXCLUDED = "priced", "partial", "quote", "excluded"


@dataclass(frozen=True)
class SaasQuote:
    provider: str
    plan: str
    metric: str
    units: float
    monthly_cost_usd: float | None  # only for status "priced"; None otherwise
    lines: tuple[CostLine, ...]
    note: str = ""  # why the offer is not priced (quote, excluded, partial)
    status: str = SAAS_PRICED
    fees_usd: dict[str, float] = field(default_factory=dict)  # fee group (planner.saas.FEE_GROUPS) -> USD/month
    published_fees_usd: float | None = None  # sum of the priced lines (a lower bound when status is "partial")
    flags: tuple[str, ...] = ()  # what the price does not cover (retention below the workload's, ...)
    jurisdictions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PlanResult:
    """Everything one `implan plan`/`compare` run found: the input to every report format."""

    workload_name: str
    workload: dict  # resolved workload (every default filled in)
    demand_summary: dict[str, float]
    profile_names: tuple[str, ...]
    catalogs: tuple  # CatalogInfo
    strategies: tuple[StrategyPlan, ...]
    saas: tuple[SaasQuote, ...]
    mau: int
    dau: float
    notes: tuple[str, ...] = ()

    def feasible(self) -> list[StrategyPlan]:
        return [s for s in self.strategies if s.monthly_cost_usd is not None and s.status in ("optimal", "feasible")]

    def cheapest(self) -> tuple[str, str, float] | None:
        """(kind, name, monthly USD) of the cheapest option among strategies and priceable SaaS offers."""
        options = [("strategy", s.name, s.monthly_cost_usd) for s in self.feasible()]
        options += [("saas", f"{q.provider}/{q.plan}", q.monthly_cost_usd) for q in self.saas
                    if q.monthly_cost_usd is not None]
        return min(options, key=lambda o: o[2]) if options else None
