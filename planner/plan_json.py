"""The plan JSON contract (`implan plan --format json`), as typed models: what `report` writes and what `diff`,
`check`, `bundle --plan` and the bundle renderer read (issue 9). docs/plan-json.md embeds the field table
`reference_markdown()` generates from these models.

Reading is strict where a reader could be misled: numbers are finite, within ±MAX_FIGURE and never booleans,
strings are strings, node rows use the known tiers and purchase options, and a strategy, SaaS offer or catalog
appears once. Fields a newer minor version may add are let through (``extra="allow"``); the fields schema 2.0
added to 1.0 (unit prices, tiers, basis, the SaaS status fields, placement) are optional, so 1.x baselines read
alike. ``read_plan`` and ``validate_plan`` return the plan dict itself, checked: what the readers compute with is
exactly what the file holds.
"""

from __future__ import annotations

import json
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import PlannerError
from planner.inputs import MAX_FIGURE, read_input
from planner.model import SAAS_EXCLUDED, SAAS_PARTIAL, SAAS_PRICED, SAAS_QUOTE
from planner.workload import STRATEGIES, TIERS

SUPPORTED_MAJORS = ("1", "2")  # 2.0 added unit prices to lines; both read alike
WITNESS_TIER = "witness"  # a private plan over two cabinets prices a small cloud VM as the third quorum vote
# Always-on rows: commit_1y, commit_3y, on_demand (no commitment chosen); rows added in busy hours carry
# "(autoscaled)"; owned = your own servers.
PURCHASES = ("commit_1y", "commit_3y", "on_demand", "on_demand (autoscaled)", "spot (autoscaled)", "owned")


class PlanFileError(PlannerError):
    """A plan JSON is missing, not JSON or not an implan plan (exit 2)."""


# ---------- field types ----------

Figure = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_FIGURE, le=MAX_FIGURE)]
Money = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_FIGURE, le=MAX_FIGURE,
                               description="USD a month")]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_FIGURE)]
Text = Annotated[str, Field(strict=True)]


def _check_tier(value: str) -> str:
    for tier in value.split("+"):
        if tier not in TIERS and value != WITNESS_TIER:
            raise ValueError(f"unknown tier {tier!r} (expected {', '.join(TIERS)} joined with '+', or "
                             f"{WITNESS_TIER})")
    return value


class Contract(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False, frozen=True)


class PriceSource(Contract):
    catalog: Optional[Text] = Field(None, description="catalog the price comes from (file name without .yaml)")
    source: Text = Field(None, description="title of the price's source")
    url: Text = Field(None, description="URL of the price's source")
    as_of: Text = Field(None, description="date of the price (YYYY-MM-DD)")
    estimate: Text = Field(None, description="basis of the price, present only when it is an estimate")


class PriceTier(Contract):
    up_to_gb: Optional[Figure] = Field(description="upper end of the tier in GB a month (null: no upper end)")
    usd_per_gb: Figure = Field(description="USD per GB within the tier")


class Line(PriceSource):
    category: Text = Field(description="breakdown category the cost counts in")
    item: Text = Field(description="what is paid for (lines are matched across plans by category and item)")
    quantity: Figure = Field(description="quantity a month, in `unit`")
    unit: Optional[Text] = Field(None, description="unit of `quantity` (GB, node-hours, FTE, racks, ...)")
    usd_per_unit: Optional[Figure] = Field(None, description="USD per unit; for a graduated price the average "
                                                             "(since 2.0)")
    tiers: list[PriceTier] = Field(None, description="the graduated prices (since 2.0)")
    basis: Text = Field(None, description="how the quantity was derived, where a reader needs it "
                                                    "(since 2.0)")
    monthly_cost_usd: Money = Field(description="quantity × usd_per_unit, USD a month")


class Node(PriceSource):
    tier: Annotated[Text, AfterValidator(_check_tier),
                    Field(description="tier name, several joined with '+' when pooled, or witness")]
    provider: Text = Field(description="cloud provider or private site provider")
    region: Text = Field(description="region or site")
    type: Text = Field(description="instance type or server SKU")
    count: Count = Field(description="nodes always on, or at the busiest hour for autoscaled rows")
    purchase: Literal[PURCHASES] = Field(description="how the nodes are bought")
    monthly_cost_usd: Money = Field(description="the row's own cost (instance-hours, or the servers' monthly "
                                                "payment), USD a month")
    node_hours_per_month: Figure = Field(None, description="node-hours billed a month")
    vcpu: Figure = Field(description="vCPUs per node")
    memory_gib: Figure = Field(description="memory per node, GiB")
    redundancy: Text = Field(None, description="a storage group's scheme over its nodes (since 2.2)")


class Topology(Contract):
    tier: Literal["database", "cache", "object_storage"] = Field(description="the stateful tier")
    system: Text = Field(description="what runs it: PostgreSQL, Redis or MinIO")
    mode: Literal["sharded", "single", "sentinel", "cluster", "distributed"] = Field(
        description="database: sharded (shards x (1 primary + replicas)); cache: single, sentinel (one master, "
                    "replicas, Sentinels) or cluster (Redis Cluster); object storage: distributed")
    shards: Count = Field(description="primaries (database) or masters (cache); 1 for object storage")
    replicas_per_shard: Count = Field(description="replicas of each primary or master")
    nodes: Count = Field(description="the priced nodes it runs on")
    host_group: Text = Field(description="the node rows' tier it runs on (a pooled group's name when pooled)")
    basis: Text = Field(description="what decided the shard count, in words")


class Usage(Contract):
    tier: Text = Field(description="tier")
    peak_utilization_cpu: Figure = Field(description="busiest-hour CPU use / capacity (0..1)")
    peak_utilization_memory: Figure = Field(description="busiest-hour memory use / capacity (0..1)")
    binding_resource: Text = Field(None, description="the resource that sized the tier")


class Solver(Contract):
    name: Text = Field(description="MILP solver used")
    status: Text = Field(description="optimal, feasible, infeasible, not_solved or error")
    gap: Optional[Figure] = Field(None, description="relative optimality gap at the end (null: none)")
    seconds: Figure = Field(description="solve time, seconds (varies run to run)")
    objective_usd: Optional[Money] = Field(None, description="what the MILP minimized, USD a month")
    message: Text = Field(None, description="the solver's verdict in words")


class Strategy(Contract):
    name: Literal[STRATEGIES] = Field(description="public, private, hybrid or serverless")
    status: Text = Field(None, description="optimal, feasible, infeasible, not_solved or error")
    monthly_cost_usd: Optional[Money] = Field(description="total, USD a month (null: no feasible plan)")
    cost_per_mau_usd: Optional[Figure] = Field(None, description="USD a month per monthly active user")
    cost_per_1k_dau_usd: Optional[Figure] = Field(None, description="USD a month per 1,000 daily active users")
    location: Text = Field(None, description="where the plan runs, in words")
    pooling: Text = Field(None, description="pooled or dedicated: the variant kept")
    placement: Text = Field(None, description="hybrid only: burst, or the tiers in the cloud (e.g. "
                                                        "gateway+cache-in-cloud, media-on-own-servers)")
    pooling_alternatives: dict[str, Optional[Money]] = Field(
        None, description="every variant solved and its cost (null: not feasible), USD a month")
    skipped_alternatives: dict[str, Money] = Field(
        None, description="variants not solved because their LP-relaxation lower bound, USD a month, is above "
                          "the chosen plan's cost (since 2.1)")
    breakdown: dict[str, Money] = Field({}, description="cost by category, USD a month; sums to monthly_cost_usd")
    nodes: list[Node] = Field([], description="the nodes to run")
    topology: list[Topology] = Field(None, description="how the stateful tiers run on those nodes: shards, "
                                                       "primaries and replicas (since 2.2)")
    usage: list[Usage] = Field(None, description="peak utilization per tier")
    lines: list[Line] = Field([], description="every cost of the plan, one line per cost term")
    solver: Solver = Field(None, description="how the MILP was solved")
    message: Text = Field(None, description="why there is no plan, or what was left out")


class SaasQuote(Contract):
    provider: Text = Field(description="SaaS vendor")
    plan: Text = Field(description="the vendor's plan")
    metric: Text = Field(None, description="what the price is per (mau, dau, connections, ...)")
    units: Figure = Field(None, description="how many of `metric` the workload needs")
    monthly_cost_usd: Optional[Money] = Field(description="USD a month; a number only for status priced")
    note: Text = Field(None, description="the reason for every status but priced")
    lines: list[Line] = Field([], description="the fees as cost lines")
    status: Literal[SAAS_PRICED, SAAS_PARTIAL, SAAS_QUOTE, SAAS_EXCLUDED] = Field(
        None, description="priced, partial (a lower bound), quote or excluded (since 2.0)")
    jurisdictions: Optional[list[Text]] = Field(None, description="where the data lives (null: not stated)")
    fees_usd: dict[str, Money] = Field(None, description="monthly fees by group, USD a month")
    published_fees_usd: Optional[Money] = Field(None, description="sum of the published fees, USD a month")
    flags: list[Text] = Field(None, description="what the price does not cover")


class Catalog(Contract):
    name: Text = Field(description="catalog name (file name without .yaml)")
    sha256: Text = Field(description="sha256 of the catalog file the plan was priced with")
    provider: Text = Field(None, description="provider the catalog prices")
    kind: Text = Field(None, description="public, private, saas, serverless, labour or fx")
    as_of: Text = Field(None, description="date of the catalog's oldest price (YYYY-MM-DD)")


class PlanWorkload(Contract):
    name: Text = Field(description="workload name")
    mau: Annotated[int, Field(strict=True, gt=0, le=MAX_FIGURE, description="monthly active users")]
    derived: dict[str, Figure] = Field(description="derived demand: dau, peak connections, messages, storage, ...")
    resolved: dict[str, Any] = Field(None, description="the workload with every default filled in")


class Ratio(Contract):
    saas: Text = Field(description="SaaS offer, provider/plan")
    strategy: Text = Field(description="strategy")
    ratio: Figure = Field(description="SaaS cost / strategy cost")


class Claim(Contract):
    strategy: Text = Field(description="public or private")
    claimed_ratio: Figure = Field(description="the published claim: SaaS costs this many times self-hosting")
    saas_offers: Count = Field(description="priced offers compared")
    min_ratio: Figure = Field(description="smallest SaaS / strategy ratio")
    median_ratio: Figure = Field(description="median ratio")
    max_ratio: Figure = Field(description="largest ratio")
    claim_met_by_median: Annotated[bool, Field(strict=True, description="median ratio >= claimed ratio")]
    offers_excluded: Count = Field(None, description="offers left out by residency")
    offers_quote: Count = Field(None, description="offers left out as quote only")
    offers_partial: Count = Field(None, description="offers left out as partly priced")


class Cheapest(Contract):
    kind: Text = Field(description="strategy or saas")
    name: Text = Field(description="its name")
    monthly_cost_usd: Optional[Money] = Field(description="USD a month")


class Plan(Contract):
    schema_version: Text = Field(description="major.minor; the major changes on any breaking change")
    generator: Text = Field(None, description="implan and its version")
    workload: PlanWorkload = Field(description="the workload planned for")
    capacity_profile: list[Text] = Field(None, description="capacity profiles merged, in order")
    catalogs: list[Catalog] = Field(description="the catalog files the plan was priced with")
    strategies: list[Strategy] = Field(description="one entry per strategy solved")
    saas: list[SaasQuote] = Field(description="the chat SaaS offers priced for the same workload")
    ratios: list[Ratio] = Field(None, description="SaaS cost / strategy cost for every priced pair")
    claims: list[Claim] = Field(None, description="the published cost claims checked")
    cheapest: Optional[Cheapest] = Field(None, description="the cheapest option (null: none feasible)")

    @model_validator(mode="after")
    def _each_once(self):
        """A name twice (a hand-edited baseline) would make diff compare against whichever copy came last."""
        for what, names in (("strategy", [s.name for s in self.strategies]),
                            ("SaaS offer", [f"{q.provider}/{q.plan}" for q in self.saas]),
                            ("catalog", [c.name for c in self.catalogs])):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what} {', '.join(repeated)} listed more than once")
        return self


# ---------- reading ----------

def _fail(origin: str, what: str) -> PlanFileError:
    return PlanFileError(f"{origin}: not an implan plan JSON: {what}")


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _error_text(error: ValidationError) -> str:
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    if first["type"] in ("missing", "value_error"):
        shown = ""
    elif isinstance(got, dict | list):
        shown = f" (got {'an object' if isinstance(got, dict) else 'an array'})"
    else:
        shown = f" (got {json.dumps(got)[:60]})"
    path = _location(tuple(first["loc"]))
    return f"{path}: {message}{shown}" if path else f"{message}{shown}"


def validate_plan(data: Any, origin: str) -> dict:
    """``data`` itself when it satisfies the contract; else one PlanFileError line naming ``origin``, the field
    and what was expected."""
    if not isinstance(data, dict):
        raise _fail(origin, f"expected a JSON object at the top, found {type(data).__name__}")
    if "schema_version" not in data:
        raise _fail(origin, "missing 'schema_version' (write it with `implan plan --format json`)")
    version = str(data["schema_version"])
    if version.split(".")[0] not in SUPPORTED_MAJORS:
        raise PlanFileError(f"{origin}: schema_version {version} is not supported (expected "
                            f"{' or '.join(m + '.x' for m in SUPPORTED_MAJORS)})")
    try:
        Plan.model_validate(data)
    except ValidationError as exc:
        raise _fail(origin, _error_text(exc)) from None
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number (a plan JSON holds finite numbers only)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        _no_constant(text)
    return value


def read_plan(path: Path, flag: str = "") -> dict:
    """A plan JSON file, read (regular file, bounded size, UTF-8, finite numbers) and checked; every error is one
    PlanFileError line starting with ``flag`` (e.g. "--plan ") and the path."""
    origin = f"{flag}{path}"
    try:
        raw = read_input(path, "plan JSON file", PlanFileError)
    except PlanFileError as exc:
        raise PlanFileError(f"{flag}{exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{origin}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise PlanFileError(f"{origin}: empty file, expected a plan JSON (`implan plan --format json --out FILE`)")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{origin}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # NaN / Infinity, or an integer of more than 4,300 digits
        raise _fail(origin, str(exc)) from None
    except RecursionError:
        raise _fail(origin, "nested too deep") from None
    return validate_plan(data, origin)


# ---------- the reference table in docs/plan-json.md ----------

def _type_name(annotation: Any) -> tuple[str, bool]:
    """(type in words, nullable)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and \
        len(args) < len(typing.get_args(annotation))
    if nullable:
        return _type_name(args[0])[0], True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _type_name(args[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(annotation)), False
    if origin is list:
        return f"array of {_type_name(args[0])[0]}", False
    if origin is dict:
        return f"object of {_type_name(args[1])[0]}", False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object", False
    return {float: "number", int: "integer", str: "string", bool: "boolean"}.get(annotation, "any"), False


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def reference_rows(model: type[BaseModel] = Plan, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(field path, type, required, meaning) for every field, nested objects and arrays walked."""
    rows = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        type_name, nullable = _type_name(field.annotation)
        description = field.description or next((m.description for m in field.metadata
                                                 if getattr(m, "description", None)), "")
        required = "yes" if field.is_required() else "no"
        rows.append((path, type_name + (" or null" if nullable else ""), required, description or ""))
        inner = _inner_model(field.annotation)
        if inner is not None:
            rows += reference_rows(inner, f"{path}[]." if "array" in type_name else f"{path}.")
    return rows


def reference_markdown() -> str:
    lines = ["| field | type | required | meaning (unit) |", "|---|---|---|---|"]
    lines += [f"| `{path}` | {type_name} | {required} | {meaning} |"
              for path, type_name, required, meaning in reference_rows()]
    return "\n".join(lines) + "\n"
