"""PlanResult -> the JSON contract (docs/plan-json.md), and that JSON -> rich / markdown / csv.

Every renderer reads the JSON dict, so what a terminal shows is what CI checks read. Nothing here prints.
"""

from __future__ import annotations

import csv
import io
import json

from rich.console import Group as RichGroup
from rich.table import Table
from rich.text import Text

from planner import __version__
from planner.catalog.records import PriceRef
from planner.errors import OutputError
from planner.formats import quantity, ratio, topology_text, usd, usd_fixed, usd_unit_price
from planner.model import CATEGORIES, CostLine, PlanResult, SaasQuote, StrategyPlan

SCHEMA_VERSION = "2.2"  # 2.0: lines carry usd_per_unit (and tiers, basis); labour on every strategy;
#                         2.1: skipped_alternatives; 2.2: topology (shards and replicas), nodes' redundancy


def _ref(ref: PriceRef | None) -> dict:
    if ref is None:
        return {}
    out = {"catalog": ref.catalog, "source": ref.title, "url": ref.url, "as_of": ref.as_of.isoformat()}
    if ref.estimated:
        out["estimate"] = ref.estimate_basis
    return out


def _line(line: CostLine) -> dict:
    out = {"category": line.category, "item": line.item, "quantity": round(line.quantity, 4), "unit": line.unit,
           "usd_per_unit": None if line.usd_per_unit is None else round(line.usd_per_unit, 6),
           "monthly_cost_usd": round(line.monthly_cost_usd, 2), **_ref(line.ref)}
    if line.tiers:
        out["tiers"] = [{"up_to_gb": t.up_to_gb, "usd_per_gb": round(t.usd_per_gb, 6)} for t in line.tiers]
    if line.basis:
        out["basis"] = line.basis
    return out


def _money(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _strategy(s: StrategyPlan, mau: int, dau: float) -> dict:
    cost = s.monthly_cost_usd
    return {
        "name": s.name, "status": s.status, "monthly_cost_usd": _money(cost),
        "cost_per_mau_usd": None if cost is None else round(cost / mau, 6),
        "cost_per_1k_dau_usd": None if cost is None else round(cost / dau * 1000, 4),
        "location": s.location, "pooling": s.pooling, **({"placement": s.placement} if s.placement else {}),
        "pooling_alternatives": {k: _money(v) for k, v in s.alternatives.items()},
        "skipped_alternatives": {k: _money(v) for k, v in s.skipped.items()},
        "breakdown": {k: round(v, 2) for k, v in s.breakdown().items()} if cost is not None else {},
        "nodes": [{"tier": n.tier, "provider": n.provider, "region": n.region, "type": n.type, "count": n.count,
                   "purchase": n.purchase, "monthly_cost_usd": round(n.monthly_cost_usd, 2),
                   "node_hours_per_month": round(n.node_hours_per_month, 1), "vcpu": n.vcpu,
                   "memory_gib": n.memory_gib, **({"redundancy": n.redundancy} if n.redundancy else {}),
                   **_ref(n.ref)} for n in s.nodes],
        "topology": [{"tier": t.tier, "system": t.system, "mode": t.mode, "shards": t.shards,
                      "replicas_per_shard": t.replicas_per_shard, "nodes": t.nodes, "host_group": t.host_group,
                      "basis": t.basis} for t in s.topology],
        "usage": [{"tier": u.tier, "peak_utilization_cpu": round(u.peak_utilization_cpu, 4),
                   "peak_utilization_memory": round(u.peak_utilization_memory, 4),
                   "binding_resource": u.binding_resource} for u in s.usage],
        "lines": [_line(x) for x in s.lines],
        "solver": {"name": s.solver.name, "status": s.solver.status, "gap": s.solver.gap,
                   "seconds": round(s.solver.seconds, 3),
                   "objective_usd": _money(s.solver.objective_usd), "message": s.solver.message},
        "message": s.message,
    }


# Published claims this report checks: self-hosting costs 1/8 of a chat SaaS on public cloud, 1/100 on private.
CLAIMED_SAAS_RATIO = {"public": 8.0, "private": 100.0}


def _claims(strategies: list[dict], ratios: list[dict], saas: list[dict]) -> list[dict]:
    """For public and private: SaaS cost / strategy cost over the priced offers, against the claimed ratio.
    Only fully priced offers that residency allows have a ratio; how many were left out, and why, goes along."""
    left_out = {status: sum(q["status"] == status for q in saas) for status in ("excluded", "quote", "partial")}
    out = []
    for s in strategies:
        claimed = CLAIMED_SAAS_RATIO.get(s["name"])
        values = sorted(r["ratio"] for r in ratios if r["strategy"] == s["name"])
        if claimed is None or not values:
            continue
        median = values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1]
                                                                   + values[len(values) // 2]) / 2
        out.append({"strategy": s["name"], "claimed_ratio": claimed, "saas_offers": len(values),
                    "min_ratio": values[0], "median_ratio": round(median, 3), "max_ratio": values[-1],
                    "claim_met_by_median": median >= claimed,
                    "offers_excluded": left_out["excluded"], "offers_quote": left_out["quote"],
                    "offers_partial": left_out["partial"]})
    return out


def _saas(q: SaasQuote) -> dict:
    return {"provider": q.provider, "plan": q.plan, "metric": q.metric, "units": q.units,
            "monthly_cost_usd": _money(q.monthly_cost_usd), "note": q.note,
            "lines": [_line(x) for x in q.lines],
            "status": q.status, "jurisdictions": None if q.jurisdictions is None else list(q.jurisdictions),
            "fees_usd": {k: round(v, 2) for k, v in q.fees_usd.items()},
            "published_fees_usd": _money(q.published_fees_usd), "flags": list(q.flags)}


def plan_to_dict(result: PlanResult) -> dict:
    strategies = [_strategy(s, result.mau, result.dau) for s in result.strategies]
    saas = [_saas(q) for q in result.saas]
    ratios = [{"saas": f"{q['provider']}/{q['plan']}", "strategy": s["name"],
               "ratio": round(q["monthly_cost_usd"] / s["monthly_cost_usd"], 3)}
              for q in saas if q["monthly_cost_usd"] is not None
              for s in strategies if s["monthly_cost_usd"]]
    cheapest = result.cheapest()
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"implan {__version__}",
        "workload": {"name": result.workload_name, "mau": result.mau, "derived": {
            k: round(v, 3) for k, v in result.demand_summary.items()}, "resolved": result.workload},
        "capacity_profile": list(result.profile_names),
        "catalogs": [{"name": c.name, "provider": c.provider, "kind": c.kind, "as_of": c.as_of.isoformat(),
                      "sha256": c.sha256} for c in result.catalogs],
        "strategies": strategies,
        "saas": saas,
        "ratios": ratios,
        "claims": _claims(strategies, ratios, saas),
        "cheapest": None if cheapest is None else {"kind": cheapest[0], "name": cheapest[1],
                                                   "monthly_cost_usd": _money(cheapest[2])},
    }


def to_json(data: dict) -> str:
    """JSON text; never NaN or Infinity (not JSON, and a sign of a bug: the inputs are checked finite)."""
    try:
        return json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"
    except ValueError as exc:
        raise OutputError(f"internal error: the output holds a non-finite number ({exc}); please report it "
                          "with the input that produced it") from None


# ---------- text renderers (read the JSON dict) ----------

def _solver_text(s: dict) -> str:
    sv = s["solver"]
    if s["monthly_cost_usd"] is None:
        return sv["status"]
    gap = "" if sv["gap"] is None else f", gap {sv['gap']:.2%}"
    return f"{sv['status']} ({sv['name']}{gap}, {sv['seconds']:.2f} s)"


def _saas_ratio(data: dict, saas_name: str, strategy: str) -> float | None:
    for r in data["ratios"]:
        if r["saas"] == saas_name and r["strategy"] == strategy:
            return r["ratio"]
    return None


# compare columns of a SaaS offer: fee groups (planner.saas.FEE_GROUPS) shown apart or together
SAAS_FEE_COLUMNS = (("base", ("base",)), ("per user", ("per_user",)),
                    ("usage", ("connections", "messages", "message_history")), ("media", ("media",)))


def saas_monthly_text(q: dict) -> str:
    """Monthly cell: the price, a lower bound, or why there is none."""
    if q["status"] == "partial":
        return f">= {usd(q['published_fees_usd'])}"
    if q["monthly_cost_usd"] is None:
        return q["status"]
    return usd(q["monthly_cost_usd"])


def saas_fee_cells(q: dict) -> list[str]:
    fees = q.get("fees_usd") or {}
    if not fees:
        return ["-"] * len(SAAS_FEE_COLUMNS)
    return [usd(sum(fees.get(g, 0.0) for g in groups)) for _, groups in SAAS_FEE_COLUMNS]


def saas_notes(data: dict) -> list[str]:
    """One line per offer that is not fully priced (excluded, quote, lower bound) or whose price leaves
    something out (flags), so the reader sees every reason."""
    out = []
    for q in data["saas"]:
        name = f"{q['provider']}/{q['plan']}"
        if q["status"] != "priced":
            out.append(f"{name}: {q['status']}: {q['note']}")
        out += [f"{name}: {flag}" for flag in q.get("flags", [])]
    return out


def compare_table(data: dict) -> RichGroup:
    strategies = data["strategies"]
    t = Table(title=f"implan compare: {data['workload']['name']} ({data['workload']['mau']:,} MAU)", expand=False)
    for col, justify in (("option", "left"), ("monthly", "right"), ("per MAU", "right"), ("per 1k DAU", "right"),
                         ("where", "left"), ("status", "left")):
        t.add_column(col, justify=justify)
    for s in strategies:
        t.add_row(s["name"], usd(s["monthly_cost_usd"]), usd_fixed(s["cost_per_mau_usd"], 4),
                  usd_fixed(s["cost_per_1k_dau_usd"], 2),
                  s["location"] or "-", _solver_text(s))
    saas = Table(title="Chat SaaS for the same workload: SaaS cost / strategy cost", expand=False)
    saas.add_column("SaaS offer")
    saas.add_column("monthly", justify="right")
    for label, _ in SAAS_FEE_COLUMNS:
        saas.add_column(label, justify="right")
    for s in strategies:
        saas.add_column(f"/ {s['name']}", justify="right")
    for q in data["saas"]:
        name = f"{q['provider']}/{q['plan']}"
        saas.add_row(name, saas_monthly_text(q), *saas_fee_cells(q),
                     *[ratio(_saas_ratio(data, name, s["name"])) for s in strategies])
    parts = [t]
    for s in strategies:
        if s["monthly_cost_usd"] is None:
            parts.append(Text(f"{s['name']}: {s['message']}", style="yellow"))
    if data["saas"]:
        parts.append(saas)
        parts += [Text(line, style="dim") for line in saas_notes(data)]
    for claim in data["claims"]:
        parts.append(Text(_claim_text(claim)))
    if _no_priced_saas(data):
        parts.append(Text(NO_CLAIMS))
    c = data["cheapest"]
    parts.append(Text("Cheapest: " + ("none feasible" if c is None else
                                      f"{c['name']} ({c['kind']}) at {usd(c['monthly_cost_usd'])}/month"),
                      style="bold"))
    parts.append(_provenance(data))
    return RichGroup(*parts)


NO_CLAIMS = ("Claims not checked: no chat SaaS offer is both priced in full from published prices and allowed by "
             "placement.residency (see the reasons above)")


def _no_priced_saas(data: dict) -> bool:
    return bool(data["saas"]) and all(q["monthly_cost_usd"] is None for q in data["saas"])


def _claim_text(c: dict) -> str:
    verdict = "holds" if c["claim_met_by_median"] else "does not hold"
    left_out = [f"{c[key]} {what}" for key, what in (("offers_excluded", "excluded by residency"),
                                                     ("offers_quote", "quote only"),
                                                     ("offers_partial", "lower bounds"))
                if c.get(key)]
    return (f"Claim 'SaaS costs {c['claimed_ratio']:g}x {c['strategy']}': {verdict} for this workload "
            f"(median {c['median_ratio']:.1f}x, range {c['min_ratio']:.1f}x-{c['max_ratio']:.1f}x over "
            f"{c['saas_offers']} priced offers" + (f"; not counted: {', '.join(left_out)})" if left_out else ")"))


def _provenance(data: dict) -> Text:
    """Which capacity profile and catalogs the figures rest on."""
    catalogs = ", ".join(f"{c['name']} ({c['as_of']})" for c in data["catalogs"])
    return Text(f"Capacity profile: {' + '.join(data['capacity_profile'])}. Catalogs (oldest price): {catalogs}.",
                style="dim")


def _unit_price(line: dict) -> str:
    """The unit price of a line; for a graduated price its average, marked."""
    return usd_unit_price(line.get("usd_per_unit"), bool(line.get("tiers")))


def plan_tables(data: dict) -> RichGroup:
    parts = []
    for s in data["strategies"]:
        head = Text(f"\n{s['name']}: ", style="bold")
        if s["monthly_cost_usd"] is None:
            head.append(f"{s['status']}: {s['message']}")
            parts.append(head)
            continue
        head.append(f"{usd(s['monthly_cost_usd'])}/month, {usd_fixed(s['cost_per_mau_usd'], 4)} per MAU, "
                    f"{usd_fixed(s['cost_per_1k_dau_usd'], 2)} per 1k DAU. {s['location']}, {s['pooling']}")
        chosen = f"{s['placement']}, {s['pooling']}" if s.get("placement") else s["pooling"]
        alt = {k: v for k, v in s["pooling_alternatives"].items() if k != chosen and v is not None}
        if s.get("placement"):
            head.append(f", placement {s['placement']}")
        if alt:
            k, v = min(alt.items(), key=lambda kv: kv[1])
            head.append(f" (saves {usd(v - s['monthly_cost_usd'])} vs {k})" if v >= s["monthly_cost_usd"]
                        else f" ({k}: {usd(v)})")
        elif s.get("skipped_alternatives"):
            # the other variants were not solved: their LP bounds are above this cost, so it saves at least that
            k, v = min(s["skipped_alternatives"].items(), key=lambda kv: kv[1])
            head.append(f" (saves at least {usd(v - s['monthly_cost_usd'])} vs {k}, by its LP bound)")
        head.append(f". Solver: {_solver_text(s)}")
        parts.append(head)
        b = Table(title="breakdown", expand=False)
        b.add_column("category")
        b.add_column("monthly", justify="right")
        for k in CATEGORIES:
            if s["breakdown"].get(k):
                b.add_row(k, usd(s["breakdown"][k]))
        n = Table(title="nodes", expand=False)
        for col in ("tier", "location", "type", "count", "purchase", "monthly"):
            n.add_column(col, justify="right" if col in ("count", "monthly") else "left")
        for node in s["nodes"]:
            n.add_row(node["tier"], f"{node['provider']} {node['region']}", node["type"], str(node["count"]),
                      node["purchase"], usd(node["monthly_cost_usd"]))
        lines = Table(title="cost lines", expand=False)
        for col in ("category", "item", "quantity", "unit price", "monthly", "as of"):
            lines.add_column(col, justify="right" if col in ("quantity", "unit price", "monthly") else "left")
        for x in s["lines"]:
            lines.add_row(x["category"], x["item"], f"{quantity(x['quantity'])} {x['unit']}", _unit_price(x),
                          usd(x["monthly_cost_usd"]), x.get("as_of", "") + (" (est.)" if x.get("estimate") else ""))
        u = Table(title="peak utilization", expand=False)
        for col in ("tier", "cpu", "memory", "binding"):
            u.add_column(col)
        for x in s["usage"]:
            u.add_row(x["tier"], f"{x['peak_utilization_cpu']:.0%}", f"{x['peak_utilization_memory']:.0%}",
                      x["binding_resource"])
        parts += [b, lines] + ([n, u] if s["nodes"] else [])  # serverless runs no nodes of its own
        parts += [Text("layout: " + topology_text(t)) for t in s.get("topology") or []]
        if s["message"]:
            parts.append(Text(s["message"], style="dim"))
    parts.append(_provenance(data))
    return RichGroup(*parts)


def to_markdown(data: dict, detailed: bool) -> str:
    w = data["workload"]
    out = [f"# implan: {w['name']} ({w['mau']:,} MAU)", "",
           "| option | monthly USD | per MAU | per 1k DAU | where | solver |", "|---|---:|---:|---:|---|---|"]
    for s in data["strategies"]:
        out.append(f"| {s['name']} | {usd(s['monthly_cost_usd'])} | {usd_fixed(s['cost_per_mau_usd'], 4)} | "
                   f"{usd_fixed(s['cost_per_1k_dau_usd'], 2)} | {s['location'] or s['message']} | {_solver_text(s)} |")
    if data["saas"]:
        names = [s["name"] for s in data["strategies"]]
        fee_heads = [label for label, _ in SAAS_FEE_COLUMNS]
        out += ["", "| SaaS offer | monthly USD | " + " | ".join(fee_heads) + " | "
                + " | ".join(f"÷ {n}" for n in names) + " |",
                "|---|---:|" + "---:|" * (len(fee_heads) + len(names))]
        for q in data["saas"]:
            name = f"{q['provider']}/{q['plan']}"
            cells = saas_fee_cells(q) + [ratio(_saas_ratio(data, name, n)) for n in names]
            out.append(f"| {name} | {saas_monthly_text(q)} | " + " | ".join(cells) + " |")
        notes = saas_notes(data)
        if notes:
            out += [""] + [f"- {line}" for line in notes]
    out += [""] + [f"- {_claim_text(c)}" for c in data["claims"]]
    if _no_priced_saas(data):
        out.append(f"- {NO_CLAIMS}")
    c = data["cheapest"]
    out += ["", "**Cheapest:** " + ("none feasible" if c is None else
                                     f"{c['name']} ({c['kind']}) at {usd(c['monthly_cost_usd'])}/month")]
    if detailed:
        for s in data["strategies"]:
            if s["monthly_cost_usd"] is None:
                continue
            out += ["", f"## {s['name']}: {usd(s['monthly_cost_usd'])}/month ({s['location']}, {s['pooling']})", "",
                    "| category | monthly USD |", "|---|---:|"]
            out += [f"| {k} | {usd(v)} |" for k, v in s["breakdown"].items() if v]
            out += ["", "| category | item | quantity | unit price | monthly USD | source (as of) |",
                    "|---|---|---:|---:|---:|---|"]
            out += [f"| {x['category']} | {x['item']} | {quantity(x['quantity'])} {x['unit']} | {_unit_price(x)} | "
                    f"{usd(x['monthly_cost_usd'])} | {x.get('source', '')} ({x.get('as_of', '')}"
                    f"{', estimate' if x.get('estimate') else ''}) |" for x in s["lines"]]
            if not s["nodes"]:
                continue
            out += ["", "| tier | location | type | count | purchase | monthly USD |", "|---|---|---|---:|---|---:|"]
            out += [f"| {n['tier']} | {n['provider']} {n['region']} | {n['type']} | {n['count']} | {n['purchase']} | "
                    f"{usd(n['monthly_cost_usd'])} |" for n in s["nodes"]]
            if s.get("topology"):
                out += [""] + [f"- {topology_text(t)}" for t in s["topology"]]
    return "\n".join(out) + "\n"


def to_csv(data: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kind", "name", "status", "monthly_cost_usd", "cost_per_mau_usd", "location", "pooling",
                     *CATEGORIES])
    for s in data["strategies"]:
        writer.writerow(["strategy", s["name"], s["status"], s["monthly_cost_usd"], s["cost_per_mau_usd"],
                         s["location"], s["pooling"], *[s["breakdown"].get(k, "") for k in CATEGORIES]])
    for q in data["saas"]:
        cost = q["monthly_cost_usd"]
        status = "quote_only" if q["status"] == "quote" else q["status"]
        writer.writerow(["saas", f"{q['provider']}/{q['plan']}", status,
                         cost, None if cost is None else round(cost / data["workload"]["mau"], 6), "", "",
                         *["" for _ in CATEGORIES]])
    return buf.getvalue()
