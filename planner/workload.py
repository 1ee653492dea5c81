"""Workload file (YAML) -> validated, fully resolved Workload.

Every field has a unit in its name or docstring and a default taken from public figures
(see docs/workload.md and ../shared facts); user errors become one WorkloadError line naming the
file, the field path and what was expected (with a did-you-mean for unknown keys).
"""

from __future__ import annotations

import difflib
import typing
import importlib.resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator

from planner.distributions import Distribution, extract_distributions
from planner.errors import WorkloadError
from planner.inputs import InputModel, load_yaml_file, parse_yaml
from planner.placements import hybrid_placement_names

TierName = Literal["gateway", "message", "database", "cache", "object_storage", "load_balancer"]
TIERS: tuple[str, ...] = ("gateway", "message", "database", "cache", "object_storage", "load_balancer")
STRATEGIES: tuple[str, ...] = ("public", "private", "hybrid", "serverless")

# Named 24-hour load shapes: relative load per local hour 0..23 (the peak hour is scaled to 1).
LOAD_SHAPES: dict[str, tuple[float, ...]] = {
    # Consumer messaging: trough before dawn, rise through the day, peak in the evening (typical of
    # social/messaging traffic curves such as DE-CIX and AMS-IX daily graphs: peak/trough ~ 3-4x).
    "consumer-evening": (0.45, 0.35, 0.28, 0.25, 0.25, 0.28, 0.35, 0.48, 0.60, 0.68, 0.72, 0.75,
                         0.78, 0.78, 0.76, 0.76, 0.78, 0.82, 0.88, 0.95, 1.00, 0.98, 0.85, 0.65),
    # Customer-service chat: office hours, quiet nights and early mornings.
    "business-hours": (0.10, 0.08, 0.07, 0.07, 0.08, 0.12, 0.25, 0.55, 0.85, 0.98, 1.00, 0.97,
                       0.90, 0.95, 1.00, 0.97, 0.90, 0.75, 0.50, 0.35, 0.25, 0.20, 0.15, 0.12),
    "flat": (1.0,) * 24,
}


# more monthly users than people on Earth (8.1 billion, UN 2024) is a typo; the bound keeps every demand figure
# within what the solver's floating-point arithmetic handles
MAX_MAU = 10_000_000_000


class Section(InputModel):
    """Strict types (YAML `true` is not a number, "3" is not an int), finite numbers within the planner's range."""


def _no_duplicates(items: list) -> list:
    repeated = sorted({str(item) for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"lists {', '.join(repeated)} more than once; give each once")
    return items


T = typing.TypeVar("T")
# a list whose entries must differ (a strategy or region named twice is a typo, not a request)
UniqueList = typing.Annotated[list[T], AfterValidator(_no_duplicates)]


class Users(Section):
    mau: int = Field(1_000_000, ge=1, le=MAX_MAU, description="monthly active users (at most 10 billion)")
    dau_per_mau: float = Field(0.5, gt=0, le=1, description="daily / monthly active users (consumer apps 0.3-0.7)")
    peak_concurrent_per_dau: float = Field(0.25, gt=0, le=1, description="users online at the peak hour / DAU")
    devices_per_user: float = Field(1.2, ge=1, description="connections per online user (phone + desktop)")
    avg_session_minutes: float = Field(20, gt=0, description="average websocket connection lifetime, minutes")

    @model_validator(mode="after")
    def _at_least_one_daily_user(self) -> "Users":
        if self.mau * self.dau_per_mau < 1:
            raise ValueError(f"mau x dau_per_mau is {self.mau * self.dau_per_mau:.3g} daily active users, "
                             "expected at least 1 (raise dau_per_mau)")
        return self


class Messaging(Section):
    messages_per_dau_per_day: float = Field(40, ge=0, description="messages sent per daily active user per day")
    avg_message_bytes: int = Field(500, gt=0, description="text message size on the wire, bytes")
    one_to_one_deliveries_per_message: float = Field(1.6, ge=1, description="deliveries per 1:1 message (devices)")
    group_share: float = Field(0.1, ge=0, le=1, description="share of messages sent to groups")
    group_size: int = Field(8, ge=2, description="typical members of a group conversation")
    media_share: float = Field(0.15, ge=0, le=1, description="share of messages that carry media")
    media_avg_bytes: int = Field(150_000, ge=0, description="average media object size, bytes")
    media_downloads_per_delivery: float = Field(0.8, ge=0, description="media fetches per delivered media message")
    receipts_per_delivery: float = Field(2.0, ge=0, description="delivered + read receipts per delivery (stored)")
    typing_events_per_message: float = Field(2.0, ge=0, description="typing indicators per message (ephemeral)")
    event_frame_bytes: int = Field(120, gt=0, description="size of a receipt/typing/presence frame, bytes")


class LoadProfile(Section):
    shape: str = Field("consumer-evening", description=f"named shape: {', '.join(LOAD_SHAPES)}")
    hourly_weights: list[float] | None = Field(None, description="24 relative weights; overrides shape")

    @model_validator(mode="after")
    def _check(self) -> "LoadProfile":
        if self.hourly_weights is None and self.shape not in LOAD_SHAPES:
            raise ValueError(f"unknown shape {self.shape!r}, expected one of {', '.join(LOAD_SHAPES)}")
        if self.hourly_weights is not None:
            if len(self.hourly_weights) != 24 or min(self.hourly_weights) < 0 or max(self.hourly_weights) <= 0:
                raise ValueError("hourly_weights needs 24 non-negative numbers, at least one positive")
        return self

    def weights(self) -> tuple[float, ...]:
        raw = self.hourly_weights if self.hourly_weights is not None else LOAD_SHAPES[self.shape]
        peak = max(raw)
        return tuple(w / peak for w in raw)


class Retention(Section):
    message_days: int = Field(365, ge=1, description="days messages are kept (storage is sized for this)")
    media_days: int = Field(365, ge=1, description="days media objects are kept")
    media_hot_days: int = Field(30, ge=0, description="days media stays in the standard class before infrequent")


class Availability(Section):
    target_percent: float = Field(99.95, ge=90, lt=100, description="availability target, percent")

    @property
    def tolerate_node_loss(self) -> bool:
        return self.target_percent >= 99.9

    @property
    def tolerate_domain_loss(self) -> bool:
        return self.target_percent >= 99.95

    @property
    def failure_domains(self) -> int:
        """Minimum failure domains (AZs or racks) to spread each tier over."""
        if self.tolerate_domain_loss:
            return 3
        return 2 if self.tolerate_node_loss else 1


class Placement(Section):
    residency: UniqueList[str] = Field(default_factory=list, description="jurisdictions data may live in; empty: any")
    public_regions: UniqueList[str] = Field(default_factory=list, description="allowed provider/region; empty: all")
    private_sites: UniqueList[str] = Field(default_factory=list, description="allowed provider/site; empty: all")
    providers: UniqueList[str] = Field(default_factory=list, description="allowed public providers; empty: all")
    pooling: Literal["auto", "pooled", "dedicated"] = Field("auto", description="co-locate stateless tiers")
    hybrid_burst_tiers: UniqueList[Literal["gateway", "message"]] = Field(
        default_factory=lambda: ["gateway", "message"], description="tiers that burst to public cloud in hybrid")
    hybrid_placements: UniqueList[str] = Field(
        default_factory=list, description="hybrid placements to try: burst, or the tiers in the cloud, e.g. "
        "media-on-own-servers, media-in-cloud, gateway+cache-in-cloud (docs/model.md, hybrid by tier); empty: all")
    colocate_database_and_message: bool = Field(
        True, description="keep the database on the same side as the message tier in a hybrid by tier")

    @model_validator(mode="after")
    def _known_placements(self) -> "Placement":
        names = hybrid_placement_names(self.colocate_database_and_message)
        for name in self.hybrid_placements:
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"unknown hybrid placement {name!r}; {hint}expected one of {', '.join(names)}"
                                 + (" (set colocate_database_and_message: false to split the database from the "
                                    "message tier)" if name in hybrid_placement_names(False) else ""))
        return self


class Purchase(Section):
    max_commitment_years: Literal[0, 1, 3] = Field(1, description="longest commitment allowed (0: on-demand only)")
    allow_spot: bool = Field(True, description="let stateless tiers add spot nodes")
    spot_max_share: float = Field(0.5, ge=0, le=1, description="max share of a tier's nodes on spot in a slice")
    allowed_arch: UniqueList[Literal["x86_64", "arm64"]] = Field(default_factory=lambda: ["x86_64", "arm64"],
                                                            description="CPU architectures the software runs on")


class Labour(Section):
    automation: Literal["manual", "scripted", "iac", "autonomous"] = Field(
        "iac", description="how operations are automated: iac is what `implan bundle` renders (Terraform + Ansible)")
    usd_per_fte_year: float | None = Field(None, gt=0, description="fully loaded cost of one operations engineer, "
                                           "USD/year (default: planner/data/labour.yaml)")
    nodes_per_fte: float | None = Field(None, gt=0, description="override the level's self-run nodes per engineer")
    fte_per_system: float | None = Field(None, ge=0, description="override the level's FTE per self-managed system")
    hardware_servers_per_fte: float | None = Field(None, gt=0, description="own servers per hardware engineer")
    minimum_fte: float | None = Field(None, ge=0, description="least FTE any self-run strategy carries")


# default cost of capital for owned hardware (docs/model.md, "cost of capital"): the rate implied by financing
# the servers instead of paying cash. A 48-month 1-USD-buyout IT equipment lease costs 2,350-2,450 USD a month
# per 100,000 USD (mspdemos.com, "Estimating monthly payments for IT equipment leases", read 2026-12-01):
# 6.2-8.5 % a year, 7.35 % at the midpoint. Give your own WACC or borrowing rate to replace it.
COST_OF_CAPITAL_PERCENT = 7.35
COST_OF_CAPITAL_BASIS = "default: the rate implied by a 48-month IT equipment lease (docs/model.md)"


class PrivateOverrides(Section):
    servers_per_fte: float | None = Field(None, gt=0, description="same as labour.hardware_servers_per_fte (kept "
                                          "for older workloads)")
    amortization_years: float | None = Field(None, gt=0, le=30, description="override server amortization, years "
                                             "(at most 30)")
    cost_of_capital_percent: float = Field(COST_OF_CAPITAL_PERCENT, ge=0, le=100,
                                           description="yearly cost of the money tied up in owned hardware, percent "
                                                       f"(servers are paid as an annuity at this rate; {COST_OF_CAPITAL_BASIS})")
    database_replicas: int = Field(2, ge=1, description="copies of the database (primary + replicas)")
    storage_fill_ratio: float = Field(0.8, gt=0, le=1, description="share of server disk capacity to fill")


MAX_HORIZON_MONTHS = 120  # ten years: beyond that neither prices nor growth rates mean much


class Growth(Section):
    """How the workload grows over the roadmap's horizon (`implan roadmap`; `implan plan` prices one month at
    users.mau and ignores this section). MAU compounds monthly, or follows an explicit series; every other demand
    figure scales with MAU as in a one-month plan."""

    horizon_months: int = Field(36, ge=1, le=MAX_HORIZON_MONTHS, description="months the roadmap plans (at most 120)")
    monthly_growth_percent: float | list[float] = Field(
        0.0, description="compound MAU growth a month, percent (-50..100); a list gives one rate per year of the "
                         "horizon")
    mau_by_month: list[int] | None = Field(None, description="explicit MAU of every month of the horizon (one "
                                           "entry per month, the first replaces users.mau); excludes "
                                           "monthly_growth_percent")
    discount_rate_percent: float = Field(COST_OF_CAPITAL_PERCENT, ge=0, le=100, description=(
        "yearly rate future payments are discounted at for the NPV, percent (default: private.cost_of_capital_"
        "percent's default, so paying a server up front and paying its annuity are worth the same; docs/model.md, "
        "Roadmap)"))
    migration_fte_months_per_system: float | None = Field(None, ge=0, le=120, description=(
        "engineer-months to move one self-managed system off the cloud (default: planner/data/labour.yaml)"))

    @model_validator(mode="after")
    def _series(self) -> "Growth":
        rates = self.monthly_growth_percent
        years = -(-self.horizon_months // 12)
        if isinstance(rates, list):
            if len(rates) != years:
                raise ValueError(f"monthly_growth_percent lists {len(rates)} yearly rates, expected one per year of "
                                 f"the {self.horizon_months}-month horizon ({years})")
        for rate in rates if isinstance(rates, list) else [rates]:
            if not -50 <= rate <= 100:
                raise ValueError(f"monthly_growth_percent {rate:g} is outside -50..100 percent a month")
        if self.mau_by_month is not None:
            if "monthly_growth_percent" in self.model_fields_set:
                raise ValueError("give either monthly_growth_percent or mau_by_month, not both")
            if len(self.mau_by_month) != self.horizon_months:
                raise ValueError(f"mau_by_month lists {len(self.mau_by_month)} months, expected one per month of "
                                 f"the horizon (horizon_months {self.horizon_months})")
            bad = [m for m in self.mau_by_month if not 1 <= m <= MAX_MAU]
            if bad:
                raise ValueError(f"mau_by_month: {bad[0]} is outside 1..{MAX_MAU} monthly active users")
        return self

    def yearly_rates(self) -> list[float]:
        rates = self.monthly_growth_percent
        return list(rates) if isinstance(rates, list) else [rates] * (-(-self.horizon_months // 12))


class Saas(Section):
    compare: bool = Field(True, description="price the chat SaaS offers for comparison")


class Solver(Section):
    time_limit_s: float = Field(60, gt=0, le=86_400, description="solver time limit per model, seconds (at most a day)")
    gap_rel: float = Field(0.0001, ge=0, le=1, description="relative MIP gap at which a solve stops")


class Uncertainty(Section):
    """What `implan uncertainty` varies besides the workload's own distributions (docs/uncertainty.md)."""

    price_change: dict[str, float] = Field(default_factory=dict, description=(
        "change of catalog prices by category (compute, storage, network, load_balancer, servers, colo, power, "
        "saas) or by provider (aws, hetzner, ...): each price times 1 + x, x from -0.9 to 10; a distribution "
        "here is sampled by implan uncertainty"))

    @model_validator(mode="after")
    def _in_range(self) -> "Uncertainty":
        for key, change in self.price_change.items():
            if not -0.9 <= change <= 10:
                raise ValueError(f"price_change.{key} {change:g} is outside -0.9..10 (a multiplier 1 + x of 0.1..11)")
        return self


class Workload(Section):
    name: str = Field("consumer-chat-1m", description="name shown in reports and plan files")
    description: str = Field("", description="free text")
    users: Users = Users()
    messaging: Messaging = Messaging()
    load_profile: LoadProfile = LoadProfile()
    retention: Retention = Retention()
    availability: Availability = Availability()
    placement: Placement = Placement()
    purchase: Purchase = Purchase()
    strategies: UniqueList[Literal["public", "private", "hybrid", "serverless"]] = Field(default_factory=lambda: list(STRATEGIES),
                                                                     min_length=1, description="strategies to plan")
    private: PrivateOverrides = PrivateOverrides()
    labour: Labour = Labour()
    saas: Saas = Saas()
    solver: Solver = Solver()
    growth: Growth = Growth()
    uncertainty: Uncertainty = Uncertainty()


def default_workload_path() -> Path:
    return Path(str(importlib.resources.files("planner") / "data" / "default-workload.yaml"))


def _did_you_mean(model: type[BaseModel], loc: tuple) -> str:
    """For an unknown key, suggest the closest field name at that level."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            return ""
        field = current.model_fields.get(part)
        if field is None:
            return ""
        current = field.annotation
    if not (isinstance(current, type) and issubclass(current, BaseModel)):
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(current.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _expected(model: type[BaseModel], loc: tuple) -> str:
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return ""
        field = current.model_fields[part]
        current = field.annotation
    return f"; expected {field.description}" if field.description else ""


# fields of older workloads that moved or went away, with what to do instead
RETIRED_FIELDS = {
    "private.usd_per_fte_year": "moved to labour.usd_per_fte_year (labour is priced alike for every strategy)",
    "private.media_replication_factor": "removed: the planner picks two copies or 8+4 erasure coding by the "
                                        "number of media servers (docs/model.md, section 5)",
}


# pydantic names the member of a union a value failed in the error's location (growth.monthly_growth_percent.float):
# a type, not a field, so it is left out of the path shown to the user
_UNION_MEMBER_TAGS = frozenset({"float", "int", "str", "bool", "list", "dict", "none"})


def format_validation_error(origin: str, error: ValidationError) -> str:
    first = error.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and (p in _UNION_MEMBER_TAGS or "[" in p)))
    path = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "extra_forbidden" and path in RETIRED_FIELDS:
        return f"{origin}: {path}: {RETIRED_FIELDS[path]}"
    if first["type"] == "extra_forbidden":
        return f"{origin}: {path}: unknown field{_did_you_mean(Workload, loc)}"
    got = first.get("input")
    got_text = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{origin}: {path}: {first['msg']}{got_text}{_expected(Workload, loc)}"


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise WorkloadError(f"--set {text}: expected path.to.field=value")
    path, value = text.split("=", 1)
    keys = [k for k in path.strip().split(".") if k]
    if not keys:
        raise WorkloadError(f"--set {text}: empty field path")
    parsed = parse_yaml(value, f"--set {path.strip()}", WorkloadError, text_if_not_yaml=True) if value.strip() else ""
    return keys, parsed


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `path.to.field=value` overrides (values parsed as YAML scalars/lists) to raw workload data."""
    for text in overrides:
        keys, value = _parse_override(text)
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise WorkloadError(f"--set {text}: {key} is not a section")
            node = child
        node[keys[-1]] = value
    return data


def load_workload(path: Path | None = None, overrides: list[str] | None = None) -> Workload:
    """Read, override and validate a workload. path=None: the embedded default workload. A field given as a
    distribution takes its point value (planner.distributions)."""
    return load_workload_with_distributions(path, overrides)[0]


def field_is_int(path: str) -> bool:
    """Whether the workload field at dotted `path` holds an integer (users.mau): its sampled values are rounded."""
    current: Any = Workload
    for part in path.split("."):
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or part not in current.model_fields:
            return False
        current = current.model_fields[part].annotation
    return current is int


def load_workload_with_distributions(path: Path | None = None, overrides: list[str] | None = None
                                     ) -> tuple[Workload, dict[str, Distribution]]:
    """load_workload, and the fields given as distributions ({field path: Distribution}), each validated."""
    source = Path(path) if path is not None else default_workload_path()
    data, _ = load_yaml_file(source, "workload file", WorkloadError)
    if data is None:  # an empty file is more often a truncated or wrong file than a request for the defaults
        raise WorkloadError(f"{source}: empty workload file (write {{}} in it to plan the defaults, or give no file)")
    if not isinstance(data, dict):
        raise WorkloadError(f"{source}: expected a YAML mapping of workload sections at the top level")
    data = apply_overrides(data, overrides or [])
    origin = str(source) + (" (with --set)" if overrides else "")
    try:
        data, distributions = extract_distributions(data)
    except WorkloadError as exc:
        raise WorkloadError(f"{origin}: {exc}") from None
    for field, dist in distributions.items():
        if field_is_int(field):
            _set_path(data, field, int(round(dist.point())))
    try:
        return Workload.model_validate(data), distributions
    except ValidationError as exc:
        raise WorkloadError(format_validation_error(origin, exc)) from None


def _set_path(data: dict, path: str, value: Any) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        data = data[key]
    data[keys[-1]] = value


def workload_to_dict(workload: Workload) -> dict:
    """The resolved workload with every default filled in (what `implan workload show` prints)."""
    return workload.model_dump(mode="json")


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(annotation))
    text = getattr(annotation, "__name__", None) if typing.get_origin(annotation) is None else None
    return (text or str(annotation).replace("typing.", "")).replace(" | ", " or ").replace("Literal", "")


def reference_rows(model: type[BaseModel] = Workload, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(field path, type, default, description) for every leaf field: the source of docs/workload.md."""
    rows = []
    defaults = model()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += reference_rows(annotation, f"{path}.")
            continue
        default = getattr(defaults, name)
        type_name = _type_name(annotation)
        rows.append((path, type_name, yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("..."
                                                                                                        ).strip(),
                     field.description or ""))
    return rows


def reference_markdown() -> str:
    lines = ["| field | type | default | meaning (unit) |", "|---|---|---|---|"]
    for path, type_name, default, description in reference_rows():
        lines.append(f"| `{path}` | {type_name} | `{default}` | {description} |")
    return "\n".join(lines) + "\n"
