"""Loaded catalog records: frozen dataclasses, every price already in USD, each with its provenance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PriceRef:
    """Where a price came from: enough for a reader to check it."""

    catalog: str
    source_key: str
    title: str
    url: str
    as_of: dt.date
    currency: str
    estimated: tuple[str, ...] = ()  # fields of the row that are estimates, with basis in `estimate_basis`
    estimate_basis: str = ""


@dataclass(frozen=True)
class TransferTier:
    up_to_gb: float | None
    usd_per_gb: float


@dataclass(frozen=True)
class ComputeOffering:
    provider: str
    region: str
    type: str
    family: str
    klass: str
    arch: str
    vcpu: int
    memory_gib: float
    usd_per_hour: float
    usd_per_hour_commit_1y: float | None
    usd_per_hour_commit_3y: float | None
    usd_per_hour_spot: float | None
    included_egress_gb_per_month: float
    ref: PriceRef

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.region}/{self.type}"


@dataclass(frozen=True)
class LoadBalancerPrice:
    name: str
    usd_per_hour: float
    usd_per_capacity_unit_hour: float
    unit_active_connections: float
    unit_new_connections_per_s: float
    unit_gb_per_hour: float
    ref: PriceRef
    fixed_size: bool = False   # whole load balancers up all month (bought for the peak), not hourly capacity units


@dataclass(frozen=True)
class PublicRegion:
    """Everything priced per region of a public (or budget) cloud, besides compute."""

    provider: str
    region: str
    name: str
    jurisdiction: str
    failure_domains: int
    block_storage_usd_per_gb_month: float
    block_storage_ref: PriceRef
    object_standard_usd_per_gb_month: float
    object_infrequent_usd_per_gb_month: float
    object_put_usd_per_1k: float
    object_get_usd_per_1k: float
    object_ref: PriceRef
    internet_egress: tuple[TransferTier, ...]
    internet_egress_ref: PriceRef
    cdn_egress: tuple[TransferTier, ...]
    cdn_egress_ref: PriceRef
    cross_zone_usd_per_gb: float
    inter_region_usd_per_gb: float
    network_ref: PriceRef
    load_balancer: LoadBalancerPrice | None


@dataclass(frozen=True)
class ServerSku:
    provider: str
    sku: str
    role: str
    vcpu: int
    memory_gib: float
    storage_tb: float
    watts: float
    rack_units: int
    capex_usd: float
    amortization_years: float
    ref: PriceRef


@dataclass(frozen=True)
class NetworkGearSku:
    name: str
    capex_usd: float
    amortization_years: float
    watts: float
    rack_units: int
    per: str  # "cabinet" (one set per own cabinet) or "server"
    count: int
    ref: PriceRef


@dataclass(frozen=True)
class ColoProduct:
    name: str
    kind: str  # per_u | partial | full
    rack_units: int
    kw_included: float
    usd_per_month: float
    extra_kw_usd_per_month: float | None
    max_kw: float
    ref: PriceRef
    included_mbps: float = 0.0  # blended bandwidth included (the colo's multi-homed network), Mbps at p95

    @property
    def own_cabinet(self) -> bool:
        """A partial or full cabinet is the customer's own (a failure domain with its own switch and PDUs);
        per-U space sits in the provider's shared cabinet on the provider's network."""
        return self.kind != "per_u"


@dataclass(frozen=True)
class TransitPrice:
    name: str
    usd_per_mbps_month: float
    min_commit_mbps: float
    cross_connect_usd_per_month: float
    blended: bool
    ref: PriceRef


@dataclass(frozen=True)
class BackupTarget:
    name: str
    usd_per_gb_month: float
    ref: PriceRef


@dataclass(frozen=True)
class HardwareSupport:
    percent_of_capex_per_year: float
    cold_spares_per_model: int
    ref: PriceRef


@dataclass(frozen=True)
class PrivateSite:
    provider: str
    region: str
    name: str
    jurisdiction: str
    failure_domains: int
    power_usd_per_kwh: float
    pue: float
    remote_hands_usd_per_hour: float
    remote_hands_hours_per_server_year: float
    facility_ref: PriceRef
    products: tuple[ColoProduct, ...]
    transit: tuple[TransitPrice, ...]  # commit levels on offer; the model picks one
    backup: BackupTarget
    support: HardwareSupport
    servers: tuple[ServerSku, ...]
    network_gear: tuple[NetworkGearSku, ...]


@dataclass(frozen=True)
class SaasStepUsd:
    up_to: float | None
    usd_per_unit: float


@dataclass(frozen=True)
class MeteredPrice:
    """One meter of a serverless offer in USD: graduated `bands` of (cumulative upper end in `per` units a month
    or None, USD per `per` unit), the included allowance as a first band at 0; no bands when `not_found`."""

    provider: str
    offer: str
    region: str
    jurisdiction: str
    meter: str
    per: str
    bands: tuple[tuple[float | None, float], ...]
    ref: PriceRef
    not_found: str = ""


@dataclass(frozen=True)
class SaasOfferUsd:
    provider: str
    plan: str
    metric: str
    base_usd_per_month: float
    included_units: float
    steps: tuple[SaasStepUsd, ...]
    step_size: float
    max_units: float | None
    storage_usd_per_gb_month: float
    included_storage_gb: float
    bandwidth_usd_per_gb: float
    included_bandwidth_gb: float
    usd_per_concurrent_connection_month: float
    included_concurrent_share_of_mau: float
    usd_per_million_messages: float
    included_messages_per_month: float
    ref: PriceRef
    jurisdictions: tuple[str, ...] | None = None  # where the data of this price lives; None: not stated
    cap_mau: float | None = None  # published caps: above any, the offer is a sales quote
    cap_peak_dau: float | None = None
    cap_peak_connections: float | None = None
    cap_messages_per_day: float | None = None
    cap_delivered_messages_per_day: float | None = None
    included_retention_days: int | str | None = None  # days, "unlimited", or None (not stated)
    retention_extra_usd_per_gb_month: float | None = None
    usd_per_million_deliveries: float = 0.0
    included_deliveries_per_month: float = 0.0
    message_storage_usd_per_gb_month: float = 0.0
    included_message_storage_gb: float = 0.0
    stored_message_tiers: tuple[SaasStepUsd, ...] = ()  # graduated USD per retained message (up_to in messages)
    included_stored_messages: float = 0.0
    events_as_messages: bool = False  # receipts and typing indicators billed as messages sent and delivered
    unpriced: tuple[tuple[str, str], ...] = ()  # (fee, why the planner cannot price it): a lower bound


@dataclass(frozen=True)
class SourceAge:
    """How old one source's prices are: the source's as_of, or an older as_of of a row naming it."""

    key: str
    as_of: dt.date
    stale: str = ""  # the known-stale mark: why it was not refreshed ("" = not marked)


@dataclass(frozen=True)
class CatalogInfo:
    name: str
    provider: str
    kind: str
    title: str
    path: str
    sha256: str
    as_of: dt.date  # the oldest as_of of any price in the file
    sources: tuple[SourceAge, ...] = ()  # what staleness is judged by, one per source


@dataclass(frozen=True)
class Catalog:
    """All catalogs of one pricing directory, in USD."""

    directory: str
    infos: tuple[CatalogInfo, ...]
    fx_as_of: dt.date | None
    compute: tuple[ComputeOffering, ...]
    public_regions: tuple[PublicRegion, ...]
    private_sites: tuple[PrivateSite, ...]
    saas: tuple[SaasOfferUsd, ...]
    warnings: tuple[str, ...] = field(default=())
    serverless: tuple[MeteredPrice, ...] = ()  # serverless offers' meters (any catalog file may carry them)
    fx_source: SourceAge | None = None  # fx.yaml's rates, judged for staleness like a catalog's source

    def region(self, provider: str, region: str) -> PublicRegion:
        for r in self.public_regions:
            if r.provider == provider and r.region == region:
                return r
        raise KeyError(f"{provider}/{region}")
