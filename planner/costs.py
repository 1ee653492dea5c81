"""Pure cost functions: node counts, graduated prices, the per-region cost terms of a public cloud (SaaS
offers are priced in planner.saas).
The optimizers build their cost terms (planner.terms) from these; nothing here knows about a solver."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from planner.catalog.records import ComputeOffering, LoadBalancerPrice, PublicRegion, TransferTier
from planner.demand import Demand, SliceDemand
from planner.model import LOAD_BALANCING, NETWORK, STORAGE
from planner.shards import database_copies
from planner.terms import CostTerm
from planner.units import HOURS_PER_MONTH, HOURS_PER_SLICE_PER_MONTH, gib_to_gb, graduated, mbps_to_gb_per_hour
from planner.workload import Workload

EPS = 1e-9


@dataclass(frozen=True)
class HaRule:
    """How many nodes a tier needs so that it survives the failures the availability target names."""

    node_loss: bool
    domain_loss: bool
    domains: int  # failure domains the nodes are spread over
    min_nodes: int

    def total_for_surviving(self, surviving: int) -> int:
        """Smallest node count that still leaves `surviving` nodes after the tolerated failure."""
        if surviving <= 0:
            return 0
        n = surviving
        if self.domain_loss and self.domains >= 2:
            # nodes spread evenly over D domains; losing one loses ceil(n/D): need n - ceil(n/D) >= s
            n = math.ceil(surviving * self.domains / (self.domains - 1) - EPS)
        if self.node_loss or self.domain_loss:
            n = max(n, surviving + 1)
        return max(n, self.min_nodes)


def surviving_nodes_needed(vcpu: float, memory_gib: float, node_vcpu: float, node_memory_gib: float,
                           reserved_memory_gib: float) -> int | None:
    """Nodes needed to carry the load (already divided by target utilization); None if a node can't fit any."""
    usable_memory = node_memory_gib - reserved_memory_gib
    if usable_memory <= 0:
        return None
    need = max(math.ceil(vcpu / node_vcpu - EPS), math.ceil(memory_gib / usable_memory - EPS))
    return max(need, 1 if vcpu > 0 or memory_gib > 0 else 0)


def nodes_needed(vcpu: float, memory_gib: float, node_vcpu: float, node_memory_gib: float,
                 reserved_memory_gib: float, ha: HaRule) -> int | None:
    surviving = surviving_nodes_needed(vcpu, memory_gib, node_vcpu, node_memory_gib, reserved_memory_gib)
    return None if surviving is None else ha.total_for_surviving(surviving)


def graduated_cost(amount: float, tiers: tuple[TransferTier, ...]) -> float:
    """Volume-tiered transfer price, graduated: each tier prices only the GB that fall inside it."""
    return graduated(amount, ((tier.up_to_gb, tier.usd_per_gb) for tier in tiers))


def base_price(offering: ComputeOffering, max_commitment_years: int) -> tuple[float, str]:
    """Cheapest hourly price for an always-on node among the purchase options allowed."""
    options = [(offering.usd_per_hour, "on_demand")]
    if max_commitment_years >= 1 and offering.usd_per_hour_commit_1y is not None:
        options.append((offering.usd_per_hour_commit_1y, "commit_1y"))
    if max_commitment_years >= 3 and offering.usd_per_hour_commit_3y is not None:
        options.append((offering.usd_per_hour_commit_3y, "commit_3y"))
    return min(options)


def uses_cdn(region: PublicRegion) -> bool:
    return region.cdn_egress != region.internet_egress or region.cdn_egress_ref != region.internet_egress_ref


def internet_egress_gb(region: PublicRegion, demand: Demand, client: bool = True, media: bool = True,
                       to_site_gb: float = 0.0) -> float:
    """GB a month leaving the region over the internet: messages and events (when the region serves the clients),
    media downloads unless a CDN serves them (when it holds the media), and what it sends to a hybrid's own site."""
    media_gb = demand.media_egress_gb_per_month if media and not uses_cdn(region) else 0.0
    return (demand.client_egress_gb_per_month if client else 0.0) + media_gb + to_site_gb


def load_balancer_units(region: PublicRegion, s: SliceDemand) -> float:
    """Capacity units one hour of slice s bills: the busiest of connections, new connections and GB processed."""
    lb = region.load_balancer
    if lb is None:
        return 0.0
    gb_per_hour = mbps_to_gb_per_hour(s.client_egress_mbps + s.media_ingress_mbps)
    return max(s.connections / lb.unit_active_connections, s.new_connections_per_s / lb.unit_new_connections_per_s,
               gb_per_hour / lb.unit_gb_per_hour)


def load_balancer_capacity_units(region: PublicRegion, demand: Demand) -> float:
    """Capacity-unit-hours a month."""
    return sum(load_balancer_units(region, s) * HOURS_PER_SLICE_PER_MONTH for s in demand.slices)


def fixed_load_balancer_count(region: PublicRegion, demand: Demand) -> int:
    """Fixed-size load balancers (Hetzner) cannot follow the hour: as many as the busiest hour needs, all month."""
    return math.ceil(max(load_balancer_units(region, s) for s in demand.slices) - 1e-9)


def fixed_load_balancer_term(lb: LoadBalancerPrice, count: Any, where: str = "") -> CostTerm:
    """`count` whole load balancers for the month: the unit price is per LB-hour."""
    return CostTerm(LOAD_BALANCING, f"{lb.name}{where}", "load balancers", count,
                    lb.usd_per_capacity_unit_hour * HOURS_PER_MONTH, lb.ref)


def load_balancer_terms(region: PublicRegion, demand: Demand, chosen: Any = 1) -> list[CostTerm]:
    """The region's load balancer in front of the clients: hourly fee plus metered capacity units, or whole
    fixed-size load balancers for the peak."""
    lb = region.load_balancer
    if lb is None:
        return []
    if lb.fixed_size:
        return [fixed_load_balancer_term(lb, fixed_load_balancer_count(region, demand) * chosen)]
    return [CostTerm(LOAD_BALANCING, f"{lb.name} hours", "hours", HOURS_PER_MONTH * chosen, lb.usd_per_hour, lb.ref),
            CostTerm(LOAD_BALANCING, f"{lb.name} capacity units", "unit-hours",
                     load_balancer_capacity_units(region, demand) * chosen, lb.usd_per_capacity_unit_hour, lb.ref)]


def public_region_terms(region: PublicRegion, demand: Demand, workload: Workload, domains: int,
                        egress_served_by_nodes: bool, chosen: Any = 1, database: bool = True, media: bool = True,
                        client: bool = True, internal_gb: float | None = None, to_site_gb: float = 0.0
                        ) -> list[CostTerm]:
    """Cost terms of one region that do not depend on which instances are chosen; `chosen` is the region's
    choice variable (1 outside a model), so only the chosen region's terms count.

    database / media / client: which parts the region serves (all of them for a public plan; a hybrid by tier
    keeps some on own servers): the database's volumes, backup and replication; the media objects and their
    delivery; the client-facing tiers' internet egress and load balancer.
    internal_gb: GB a month the region's tiers send each other (cross-zone for all but 1/domains of it); all of
    the tiers' traffic when None. to_site_gb: what the region sends to the hybrid's own site, over the internet.
    egress_served_by_nodes: the region's compute bundles a traffic allowance, so internet egress is
    priced in the optimizer (it depends on the node count) and left out here.
    """
    terms = []
    if database:
        db_gb = gib_to_gb(demand.database_storage_gib) * database_copies(workload)
        terms.append(CostTerm(STORAGE, "database volumes", "GB-month", db_gb * chosen,
                              region.block_storage_usd_per_gb_month, region.block_storage_ref))
        terms.append(backup_term("database backup copy (object storage of the region)",
                                 gib_to_gb(demand.database_storage_gib), region.object_standard_usd_per_gb_month,
                                 region.object_ref, chosen))
    if media:
        terms.append(CostTerm(STORAGE, "media objects, standard class", "GB-month", demand.media_hot_gb * chosen,
                              region.object_standard_usd_per_gb_month, region.object_ref))
        terms.append(CostTerm(STORAGE, "media objects, infrequent-access class", "GB-month",
                              demand.media_cold_gb * chosen, region.object_infrequent_usd_per_gb_month,
                              region.object_ref))
        terms.append(CostTerm(STORAGE, "media object writes", "1k requests",
                              demand.media_puts_per_month / 1000 * chosen, region.object_put_usd_per_1k,
                              region.object_ref))
        terms.append(CostTerm(STORAGE, "media object reads", "1k requests",
                              demand.media_gets_per_month / 1000 * chosen, region.object_get_usd_per_1k,
                              region.object_ref))
        if uses_cdn(region):
            terms.append(tiered_term(NETWORK, "CDN egress (media downloads)", demand.media_egress_gb_per_month,
                                     region.cdn_egress, region.cdn_egress_ref, chosen))
    media_gb = demand.media_egress_gb_per_month if media and not uses_cdn(region) else 0.0
    internet_gb = internet_egress_gb(region, demand, client, media, to_site_gb)
    if not egress_served_by_nodes and internet_gb > 0:
        what = "internet egress" + (" incl. media" if client and media_gb else
                                    " (media downloads)" if media_gb else "" if client else " to the own site")
        if to_site_gb and (client or media_gb):
            what += ", and to the own site"
        terms.append(tiered_term(NETWORK, what, internet_gb, region.internet_egress, region.internet_egress_ref,
                                 chosen))
    internal = (demand.internal_gb_per_month if client else 0.0) if internal_gb is None else internal_gb
    cross_gb = internal * (domains - 1) / domains + (demand.db_replication_gb_per_month if database else 0.0)
    if cross_gb > 0:
        terms.append(CostTerm(NETWORK, "cross-zone traffic between tiers and database replicas", "GB",
                              cross_gb * chosen, region.cross_zone_usd_per_gb, region.network_ref))
    if client:
        terms += load_balancer_terms(region, demand, chosen)
    return terms


def backup_term(item: str, gb: float, usd_per_gb_month: float, ref, chosen: Any = 1) -> CostTerm:
    """The backup copy kept apart from the live data: one full copy of the database (and, for media on own
    servers, of the media), priced at the backup target's storage rate. The same rule for every strategy."""
    return CostTerm(STORAGE, item, "GB-month", gb * chosen, usd_per_gb_month, ref)


def tiered_term(category: str, item: str, gb: float, tiers: tuple[TransferTier, ...], ref, chosen: Any = 1
                ) -> CostTerm:
    """A fixed amount of GB at a graduated price, counted when `chosen` is 1."""
    return CostTerm(category, item, "GB", gb * chosen, None, ref, tiers=tiers, cost=graduated_cost(gb, tiers) * chosen)


def p95_of_slices(values: list[float]) -> float:
    """95th percentile of 5-minute samples when each hourly slice holds 12 equal samples: the top 5%
    (14 of 288 samples) covers the busiest slice and part of the next, so the p95 is the second-highest slice."""
    ordered = sorted(values, reverse=True)
    return ordered[1] if len(ordered) > 1 else ordered[0]
