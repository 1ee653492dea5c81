"""Pydantic schema of a pricing catalog file (pricing/<provider>.yaml).

Every priced row names a `source` (a key of the file's `sources:` block, which carries title, url
and as_of) and may override `as_of` and `currency`; prices the authors could not find published are
listed under `estimates: {field: basis}` so reports can mark them. Units are fixed by the field
names (`..._per_hour` is per instance-hour, `..._per_gb_month` per decimal GB-month, ...).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from planner.inputs import Date, InputModel

SCHEMA_ID = "implan-catalog/1"


class Strict(InputModel):
    """Catalog rows: finite numbers only, no booleans as numbers, within MIN_FIGURE..MAX_FIGURE (1e12 is the
    catalogs' "no limit")."""


class Source(Strict):
    title: str
    url: str
    as_of: Date
    note: str = ""
    files: dict[str, str] = Field(default_factory=dict)  # imported price files: name -> sha256 of its bytes
    # known-stale mark: why this source was not refreshed (what was searched, what was found); `implan pricing
    # validate` then warns about its age instead of failing
    stale: str = ""


class Priced(Strict):
    """Fields every priced row shares: provenance and currency."""

    source: str
    as_of: Date | None = None  # defaults to the source's as_of
    currency: str | None = None  # defaults to the file's currency
    estimates: dict[str, str] = Field(default_factory=dict)  # field -> basis of the estimate
    note: str = ""


class Region(Strict):
    id: str
    name: str
    jurisdiction: str  # ISO country or bloc (US, EU, SG, ...): what residency rules match
    failure_domains: int = Field(ge=1)  # availability zones (public) or rack rows/rooms (private)


class Compute(Priced):
    type: str
    region: str
    family: str
    klass: Literal["general", "compute", "memory", "burstable", "dedicated"] = Field(alias="class")
    arch: Literal["x86_64", "arm64"]
    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    on_demand_per_hour: float = Field(gt=0)
    commit_1y_per_hour: float | None = Field(default=None, gt=0)
    commit_3y_per_hour: float | None = Field(default=None, gt=0)
    spot_per_hour: float | None = Field(default=None, gt=0)
    included_egress_gb_per_month: float = Field(default=0, ge=0)  # budget providers bundle traffic


class BlockStorage(Priced):
    region: str
    name: str
    per_gb_month: float = Field(gt=0)


class ObjectStorage(Priced):
    region: str
    storage_class: Literal["standard", "infrequent"]
    per_gb_month: float = Field(gt=0)
    put_per_1k: float = Field(default=0, ge=0)
    get_per_1k: float = Field(default=0, ge=0)
    retrieval_per_gb: float = Field(default=0, ge=0)
    min_storage_days: int = Field(default=0, ge=0)


class Tier(Strict):
    up_to_gb: float | None = Field(default=None, gt=0)  # None: no upper bound (last tier)
    per_gb: float = Field(ge=0)


class TieredTransfer(Priced):
    """Volume-tiered price per GB per month, graduated: each tier prices only the GB inside it."""

    region: str
    kind: Literal["internet", "cdn"]
    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers_ascend(self) -> "TieredTransfer":
        bounds = [t.up_to_gb for t in self.tiers]
        if bounds[-1] is not None:
            raise ValueError("the last tier must have no up_to_gb (unbounded)")
        finite = [b for b in bounds[:-1]]
        if any(b is None for b in finite) or finite != sorted(finite):
            raise ValueError("tiers must be in ascending up_to_gb order, only the last unbounded")
        return self


class Network(Priced):
    region: str
    cross_zone_per_gb: float = Field(ge=0)  # both directions, per GB crossing failure domains
    inter_region_per_gb: float = Field(ge=0)


class LoadBalancer(Priced):
    region: str
    name: str
    per_hour: float = Field(ge=0)
    per_capacity_unit_hour: float = Field(ge=0)
    # what one capacity unit (AWS LCU/NLCU, GCP/Azure rule-hour equivalents) covers; the busiest dimension is billed
    unit_active_connections: float = Field(gt=0)
    unit_new_connections_per_s: float = Field(gt=0)
    unit_gb_per_hour: float = Field(gt=0)
    # true: a unit is a whole load balancer of a fixed size (Hetzner lb11) that stays up all month, not capacity
    # metered by the hour: the plan buys the peak hour's units for every hour
    fixed_size: bool = False


class Server(Priced):
    sku: str
    role: Literal["compute", "storage"]  # storage: media object store servers (disk-dense)
    vcpu: int = Field(gt=0)  # hardware threads
    memory_gib: float = Field(gt=0)
    storage_tb: float = Field(ge=0)  # usable raw capacity before replication
    watts: float = Field(gt=0)  # typical draw under chat load
    rack_units: int = Field(gt=0)
    capex: float = Field(gt=0)
    amortization_years: float = Field(gt=0)


class Facility(Priced):
    """What a site charges besides its colo products: metered energy, and remote hands."""

    region: str
    power_per_kwh: float = Field(ge=0)  # metered energy; 0 when the colo products include it
    pue: float = Field(ge=1)
    remote_hands_per_hour: float = Field(ge=0)
    remote_hands_hours_per_server_year: float = Field(ge=0)  # swaps, reseats, cabling done by the colo's staff


class ColoProduct(Priced):
    """Space and power as a colocation provider sells it: a cabinet (or part of one) with a power allowance."""

    region: str
    name: str
    kind: Literal["per_u", "partial", "full"]  # per_u: shared cabinet, the provider's network, not a failure domain
    rack_units: int = Field(gt=0)
    kw_included: float = Field(gt=0)
    per_month: float = Field(gt=0)
    extra_kw_per_month: float | None = Field(default=None, gt=0)  # committed power above the allowance; None: not sold
    max_kw: float | None = Field(default=None, gt=0)  # the most the product can be given (with extra power)
    # bandwidth the product includes on the colo's own multi-homed (blended) network, Mbps at the 95th percentile;
    # a site whose traffic fits buys no transit
    included_mbps: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _power_bounds(self) -> "ColoProduct":
        if self.max_kw is not None and self.max_kw < self.kw_included:
            raise ValueError(f"max_kw {self.max_kw:g} is below kw_included {self.kw_included:g}")
        if self.extra_kw_per_month is not None and self.max_kw is None:
            raise ValueError("extra_kw_per_month needs max_kw (how much power the product can be given)")
        return self


class Transit(Priced):
    region: str
    name: str = "IP transit"
    per_mbps_month: float = Field(gt=0)  # billed at the 95th percentile, per provider
    min_commit_mbps: float = Field(default=0, ge=0)  # per provider
    cross_connect_per_month: float = Field(ge=0)  # one per provider, from the cabinet to the provider's port
    blended: bool = False  # the colo's multi-homed blend: redundant by itself, one port suffices


class Backup(Priced):
    """Where the off-site backup copy of the database and media goes."""

    region: str
    name: str
    per_gb_month: float = Field(gt=0)


class HardwareSupport(Priced):
    percent_of_capex_per_year: float = Field(ge=0, le=100)
    cold_spares_per_model: int = Field(ge=0)  # spare servers kept per server model in use


class NetworkGear(Priced):
    name: str
    capex: float = Field(gt=0)
    amortization_years: float = Field(gt=0)
    watts: float = Field(ge=0)
    rack_units: int = Field(ge=0)
    per: Literal["cabinet", "server"]  # one set per own cabinet (ToR, management switch, PDUs) or per server (cables)
    count: int = Field(ge=1)


class SaasStep(Strict):
    up_to: float | None = Field(default=None, gt=0)  # None: unbounded
    per_unit: float = Field(ge=0)


class SaasCaps(Strict):
    """Published limits of a plan: above any of them the vendor sells only on a quote (dedicated cloud, enterprise)."""

    mau: float | None = Field(default=None, gt=0)
    peak_dau: float | None = Field(default=None, gt=0)
    peak_connections: float | None = Field(default=None, gt=0)
    messages_per_day: float | None = Field(default=None, gt=0)  # sent (upstream) messages
    delivered_messages_per_day: float | None = Field(default=None, gt=0)  # downstream: one per recipient


class MillionTier(Strict):
    """A graduated price per million units (Stream's stored messages): up_to_millions is cumulative."""

    up_to_millions: float | None = Field(default=None, gt=0)  # None: unbounded (last tier)
    per_million: float = Field(ge=0)


Jurisdiction = Annotated[str, Field(min_length=1)]


class SaasOffer(Priced):
    provider: str
    plan: str
    metric: Literal["mau", "peak_dau", "dau", "peak_concurrent"]
    # where the data of this price lives (ISO country or bloc, as regions' `jurisdiction`); None: not stated
    jurisdictions: list[Jurisdiction] | None = Field(default=None, min_length=1)
    caps: SaasCaps = SaasCaps()
    # message history the plan keeps; "unlimited", or None when the source does not say
    included_retention_days: Annotated[int, Field(ge=1)] | Literal["unlimited"] | None = None
    retention_extra_per_gb_month: float | None = Field(default=None, ge=0)  # history beyond the included days
    per_million_deliveries: float = Field(default=0, ge=0)  # received messages (PubNub edge, Ably inbound)
    included_deliveries_per_month: float = Field(default=0, ge=0)
    message_storage_per_gb_month: float = Field(default=0, ge=0)  # retained message history (PubNub persistence)
    included_message_storage_gb: float = Field(default=0, ge=0)
    stored_message_tiers: list[MillionTier] = Field(default_factory=list)  # per million retained messages
    included_stored_messages: float = Field(default=0, ge=0)
    # receipts and typing indicators are billed as messages too (sent and delivered): Ably, PubNub count every publish
    events_as_messages: bool = False
    # fees the plan charges that the planner cannot price (not published, or not in the workload model): {fee: why};
    # the offer is then priced only in part, a lower bound, and left out of medians and the cheapest option
    unpriced: dict[str, str] = Field(default_factory=dict)
    base_per_month: float = Field(ge=0)
    included_units: float = Field(ge=0)
    steps: list[SaasStep] = Field(default_factory=list)  # graduated overage beyond included_units
    step_size: float = Field(default=1, gt=0)  # overage billed in blocks of this many units
    max_units: float | None = Field(default=None, gt=0)  # beyond: sales quote only, offer not priceable
    storage_per_gb_month: float = Field(default=0, ge=0)  # media / attachments
    included_storage_gb: float = Field(default=0, ge=0)
    bandwidth_per_gb: float = Field(default=0, ge=0)
    included_bandwidth_gb: float = Field(default=0, ge=0)
    per_concurrent_connection_month: float = Field(default=0, ge=0)
    included_concurrent_share_of_mau: float = Field(default=0, ge=0)
    per_million_messages: float = Field(default=0, ge=0)
    included_messages_per_month: float = Field(default=0, ge=0)

    @field_validator("included_retention_days", mode="before")
    @classmethod
    def _days_or_unlimited(cls, value):
        if value is None or value == "unlimited" or (isinstance(value, int) and not isinstance(value, bool)
                                                     and value >= 1):
            return value
        raise ValueError("expected a whole number of days (>= 1) or 'unlimited'")

    @model_validator(mode="after")
    def _ladder_covers_every_priceable_unit(self) -> "SaasOffer":
        """Units beyond a bounded last step would be priced at 0: the ladder must end unbounded, or max_units
        must stop at its last bound (beyond it the offer is a sales quote)."""
        bounds = [s.up_to for s in self.steps]
        if any(b is None for b in bounds[:-1]) or [b for b in bounds if b is not None] != sorted(
                b for b in bounds if b is not None):
            raise ValueError("steps must be in ascending up_to order, only the last one unbounded")
        if bounds and bounds[-1] is not None and (self.max_units is None or self.max_units > bounds[-1]):
            raise ValueError(f"the last step ends at {bounds[-1]:g} units: make it unbounded (no up_to) or set "
                             f"max_units <= {bounds[-1]:g}")
        tiers = [t.up_to_millions for t in self.stored_message_tiers]
        if tiers and (tiers[-1] is not None or any(b is None for b in tiers[:-1]) or tiers[:-1] != sorted(tiers[:-1])):
            raise ValueError("stored_message_tiers must be in ascending up_to_millions order, the last one unbounded")
        if self.retention_extra_per_gb_month is not None and not isinstance(self.included_retention_days, int):
            raise ValueError("retention_extra_per_gb_month prices history beyond included_retention_days: "
                             "give included_retention_days as a number of days")
        return self


# What a serverless offer meters (planner/serverless.py sizes each from the demand model).
SERVERLESS_METERS = (
    "apigw_connection_minutes", "apigw_messages", "lambda_requests", "lambda_duration_arm64",
    "lambda_duration_x86_64", "dynamodb_write_request_units", "dynamodb_read_request_units",
    "dynamodb_write_capacity_units", "dynamodb_read_capacity_units", "dynamodb_storage",
    "workers_paid_plan", "workers_requests", "workers_cpu_ms", "do_requests", "do_duration", "do_rows_read",
    "do_rows_written", "do_storage", "r2_storage", "r2_class_a", "r2_class_b",
)


class MeterTier(Strict):
    up_to: float | None = Field(default=None, gt=0)  # cumulative, in units of `per` a month; None: unbounded
    price: float = Field(ge=0)


class Serverless(Priced):
    """One metered price of a serverless offer: `price` per `per` of `meter` (per million requests, per GB-month,
    per GB-second, per month, per capacity-unit-month), beyond `included_per_month` (in the same units); or a
    graduated `tiers` list; or `not_found` saying what was searched when no published figure was found (the
    planner then leaves the offer out and says why)."""

    offer: str
    region: str
    meter: Literal[SERVERLESS_METERS]
    per: Literal["million", "gb_month", "gb_second", "million_gb_seconds", "month", "unit_month"]
    price: float | None = Field(default=None, ge=0)
    tiers: list[MeterTier] = Field(default_factory=list)
    included_per_month: float = Field(default=0, ge=0)
    not_found: str = ""

    @model_validator(mode="after")
    def _one_kind_of_price(self) -> "Serverless":
        given = [self.price is not None, bool(self.tiers), bool(self.not_found)]
        if sum(given) != 1:
            raise ValueError("give exactly one of price, tiers or not_found")
        bounds = [t.up_to for t in self.tiers]
        if self.tiers and (bounds[-1] is not None or any(b is None for b in bounds[:-1])
                           or bounds[:-1] != sorted(bounds[:-1])):
            raise ValueError("tiers must be in ascending up_to order, only the last one unbounded")
        return self


class CatalogFile(Strict):
    schema_id: Literal["implan-catalog/1"] = Field(alias="schema")
    provider: str
    kind: Literal["public", "private", "saas", "serverless"]
    title: str
    currency: str = "USD"
    sources: dict[str, Source]
    regions: list[Region] = Field(default_factory=list)
    compute: list[Compute] = Field(default_factory=list)
    block_storage: list[BlockStorage] = Field(default_factory=list)
    object_storage: list[ObjectStorage] = Field(default_factory=list)
    transfer: list[TieredTransfer] = Field(default_factory=list)
    network: list[Network] = Field(default_factory=list)
    load_balancers: list[LoadBalancer] = Field(default_factory=list)
    servers: list[Server] = Field(default_factory=list)
    facilities: list[Facility] = Field(default_factory=list)
    colo_products: list[ColoProduct] = Field(default_factory=list)
    transit: list[Transit] = Field(default_factory=list)
    backup: list[Backup] = Field(default_factory=list)
    hardware_support: list[HardwareSupport] = Field(default_factory=list, max_length=1)
    network_gear: list[NetworkGear] = Field(default_factory=list)
    saas: list[SaasOffer] = Field(default_factory=list)
    serverless: list[Serverless] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references_resolve(self) -> "CatalogFile":
        region_ids = {r.id for r in self.regions}
        for section in ("compute", "block_storage", "object_storage", "transfer", "network",
                        "load_balancers", "facilities", "colo_products", "transit", "backup", "hardware_support",
                        "servers", "network_gear", "saas", "serverless"):
            for index, row in enumerate(getattr(self, section)):
                if row.source not in self.sources:
                    raise ValueError(f"{section}[{index}].source: unknown source key {row.source!r}"
                                     f" (known: {', '.join(sorted(self.sources))})")
                region = getattr(row, "region", None)
                if region is not None and region not in region_ids:
                    raise ValueError(f"{section}[{index}].region: {region!r} is not declared under regions:")
                for field in row.estimates:
                    if field not in type(row).model_fields and field != "class":
                        raise ValueError(f"{section}[{index}].estimates: {field!r} is not a field of this row")
        return self

    @model_validator(mode="after")
    def _rows_unique(self) -> "CatalogFile":
        """A row listed twice is a copy-paste slip: the solver would see two identical options (a duplicate server
        SKU even gives it two constraints of the same name)."""
        keys = {"servers": ("sku",), "saas": ("provider", "plan"), "colo_products": ("region", "name"),
                "transit": ("region", "name"), "backup": ("region", "name"), "network_gear": ("name",),
                "serverless": ("offer", "region", "meter")}
        for section, fields in keys.items():
            first: dict[tuple, int] = {}
            for index, row in enumerate(getattr(self, section)):
                key = tuple(getattr(row, f) for f in fields)
                if key in first:
                    raise ValueError(f"{section}[{index}]: {'/'.join(map(str, key))} is listed twice (also "
                                     f"{section}[{first[key]}]); list each once")
                first[key] = index
        return self


class FxFile(Strict):
    """Dated currency conversion table: USD per one unit of each currency."""

    schema_id: Literal["implan-fx/1"] = Field(alias="schema")
    as_of: Date
    source: Source
    usd_per_unit: dict[str, Annotated[float, Field(gt=0)]]  # a zero or negative rate would zero or flip prices

    @field_validator("usd_per_unit")
    @classmethod
    def _usd_is_one(cls, rates: dict[str, float]) -> dict[str, float]:
        """Prices in USD are never converted: any other USD rate would be silently ignored."""
        if rates.get("USD", 1) != 1:
            raise ValueError(f"USD: {rates['USD']:g}; the rate of USD to itself must be 1 (or leave USD out)")
        return rates
