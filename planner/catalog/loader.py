"""The one reader of pricing/: YAML files -> validated schema -> USD records (planner.catalog.records)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.catalog import records as r
from planner.catalog.schema import CatalogFile, FxFile, Priced
from planner.errors import CatalogError
from planner.inputs import load_yaml_file, parse_yaml

FX_FILE = "fx.yaml"


def default_pricing_dir() -> Path:
    """The catalogs shipped inside the package (pricing/ in the source tree)."""
    return Path(str(importlib.resources.files("planner.pricing_data")))


def _format_validation_error(path: Path, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    got = first.get("input")
    got_text = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{path}: {where}: {first['msg']}{got_text}"


def _read_yaml(path: Path) -> tuple[Any, bytes]:
    return load_yaml_file(path, "catalog file", CatalogError)


def _parse(path: Path, model: type, data: Any):
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a YAML mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(_format_validation_error(path, exc)) from None


def read_catalog_file(path: Path) -> dict:
    """One catalog file's raw data (as written: aliases, notes, estimates), checked against the schema; what
    `pricing import` merges into and `pricing diff` compares."""
    data, _ = _read_yaml(path)
    _parse(path, CatalogFile, data)
    return data


def check_catalog_text(text: str, origin: Path) -> None:
    """A catalog about to be written parses back and passes the schema (else a CatalogError naming the field)."""
    _parse(origin, CatalogFile, parse_yaml(text, str(origin), CatalogError))


class _Converter:
    """Turns a file's priced rows into PriceRef + USD factor, using the dated FX table."""

    def __init__(self, name: str, parsed: CatalogFile, fx: FxFile | None, path: Path):
        self.name, self.parsed, self.fx, self.path = name, parsed, fx, path

    def ref(self, row: Priced) -> r.PriceRef:
        source = self.parsed.sources[row.source]
        basis = "; ".join(f"{field}: {why}" for field, why in sorted(row.estimates.items()))
        return r.PriceRef(
            catalog=self.name, source_key=row.source, title=source.title, url=source.url,
            as_of=row.as_of or source.as_of, currency=row.currency or self.parsed.currency,
            estimated=tuple(sorted(row.estimates)), estimate_basis=basis,
        )

    def usd(self, row: Priced) -> float:
        currency = row.currency or self.parsed.currency
        if currency == "USD":
            return 1.0
        if self.fx is None or currency not in self.fx.usd_per_unit:
            raise CatalogError(f"{self.path}: prices in {currency} but {FX_FILE} has no USD rate for it")
        return self.fx.usd_per_unit[currency]


def _tiers(row, factor: float) -> tuple[r.TransferTier, ...]:
    return tuple(r.TransferTier(t.up_to_gb, t.per_gb * factor) for t in row.tiers)


def _opt(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _compute(conv: _Converter) -> list[r.ComputeOffering]:
    out = []
    for row in conv.parsed.compute:
        k = conv.usd(row)
        out.append(r.ComputeOffering(
            provider=conv.parsed.provider, region=row.region, type=row.type, family=row.family,
            klass=row.klass, arch=row.arch, vcpu=row.vcpu, memory_gib=row.memory_gib,
            usd_per_hour=row.on_demand_per_hour * k,
            usd_per_hour_commit_1y=_opt(row.commit_1y_per_hour, k),
            usd_per_hour_commit_3y=_opt(row.commit_3y_per_hour, k),
            usd_per_hour_spot=_opt(row.spot_per_hour, k),
            included_egress_gb_per_month=row.included_egress_gb_per_month, ref=conv.ref(row)))
    return out


def _one(conv: _Converter, rows: list, region: str, what: str, required: bool = True):
    found = [row for row in rows if row.region == region]
    if not found:
        if required:
            raise CatalogError(f"{conv.path}: region {region!r} has no {what} price (every region or site needs one)")
        return None
    return found[0]


def _public_regions(conv: _Converter) -> list[r.PublicRegion]:
    p = conv.parsed
    out = []
    for reg in p.regions:
        block = _one(conv, p.block_storage, reg.id, "block_storage")
        objects = [o for o in p.object_storage if o.region == reg.id]
        standard = next((o for o in objects if o.storage_class == "standard"), None)
        if standard is None:
            raise CatalogError(f"{conv.path}: region {reg.id!r} has no standard object_storage price")
        infrequent = next((o for o in objects if o.storage_class == "infrequent"), standard)
        transfers = [t for t in p.transfer if t.region == reg.id]
        internet = next((t for t in transfers if t.kind == "internet"), None)
        if internet is None:
            raise CatalogError(f"{conv.path}: region {reg.id!r} has no internet transfer price")
        cdn = next((t for t in transfers if t.kind == "cdn"), internet)
        net = _one(conv, p.network, reg.id, "network")
        lb_row = _one(conv, p.load_balancers, reg.id, "load_balancers", required=False)
        lb = None
        if lb_row is not None:
            k = conv.usd(lb_row)
            lb = r.LoadBalancerPrice(lb_row.name, lb_row.per_hour * k, lb_row.per_capacity_unit_hour * k,
                                     lb_row.unit_active_connections, lb_row.unit_new_connections_per_s,
                                     lb_row.unit_gb_per_hour, conv.ref(lb_row), lb_row.fixed_size)
        out.append(r.PublicRegion(
            provider=p.provider, region=reg.id, name=reg.name, jurisdiction=reg.jurisdiction,
            failure_domains=reg.failure_domains,
            block_storage_usd_per_gb_month=block.per_gb_month * conv.usd(block), block_storage_ref=conv.ref(block),
            object_standard_usd_per_gb_month=standard.per_gb_month * conv.usd(standard),
            object_infrequent_usd_per_gb_month=infrequent.per_gb_month * conv.usd(infrequent),
            object_put_usd_per_1k=standard.put_per_1k * conv.usd(standard),
            object_get_usd_per_1k=standard.get_per_1k * conv.usd(standard), object_ref=conv.ref(standard),
            internet_egress=_tiers(internet, conv.usd(internet)), internet_egress_ref=conv.ref(internet),
            cdn_egress=_tiers(cdn, conv.usd(cdn)), cdn_egress_ref=conv.ref(cdn),
            cross_zone_usd_per_gb=net.cross_zone_per_gb * conv.usd(net),
            inter_region_usd_per_gb=net.inter_region_per_gb * conv.usd(net), network_ref=conv.ref(net),
            load_balancer=lb))
    return out


def _private_sites(conv: _Converter) -> list[r.PrivateSite]:
    p = conv.parsed
    servers = tuple(r.ServerSku(
        provider=p.provider, sku=s.sku, role=s.role, vcpu=s.vcpu, memory_gib=s.memory_gib, storage_tb=s.storage_tb,
        watts=s.watts, rack_units=s.rack_units, capex_usd=s.capex * conv.usd(s),
        amortization_years=s.amortization_years, ref=conv.ref(s)) for s in p.servers)
    gear = tuple(r.NetworkGearSku(g.name, g.capex * conv.usd(g), g.amortization_years, g.watts, g.rack_units,
                                  g.per, g.count, conv.ref(g)) for g in p.network_gear)
    if not servers:
        raise CatalogError(f"{conv.path}: a private catalog needs at least one entry under servers:")
    if not p.hardware_support:
        raise CatalogError(f"{conv.path}: a private catalog needs a hardware_support entry (support contract "
                           "price as a percent of capex a year, and cold spares per server model)")
    hs = p.hardware_support[0]
    support = r.HardwareSupport(hs.percent_of_capex_per_year, hs.cold_spares_per_model, conv.ref(hs))
    out = []
    for reg in p.regions:
        fac = _one(conv, p.facilities, reg.id, "facilities")
        transit = tuple(r.TransitPrice(t.name, t.per_mbps_month * conv.usd(t), t.min_commit_mbps,
                                       t.cross_connect_per_month * conv.usd(t), t.blended, conv.ref(t))
                        for t in p.transit if t.region == reg.id)
        if not transit:
            raise CatalogError(f"{conv.path}: site {reg.id!r} has no transit price (every site needs one)")
        bk = _one(conv, p.backup, reg.id, "backup")
        products = tuple(r.ColoProduct(c.name, c.kind, c.rack_units, c.kw_included, c.per_month * conv.usd(c),
                                       None if c.extra_kw_per_month is None else c.extra_kw_per_month * conv.usd(c),
                                       c.max_kw if c.max_kw is not None else c.kw_included, conv.ref(c),
                                       c.included_mbps)
                         for c in p.colo_products if c.region == reg.id)
        if not products:
            raise CatalogError(f"{conv.path}: site {reg.id!r} has no colo_products (the cabinets or rack space it "
                               "sells, each with rack units, included kW and a monthly price)")
        out.append(r.PrivateSite(
            provider=p.provider, region=reg.id, name=reg.name, jurisdiction=reg.jurisdiction,
            failure_domains=reg.failure_domains, power_usd_per_kwh=fac.power_per_kwh * conv.usd(fac), pue=fac.pue,
            remote_hands_usd_per_hour=fac.remote_hands_per_hour * conv.usd(fac),
            remote_hands_hours_per_server_year=fac.remote_hands_hours_per_server_year, facility_ref=conv.ref(fac),
            products=products,
            transit=transit,
            backup=r.BackupTarget(bk.name, bk.per_gb_month * conv.usd(bk), conv.ref(bk)),
            support=support, servers=servers, network_gear=gear))
    return out


def _saas(conv: _Converter) -> list[r.SaasOfferUsd]:
    out = []
    for o in conv.parsed.saas:
        k = conv.usd(o)
        out.append(r.SaasOfferUsd(
            provider=o.provider, plan=o.plan, metric=o.metric, base_usd_per_month=o.base_per_month * k,
            included_units=o.included_units, steps=tuple(r.SaasStepUsd(s.up_to, s.per_unit * k) for s in o.steps),
            step_size=o.step_size, max_units=o.max_units, storage_usd_per_gb_month=o.storage_per_gb_month * k,
            included_storage_gb=o.included_storage_gb, bandwidth_usd_per_gb=o.bandwidth_per_gb * k,
            included_bandwidth_gb=o.included_bandwidth_gb,
            usd_per_concurrent_connection_month=o.per_concurrent_connection_month * k,
            included_concurrent_share_of_mau=o.included_concurrent_share_of_mau,
            usd_per_million_messages=o.per_million_messages * k,
            included_messages_per_month=o.included_messages_per_month, ref=conv.ref(o),
            jurisdictions=None if o.jurisdictions is None else tuple(o.jurisdictions),
            cap_mau=o.caps.mau, cap_peak_dau=o.caps.peak_dau, cap_peak_connections=o.caps.peak_connections,
            cap_messages_per_day=o.caps.messages_per_day,
            cap_delivered_messages_per_day=o.caps.delivered_messages_per_day,
            included_retention_days=o.included_retention_days,
            retention_extra_usd_per_gb_month=_opt(o.retention_extra_per_gb_month, k),
            usd_per_million_deliveries=o.per_million_deliveries * k,
            included_deliveries_per_month=o.included_deliveries_per_month,
            message_storage_usd_per_gb_month=o.message_storage_per_gb_month * k,
            included_message_storage_gb=o.included_message_storage_gb,
            stored_message_tiers=tuple(
                r.SaasStepUsd(None if t.up_to_millions is None else t.up_to_millions * 1e6, t.per_million * k / 1e6)
                for t in o.stored_message_tiers),
            included_stored_messages=o.included_stored_messages,
            events_as_messages=o.events_as_messages, unpriced=tuple(sorted(o.unpriced.items()))))
    return out


def _serverless(conv: _Converter) -> list[r.MeteredPrice]:
    """Meters of the file's serverless offers; the included allowance becomes a first band at 0 USD."""
    p = conv.parsed
    jurisdictions = {reg.id: reg.jurisdiction for reg in p.regions}
    out = []
    for row in p.serverless:
        k = conv.usd(row)
        if row.not_found:
            bands = ()
        elif row.tiers:
            bands = tuple((t.up_to, t.price * k) for t in row.tiers)
        else:
            bands = ((None, row.price * k),)
        if bands and row.included_per_month > 0:
            bands = ((row.included_per_month, 0.0),) + tuple(
                (None if up is None else up + row.included_per_month, usd) for up, usd in bands)
        out.append(r.MeteredPrice(p.provider, row.offer, row.region, jurisdictions[row.region], row.meter, row.per,
                                  bands, conv.ref(row), row.not_found))
    return out


def _source_ages(parsed: CatalogFile) -> tuple[r.SourceAge, ...]:
    """How old each source's prices are: its own as_of, or the oldest `as_of` of a row naming it where a row
    overrides its source's date (a row's price is as old as its date, whoever published it)."""
    oldest = {key: s.as_of for key, s in parsed.sources.items()}
    for name in type(parsed).model_fields:
        rows = getattr(parsed, name)
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, Priced) and row.as_of is not None:
                    oldest[row.source] = min(oldest[row.source], row.as_of)
    return tuple(r.SourceAge(key, oldest[key], parsed.sources[key].stale) for key in parsed.sources)


def load_catalog(directory: Path | None = None) -> r.Catalog:
    """Load every catalog file of `directory` (default: the shipped catalogs)."""
    directory = Path(directory) if directory is not None else default_pricing_dir()
    if not directory.is_dir():
        raise CatalogError(f"{directory}: pricing directory not found (expected a folder of catalog YAML files)")
    fx = None
    fx_path = directory / FX_FILE
    if fx_path.exists():
        data, _ = _read_yaml(fx_path)
        fx = _parse(fx_path, FxFile, data)
    files = sorted(p for p in directory.glob("*.yaml") if p.name != FX_FILE)
    if not files:
        raise CatalogError(f"{directory}: no catalog files (*.yaml) found")
    infos, compute, regions, sites, saas, serverless = [], [], [], [], [], []
    for path in files:
        data, raw = _read_yaml(path)
        parsed = _parse(path, CatalogFile, data)
        name = path.stem
        conv = _Converter(name, parsed, fx, path)
        ages = _source_ages(parsed)
        infos.append(r.CatalogInfo(name=name, provider=parsed.provider, kind=parsed.kind, title=parsed.title,
                                   path=str(path), sha256=hashlib.sha256(raw).hexdigest(),
                                   as_of=min(a.as_of for a in ages), sources=ages))
        serverless += _serverless(conv)
        if parsed.kind == "public":
            compute += _compute(conv)
            regions += _public_regions(conv)
        elif parsed.kind == "private":
            sites += _private_sites(conv)
        elif parsed.kind == "saas":
            saas += _saas(conv)
    _check_unique(compute, regions, sites, saas)
    return r.Catalog(directory=str(directory), infos=tuple(infos), fx_as_of=fx.as_of if fx else None,
                     compute=tuple(compute), public_regions=tuple(regions), private_sites=tuple(sites),
                     saas=tuple(saas), serverless=tuple(serverless),
                     fx_source=r.SourceAge("source", fx.as_of, fx.source.stale) if fx else None)


def _check_unique(compute: list[r.ComputeOffering], regions: list[r.PublicRegion],
                  sites: list[r.PrivateSite] = (), saas: list[r.SaasOfferUsd] = ()) -> None:
    declared: dict[tuple[str, str], str] = {}
    for where, catalog in [((g.provider, g.region), g.block_storage_ref.catalog) for g in regions] + \
            [((x.provider, x.region), x.facility_ref.catalog) for x in sites]:
        if where in declared:
            raise CatalogError(f"{catalog}: region {where[0]}/{where[1]} is declared twice (also in "
                               f"{declared[where]}): declare each region or site once")
        declared[where] = catalog
    seen: dict[str, str] = {}
    for c in compute:
        if c.key in seen:
            raise CatalogError(f"{c.ref.catalog}: compute offering {c.key} is listed twice")
        seen[c.key] = c.ref.catalog
    offers: dict[tuple[str, str], str] = {}
    for o in saas:  # within one file the schema checks this; here across files
        if (o.provider, o.plan) in offers:
            raise CatalogError(f"{o.ref.catalog}: SaaS offer {o.provider}/{o.plan} is listed twice (also in "
                               f"{offers[(o.provider, o.plan)]}): list each plan once")
        offers[(o.provider, o.plan)] = o.ref.catalog
    known = {(g.provider, g.region) for g in regions}
    for c in compute:
        if (c.provider, c.region) not in known:
            raise CatalogError(f"{c.ref.catalog}: compute {c.type} names region {c.region!r} with no regional prices")
