"""`implan claims`: where do the published cost claims hold? (SaaS cost / self-hosted cost >= a claimed ratio.)

For each claim (default: SaaS ÷ public >= 8, SaaS ÷ private >= 100) and each point of a log-spaced MAU grid, every
point a real solve: the ratio of each chat SaaS offer that publishes a price at that size to the strategy's cost,
their median, and the cost line that dominates each side. The answer is the MAU intervals (at grid resolution)
where the claim holds for the median priced offer and for each offer, and the offers left out and why.
Pure functions over plan dicts (planner.report.plan_to_dict) plus one runner; nothing here prints.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from planner.errors import PlannerError
from planner.formats import usd
from planner.workload import STRATEGIES

DEFAULT_CLAIMS = {"public": 8.0, "private": 100.0}
CLAIMS_SCHEMA_VERSION = "1.0"


class ClaimsError(PlannerError):
    """A bad --claim (exit 2)."""


def parse_claims(texts: list[str] | None) -> dict[str, float]:
    """'public=8' -> {'public': 8.0}; none given: the published claims."""
    if not texts:
        return dict(DEFAULT_CLAIMS)
    out = {}
    for text in texts:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or name not in STRATEGIES:
            raise ClaimsError(f"--claim {text!r}: expected STRATEGY=RATIO with STRATEGY one of "
                              f"{', '.join(STRATEGIES)} (e.g. public=8)")
        try:
            ratio = float(value)
        except ValueError:
            ratio = math.nan
        if not math.isfinite(ratio) or ratio <= 0:
            raise ClaimsError(f"--claim {text!r}: the ratio must be a positive number (SaaS cost / {name} cost)")
        out[name] = ratio
    return out


def _largest_line(lines: list[dict]) -> dict | None:
    if not lines:
        return None
    top = max(lines, key=lambda x: x["monthly_cost_usd"])
    return {"category": top["category"], "item": top["item"], "monthly_cost_usd": top["monthly_cost_usd"]}


def claim_at_point(data: dict, strategy: str, claimed: float) -> dict:
    """One MAU: each offer's ratio to the strategy, the median over priced offers, the dominating lines."""
    entry = next((s for s in data["strategies"] if s["name"] == strategy), None)
    cost = None if entry is None else entry["monthly_cost_usd"]
    offers, excluded = [], []
    for q in data["saas"]:
        name = f"{q['provider']}/{q['plan']}"
        if q["monthly_cost_usd"] is None:
            excluded.append({"saas": name, "reason": q.get("note") or "no published price at this size"})
            continue
        ratio = None if not cost else round(q["monthly_cost_usd"] / cost, 3)
        offers.append({"saas": name, "monthly_cost_usd": q["monthly_cost_usd"], "ratio": ratio,
                       "holds": ratio is not None and ratio >= claimed, "dominant_line": _largest_line(q["lines"])})
    ratios = [o["ratio"] for o in offers if o["ratio"] is not None]
    median = statistics.median(ratios) if ratios else None
    median_offer = min(offers, key=lambda o: abs(o["ratio"] - median)) if median is not None and offers else None
    return {"mau": data["workload"]["mau"], "strategy_usd": cost,
            "strategy_status": None if entry is None else entry["status"],
            "median_ratio": None if median is None else round(median, 3),
            "holds": None if median is None else median >= claimed,
            "priced_offers": len(ratios), "offers": offers, "excluded": excluded,
            "dominant_strategy_line": None if entry is None or cost is None else _largest_line(entry["lines"]),
            "median_offer": None if median_offer is None else median_offer["saas"],
            "dominant_saas_line": None if median_offer is None else median_offer["dominant_line"]}


def intervals(points: list[tuple[int, bool | None]]) -> list[list[int]]:
    """Runs of consecutive grid points where the claim holds, as [first MAU, last MAU]."""
    out, start, last = [], None, None
    for mau, holds in points:
        if holds:
            start = mau if start is None else start
            last = mau
        elif start is not None:
            out.append([start, last])
            start = None
    if start is not None:
        out.append([start, last])
    return out


def summarize(points_by_mau: list[dict], claims: dict[str, float]) -> list[dict]:
    """Per claim: the points, where the median holds, where each offer holds, which offers were left out."""
    out = []
    for strategy, claimed in claims.items():
        pts = [claim_at_point(p, strategy, claimed) for p in points_by_mau]
        names = sorted({o["saas"] for p in pts for o in p["offers"]} | {e["saas"] for p in pts for e in p["excluded"]})
        per_offer = {}
        for name in names:
            series = [(p["mau"], next((o["holds"] for o in p["offers"] if o["saas"] == name), None)) for p in pts]
            per_offer[name] = intervals(series)
        excluded = {}
        for p in pts:
            for e in p["excluded"]:
                excluded.setdefault(e["saas"], {"reason": e["reason"], "at_mau": []})["at_mau"].append(p["mau"])
        out.append({"strategy": strategy, "claimed_ratio": claimed,
                    "median_holds_at": intervals([(p["mau"], p["holds"]) for p in pts]),
                    "offers_hold_at": per_offer, "offers_excluded": excluded, "points": pts})
    return out


def run_claims(workload_path: Path | None, overrides: list[str], profile, catalog, solver: str, grid: list[int],
               claims: dict[str, float], on_point=None) -> dict:
    """Solve the strategies the claims name at every grid point and summarize."""
    from planner.optimize import plan
    from planner.report import plan_to_dict
    from planner.workload import load_workload

    base = load_workload(workload_path, overrides)  # validate once, before any solve
    strategies = [s for s in STRATEGIES if s in claims]
    points = []
    for mau in grid:
        if on_point:
            on_point(mau)
        workload = load_workload(workload_path, overrides + [f"users.mau={mau}", "saas.compare=true"])
        points.append(plan_to_dict(plan(workload, profile, catalog, strategies, solver)))
    return {"claims_schema_version": CLAIMS_SCHEMA_VERSION, "workload": base.name, "mau_grid": grid,
            "resolution": "grid points: a claim's interval ends between its last grid point and the next",
            "claims": summarize(points, claims)}


def _mau(x: int) -> str:
    for div, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}"
    return str(x)


def interval_text(spans: list[list[int]], grid: list[int]) -> str:
    if not spans:
        return "nowhere in the range"
    if spans == [[grid[0], grid[-1]]]:
        return "across the whole range"
    return ", ".join(_mau(a) if a == b else f"{_mau(a)}-{_mau(b)}" for a, b in spans) + " MAU"


def claims_text(data: dict) -> list[str]:
    """The verdicts as sentences a CTO can read."""
    grid = data["mau_grid"]
    lines = []
    for c in data["claims"]:
        lines.append(f"Claim 'SaaS costs {c['claimed_ratio']:g}x {c['strategy']}': holds for the median priced "
                     f"offer {interval_text(c['median_holds_at'], grid)} ({_mau(grid[0])}-{_mau(grid[-1])} MAU "
                     f"checked at {len(grid)} points).")
        holding = [f"{name} ({interval_text(spans, grid)})" for name, spans in c["offers_hold_at"].items() if spans]
        lines.append("  Offers for which it holds: " + ("; ".join(holding) if holding else "none") + ".")
        if c["offers_excluded"]:
            lines.append("  Left out where they publish no full price (reasons in --format json): " + ", ".join(
                f"{name} ({interval_text(intervals([(m, m in e['at_mau']) for m in grid]), grid)})"
                for name, e in c["offers_excluded"].items()) + ".")
    return lines


def claims_rich(data: dict):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text


    parts = []
    for c in data["claims"]:
        t = Table(title=f"SaaS ÷ {c['strategy']} (claim: {c['claimed_ratio']:g}x)", expand=False)
        for col in ("MAU", c["strategy"], "median", "holds", f"largest {c['strategy']} line", "median offer",
                    "its largest line"):
            t.add_column(col, justify="right" if col in ("MAU", c["strategy"], "median") else "left")
        for p in c["points"]:
            s_line, q_line = p["dominant_strategy_line"], p["dominant_saas_line"]
            t.add_row(f"{p['mau']:,}", usd(p["strategy_usd"]),
                      "n/a" if p["median_ratio"] is None else f"{p['median_ratio']:.1f}x",
                      "n/a" if p["holds"] is None else ("yes" if p["holds"] else "no"),
                      "-" if s_line is None else f"{s_line['item']} ({usd(s_line['monthly_cost_usd'])})",
                      p["median_offer"] or "-",
                      "-" if q_line is None else f"{q_line['item']} ({usd(q_line['monthly_cost_usd'])})")
        parts.append(t)
    parts += [Text(line) for line in claims_text(data)]
    parts.append(Text(f"Intervals at grid resolution ({data['resolution']}).", style="dim"))
    return Group(*parts)


def claims_markdown(data: dict) -> str:

    out = [f"# Where the cost claims hold: {data['workload']}", ""]
    for c in data["claims"]:
        out += [f"## SaaS ÷ {c['strategy']} (claim {c['claimed_ratio']:g}x)", "",
                f"| MAU | {c['strategy']} | median | holds | largest {c['strategy']} line | median offer |",
                "|---:|---:|---:|---|---|---|"]
        for p in c["points"]:
            s_line = p["dominant_strategy_line"]
            median = "n/a" if p["median_ratio"] is None else f"{p['median_ratio']:.1f}x"
            holds = "n/a" if p["holds"] is None else ("yes" if p["holds"] else "no")
            out.append(f"| {p['mau']:,} | {usd(p['strategy_usd'])} | {median} | {holds} | "
                       f"{'-' if s_line is None else s_line['item']} | {p['median_offer'] or '-'} |")
        out.append("")
    out += [f"- {line.strip()}" for line in claims_text(data)]
    return "\n".join(out) + "\n"
