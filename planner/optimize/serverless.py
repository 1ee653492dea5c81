"""Serverless strategy as a small MILP: one model per offer location, the cheapest kept (planner.optimize.plan).

Sets: the offer's meters m (pricing/*.yaml `serverless:` rows), choice groups g with options k (aws_websocket:
Lambda architecture arm64 | x86_64, DynamoDB capacity on-demand | provisioned).
Data: q_m units a month each meter bills (planner.serverless, from the demand model), priced graduated by the
meter's published bands (included allowance first, at 0): C_m = graduated(q_m).
Variables: x in {0,1} the offer is used; y[g,k] in {0,1} option k of group g.
min  sum_{m not in a group} C_m x + sum_{g,k} sum_{m of k} C_m y[g,k] + labour
s.t. x = 1                                  offer
     sum_k y[g,k] = x   for every group g    choice-<g>
labour (planner.labour, the rule of every strategy): the one self-run system (the chat handlers) times x, no
nodes, and the minimum staffing top-up. Every cost is one planner.terms.CostTerm: the objective is their sum and
the plan's lines are the same terms evaluated at the solution.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pulp

from planner.catalog.records import MeteredPrice, PublicRegion
from planner.costs import internet_egress_gb, public_region_terms, tiered_term
from planner.labour import labour_rates, labour_terms
from planner.model import COMPUTE, NETWORK, STORAGE, StrategyPlan
from planner.optimize.candidates import lp_name, solved_value
from planner.optimize.context import PlanContext, residency_ok, residency_reason
from planner.serverless import aws_limit_findings, aws_usage, cloudflare_usage
from planner.terms import CostTerm, objective, plan_lines
from planner.units import graduated

AWS, CLOUDFLARE = "aws_websocket", "cloudflare_workers"
GLOBAL = "global"  # the jurisdiction of an offer that runs everywhere (Cloudflare's network)
AWS_METERS = ("apigw_connection_minutes", "apigw_messages", "lambda_requests", "lambda_duration_arm64",
              "lambda_duration_x86_64", "dynamodb_write_request_units", "dynamodb_read_request_units",
              "dynamodb_write_capacity_units", "dynamodb_read_capacity_units", "dynamodb_storage")
CLOUDFLARE_METERS = ("workers_paid_plan", "workers_requests", "workers_cpu_ms", "do_requests", "do_duration",
                     "do_rows_read", "do_rows_written", "do_storage", "r2_storage", "r2_class_a", "r2_class_b")
REQUIRED_METERS = {AWS: AWS_METERS, CLOUDFLARE: CLOUDFLARE_METERS}
# the one system the team runs on each offer (everything else is a managed service: no software-operations labour)
SYSTEMS = {AWS: "chat handlers on Lambda", CLOUDFLARE: "chat Worker and Durable Objects"}
UNITS = {"million": "million", "gb_month": "GB-month", "gb_second": "GB-s", "million_gb_seconds": "million GB-s",
         "month": "month", "unit_month": "capacity-unit-months"}
PER_UNIT = {"million": 1e6, "gb_month": 1.0, "gb_second": 1.0, "million_gb_seconds": 1e6, "month": 1.0,
            "unit_month": 1.0}
NOT_PRICED = {AWS: "not priced: DynamoDB backups and point-in-time recovery, CloudWatch logs (no stored price)",
              CLOUDFLARE: "not priced: Workers Logs and analytics beyond the plan"}


@dataclass(frozen=True)
class Offer:
    """One serverless offer in one location, with every meter it needs."""

    offer: str
    provider: str
    region: str
    jurisdiction: str
    meters: dict[str, MeteredPrice]
    storage_region: PublicRegion | None  # aws: the region's S3, CDN and egress rows; None for R2
    warnings: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.offer} {self.region}"


@dataclass
class ServerlessModel:
    prob: pulp.LpProblem
    offer: Offer | None
    offer_vars: dict[str, pulp.LpVariable]
    choices: dict[str, list[tuple[str, pulp.LpVariable]]]  # group -> (option, variable)
    terms: list[CostTerm]
    excluded: list[str] = field(default_factory=list)


def metered_term(category: str, item: str, meter: MeteredPrice, quantity: float, chosen, basis: str = "") -> CostTerm:
    """`quantity` (in the units the meter counts, e.g. messages) billed per the meter's `per`, graduated over its
    bands (the included allowance is the first, at 0), counted when `chosen` is 1."""
    units = quantity / PER_UNIT[meter.per]
    unit = UNITS[meter.per]
    return CostTerm(category, item, unit, units * chosen, None, meter.ref,
                    cost=graduated(units, meter.bands) * chosen, basis=basis)


def offer_keys(ctx: PlanContext) -> list[str]:
    """Every serverless offer location in the catalogs: the variants `implan plan` solves."""
    return sorted({f"{m.offer} {m.region}" for m in ctx.catalog.serverless})


def _offers(ctx: PlanContext) -> tuple[list[Offer], list[str]]:
    """The offers the workload can use, and why each other one is left out."""
    grouped: dict[tuple, dict[str, MeteredPrice]] = defaultdict(dict)
    for m in ctx.catalog.serverless:
        grouped[(m.offer, m.provider, m.region, m.jurisdiction)][m.meter] = m
    p = ctx.workload.placement
    usable, excluded, outside = [], [], []
    for (offer, provider, region, jurisdiction), meters in sorted(grouped.items()):
        key = f"{offer} {region}"
        if p.providers and provider not in p.providers:
            excluded.append(f"{key}: provider {provider} is not in placement.providers")
            continue
        if not residency_ok(ctx.workload, jurisdiction):
            outside.append(jurisdiction)
            continue
        needed = REQUIRED_METERS.get(offer)
        if needed is None:
            excluded.append(f"{key}: offer {offer!r} is not one implan sizes (known: {', '.join(REQUIRED_METERS)})")
            continue
        missing = [m for m in needed if m not in meters or meters[m].not_found]
        if missing:
            why = next((meters[m].not_found for m in missing if m in meters), "no catalog row")
            excluded.append(f"{key}: not priced ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}: "
                            f"{why})")
            continue
        storage_region, warnings = None, ()
        if offer == AWS:
            storage_region = next((r for r in ctx.catalog.public_regions
                                   if r.provider == provider and r.region == region), None)
            if storage_region is None:
                excluded.append(f"{key}: the catalog has no S3 and egress prices for {provider}/{region}")
                continue
            blockers, found = aws_limit_findings(aws_usage(ctx.demand, ctx.workload, ctx.profile), ctx.workload)
            if blockers:
                excluded.append(f"{key}: infeasible: {'; '.join(blockers)}")
                continue
            warnings = tuple(found)
        usable.append(Offer(offer, provider, region, jurisdiction, meters, storage_region, warnings))
    if GLOBAL in outside:
        excluded.append("Cloudflare runs Workers on its global network (jurisdiction global; Durable Objects can be "
                        "held to the eu or us jurisdiction, cf_do_location, but the offer is priced globally)")
    return usable, residency_reason(ctx.workload, "serverless offer locations", outside) + excluded


def _choice(prob: pulp.LpProblem, group: str, options: list[str], x) -> list[tuple[str, pulp.LpVariable]]:
    out = [(o, prob.add_variable(f"y_{lp_name(group)}_{lp_name(o)}", cat="Binary")) for o in options]
    prob += pulp.lpSum(v for _, v in out) == x, f"choice-{lp_name(group)}"
    return out


def _aws_terms(ctx: PlanContext, o: Offer, x, prob, choices) -> list[CostTerm]:
    u, m = aws_usage(ctx.demand, ctx.workload, ctx.profile), o.meters
    est = "estimate (capacity profile, serverless)"
    arch = _choice(prob, "lambda architecture", ["arm64", "x86_64"], x)
    mode = _choice(prob, "dynamodb capacity", ["on-demand", "provisioned"], x)
    choices.update({"lambda architecture": arch, "dynamodb capacity": mode})
    terms = [
        metered_term(COMPUTE, "API Gateway WebSocket: connection minutes", m["apigw_connection_minutes"],
                     u.connection_minutes, x, "average concurrent connections x minutes a month"),
        metered_term(COMPUTE, "API Gateway WebSocket: messages (32 KB increments, keepalives included)",
                     m["apigw_messages"], u.messages, x, "every frame in and out, plus a keepalive per idle 10 min"),
        metered_term(COMPUTE, "Lambda: requests", m["lambda_requests"], u.invocations, x,
                     "every client frame, $connect and $disconnect"),
    ]
    terms += [metered_term(COMPUTE, f"Lambda: duration, {a}", m[f"lambda_duration_{a}"], u.gb_seconds, y,
                           f"handler ms per event and per fan-out post x memory: {est}") for a, y in arch]
    on_demand, provisioned = (y for _, y in mode)
    terms += [
        metered_term(COMPUTE, "DynamoDB on-demand: write request units", m["dynamodb_write_request_units"],
                     u.write_units, on_demand, "messages and receipts by item size, connection put/delete"),
        metered_term(COMPUTE, "DynamoDB on-demand: read request units", m["dynamodb_read_request_units"],
                     u.read_units, on_demand, "eventually consistent connection lookups and history reads"),
        metered_term(COMPUTE, "DynamoDB provisioned: write capacity units", m["dynamodb_write_capacity_units"],
                     u.write_capacity_unit_months, provisioned, "hourly write units / 70 % auto-scaling target"),
        metered_term(COMPUTE, "DynamoDB provisioned: read capacity units", m["dynamodb_read_capacity_units"],
                     u.read_capacity_unit_months, provisioned, "hourly read units / 70 % auto-scaling target"),
        metered_term(STORAGE, "DynamoDB: stored messages", m["dynamodb_storage"], u.storage_gb, x,
                     "retained messages x (message bytes + item overhead)"),
    ]
    region = o.storage_region
    # media on the region's S3 (and CDN where the catalog has one); internet egress is one graduated term for
    # messages and media together, so it is priced here rather than in public_region_terms
    terms += public_region_terms(region, ctx.demand, ctx.workload, 1, egress_served_by_nodes=True, chosen=x,
                                 database=False, media=True, client=False, internal_gb=0.0)
    terms.append(tiered_term(NETWORK, "internet egress: frames to clients (API Gateway) and media",
                             internet_egress_gb(region, ctx.demand), region.internet_egress,
                             region.internet_egress_ref, x))
    return terms


def _cloudflare_terms(ctx: PlanContext, o: Offer, x) -> list[CostTerm]:
    u, m, d = cloudflare_usage(ctx.demand, ctx.workload, ctx.profile), o.meters, ctx.demand
    return [
        metered_term(COMPUTE, "Workers Paid plan", m["workers_paid_plan"], 1.0, x),
        metered_term(COMPUTE, "Workers: requests (WebSocket upgrades)", m["workers_requests"], u.worker_requests, x),
        metered_term(COMPUTE, "Workers: CPU time", m["workers_cpu_ms"], u.worker_cpu_ms, x,
                     "estimate (capacity profile, serverless): CPU ms per upgrade"),
        metered_term(COMPUTE, "Durable Objects: requests", m["do_requests"], u.do_requests, x,
                     "incoming socket messages / 20, RPCs to the conversation and to each recipient, upgrades"),
        metered_term(COMPUTE, "Durable Objects: duration (WebSocket hibernation)", m["do_duration"], u.do_gb_seconds,
                     x, "handler runs x ms x 128 MB; hibernated sockets bill no duration: estimate (capacity profile)"),
        metered_term(COMPUTE, "Durable Objects SQLite: rows written", m["do_rows_written"], u.rows_written, x),
        metered_term(COMPUTE, "Durable Objects SQLite: rows read", m["do_rows_read"], u.rows_read, x),
        metered_term(STORAGE, "Durable Objects SQLite: stored messages", m["do_storage"], u.storage_gb, x),
        metered_term(STORAGE, "R2: media objects", m["r2_storage"], d.media_stored_gb, x, "no egress fee"),
        metered_term(STORAGE, "R2: media writes (Class A)", m["r2_class_a"], d.media_puts_per_month, x),
        metered_term(STORAGE, "R2: media reads (Class B)", m["r2_class_b"], d.media_gets_per_month, x),
    ]


def build_serverless(ctx: PlanContext, key: str) -> ServerlessModel:
    """The model of offer location `key` (e.g. "aws_websocket us-east-1"); its `excluded` says why every offer
    location the workload cannot use is left out (so the kept plan reports them all)."""
    offers, excluded = _offers(ctx)
    offer = next((o for o in offers if o.key == key), None)
    prob = pulp.LpProblem(f"serverless_{lp_name(key)}", pulp.LpMinimize)
    if offer is None:
        return ServerlessModel(prob, None, {}, {}, [], excluded)
    x = prob.add_variable(f"x_{lp_name(key)}", cat="Binary")
    prob += x == 1, "offer"
    choices: dict[str, list[tuple[str, pulp.LpVariable]]] = {}
    terms = _aws_terms(ctx, offer, x, prob, choices) if offer.offer == AWS else _cloudflare_terms(ctx, offer, x)
    terms += labour_terms(prob, "serverless", labour_rates(ctx.workload), [(SYSTEMS[offer.offer], x)], 0)
    prob += objective(terms)
    return ServerlessModel(prob, offer, {key: x}, choices, terms, excluded)


def extract_serverless(ctx: PlanContext, m: ServerlessModel, solver_info) -> StrategyPlan:
    """The plan is the model's own cost terms at the solution; the options chosen and the limits go with it."""
    o = m.offer
    chosen = [f"{group} {next(name for name, v in options if solved_value(v) > 0.5)}"
              for group, options in m.choices.items()]
    lines, _ = plan_lines(m.terms)
    notes = list(o.warnings) + [NOT_PRICED[o.offer],
                                "availability: the managed services' own; no bundle for serverless (issue 14)"]
    return StrategyPlan(name="serverless", status=solver_info.status,
                        monthly_cost_usd=sum(line.monthly_cost_usd for line in lines),
                        location=f"{o.provider} {o.region}" + (f" ({', '.join(chosen)})" if chosen else ""),
                        pooling="serverless", lines=tuple(lines), nodes=(), usage=(), solver=solver_info,
                        message="; ".join(notes), placement=o.key)
