"""`implan report`: one self-contained HTML file from a plan JSON and a sweep (planner.sweep), charts as inline SVG.

The page has no script, no external stylesheet, font or image: charts are matplotlib (Agg) SVG inlined in the HTML,
so it opens offline and can be mailed or attached to a ticket. Rendering is deterministic: the SVG hash salt and
metadata are pinned and nothing reads the clock or solver timings, so the same plan and sweep give the same bytes.
The template (templates/report/report.html.j2, shipped as planner.templates_data) is rendered with StrictUndefined.
"""

from __future__ import annotations

import importlib.resources
import io
import re

from planner import __version__
from planner.errors import RenderError
from planner.formats import measure, topology_text, usd
from planner.model import CATEGORIES
from planner.report import SAAS_FEE_COLUMNS, saas_fee_cells, saas_monthly_text

TEMPLATE = "report.html.j2"
PALETTE = {"public": "#1f77b4", "private": "#2ca02c", "hybrid": "#9467bd", "serverless": "#17becf", "saas": "#d62728",
           "migration": "#ff7f0e", "migration-hybrid": "#8c564b"}
CATEGORY_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"]


def _template_text() -> str:
    try:
        res = importlib.resources.files("planner.templates_data").joinpath("report", TEMPLATE)
        return res.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, OSError) as exc:
        raise RenderError(f"report template report/{TEMPLATE} not found in planner.templates_data: {exc}") from None


def _svg(fig, prefix: str) -> str:
    """The figure as an inline <svg> element (no XML prolog or DOCTYPE); ids prefixed so that several charts in
    one page never share an id (clip paths are referenced by id)."""
    plt = _mpl()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    start = text.find("<svg")
    if start < 0:
        raise RenderError("matplotlib produced no SVG")
    text = text[start:]
    text = re.sub(r'\bid="', f'id="{prefix}-', text)
    text = re.sub(r"url\(#", f"url(#{prefix}-", text)
    text = re.sub(r'href="#', f'href="#{prefix}-', text)
    text = re.sub(r"<svg ", f'<svg role="img" aria-label="{prefix} chart" class="chart" ', text, count=1)
    return text


def require_charts() -> None:
    """Fail before any solve when the report could not draw its charts."""
    _mpl()


def _mpl():
    """matplotlib, the one dependency only the report needs (the `report` extra keeps the core install light)."""
    try:
        import matplotlib
    except ImportError:
        raise RenderError("implan report draws its charts with matplotlib, which is not installed: "
                          "pip install 'implan[report]' (or pip install matplotlib)") from None

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "implan-report", "svg.fonttype": "none", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def comparison_chart(plan: dict) -> str:
    plt = _mpl()
    rows = [(s["name"], s["monthly_cost_usd"], PALETTE.get(s["name"], "#7f7f7f")) for s in plan["strategies"]
            if s["monthly_cost_usd"] is not None]
    saas = sorted((q for q in plan["saas"] if q["monthly_cost_usd"] is not None), key=lambda q: q["monthly_cost_usd"])
    rows += [(f"{q['provider']}/{q['plan']} (SaaS)", q["monthly_cost_usd"], PALETTE["saas"]) for q in saas[:5]]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(rows), 2) + 1.0))
    if rows:
        names, costs, colors = zip(*rows)
        y = list(range(len(rows)))[::-1]
        ax.barh(y, costs, color=colors)
        ax.set_yticks(y, names)
        for yi, c in zip(y, costs):
            ax.text(c, yi, f" {usd(c)}", va="center", fontsize=8)
        if max(costs) / max(min(costs), 0.01) > 50:
            ax.set_xscale("log")
    ax.set_xlabel("USD per month" + (" (log scale)" if rows and ax.get_xscale() == "log" else ""))
    ax.set_title("Monthly cost: strategies and the cheapest chat SaaS offers")
    return _svg(fig, "comparison")


def breakdown_chart(plan: dict) -> str:
    plt = _mpl()
    strategies = [s for s in plan["strategies"] if s["monthly_cost_usd"] is not None]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    names = [s["name"] for s in strategies]
    bottoms = [0.0] * len(strategies)
    for cat, color in zip(CATEGORIES, CATEGORY_COLORS):
        values = [s["breakdown"].get(cat, 0.0) for s in strategies]
        if not any(values):
            continue
        ax.bar(names, values, bottom=bottoms, color=color, label=cat.replace("_", " "))
        bottoms = [b + v for b, v in zip(bottoms, values)]
    for i, total in enumerate(bottoms):
        ax.text(i, total, usd(total), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("USD per month")
    ax.set_title("Cost breakdown by category")
    if strategies:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    return _svg(fig, "breakdown")


def sweep_chart(sweep: dict) -> str:
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    maus = [p["mau"] for p in sweep["points"]]
    for name in sweep["strategies"]:
        pts = [(p["mau"], p["strategies"][name]) for p in sweep["points"] if p["strategies"][name] is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", color=PALETTE.get(name, "#7f7f7f"), label=name)
    pts = [(p["mau"], p["cheapest_saas"]["monthly_cost_usd"]) for p in sweep["points"] if p["cheapest_saas"]]
    if pts:
        xs, ys = zip(*pts)
        ax.plot(xs, ys, marker="s", linestyle="--", color=PALETTE["saas"], label="cheapest priced SaaS")
    for b in sweep["break_even"]:
        ax.axvline(b["mau"], color="#555555", linestyle=":", linewidth=1)
        ax.annotate(f"{b['cheaper_above'] if b['cheaper_above'] != 'saas' else 'SaaS'} < "
                    f"{b['cheaper_below'] if b['cheaper_below'] != 'saas' else 'SaaS'}\n{b['mau']:,}",
                    (b["mau"], 1), xycoords=("data", "axes fraction"), fontsize=7, ha="left", va="top")
    if maus:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("monthly active users (log scale)")
    ax.set_ylabel("USD per month (log scale)")
    ax.set_title("Cost across sizes and break-even points")
    ax.legend(frameon=False, fontsize=8)
    return _svg(fig, "sweep")


def roadmap_chart(roadmap: dict) -> str:
    """Cumulative cash paid per strategy, month by month, with each break-even month marked."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for s in roadmap["strategies"]:
        if s["cumulative_usd"]:
            months = range(1, len(s["cumulative_usd"]) + 1)
            ax.plot(months, s["cumulative_usd"], color=PALETTE.get(s["name"], "#7f7f7f"), label=s["name"])
    for b in roadmap["break_even"]:
        if b["from_month"] is not None and b["from_month"] > 1:
            ax.axvline(b["from_month"], color="#555555", linestyle=":", linewidth=1)
            ax.annotate(f"{b['strategy']} < {b['cheaper_than']}\nfrom month {b['from_month']}", (b["from_month"], 1),
                        xycoords=("data", "axes fraction"), fontsize=7, ha="left", va="top")
    ax.set_xlabel("month")
    ax.set_ylabel("cumulative USD paid")
    ax.set_title("Cumulative cost over the horizon and break-even months")
    ax.legend(frameon=False, fontsize=8)
    return _svg(fig, "roadmap")


def _flatten(d, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(d, dict):
        out = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(d, list):
        return [(prefix, ", ".join(str(x) for x in d) if d else "(none)")]
    return [(prefix, "—" if d is None else str(d))]


def price_rows(plan: dict) -> list[dict]:
    """Every priced line of every strategy and SaaS offer, with its provenance."""
    rows = []
    for s in plan["strategies"]:
        for line in s["lines"]:
            rows.append({"used_by": s["name"], **line})
    for q in plan["saas"]:
        for line in q.get("lines", []):
            rows.append({"used_by": f"{q['provider']}/{q['plan']} (SaaS)", **line})
    for r in rows:
        r.setdefault("source", "")
        r.setdefault("url", "")
        r.setdefault("as_of", "")
        r.setdefault("catalog", "")
        r["quantity_text"] = measure(r["quantity"])
        r["cost_text"] = usd(r["monthly_cost_usd"])
        r["estimate"] = r.get("estimate")
    return rows


def sources(plan: dict) -> list[dict]:
    seen: dict[tuple, dict] = {}
    for r in price_rows(plan):
        if r["source"]:
            key = (r["catalog"], r["source"], r["url"], r["as_of"])
            seen.setdefault(key, {"catalog": r["catalog"], "source": r["source"], "url": r["url"],
                                  "as_of": r["as_of"], "lines": 0})["lines"] += 1
    return sorted(seen.values(), key=lambda x: (x["catalog"], x["source"], x["url"]))


def render_report(plan: dict, sweep: dict | None, roadmap: dict | None = None) -> str:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["usd"] = usd
    env.filters["num"] = measure
    env.filters["topology"] = topology_text
    try:
        template = env.from_string(_template_text())
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"report template: {exc.message} at line {exc.lineno}") from None
    strategies = plan["strategies"]
    context = {
        "version": __version__,
        "plan": plan,
        "workload": plan["workload"],
        "strategies": strategies,
        "feasible": [s for s in strategies if s["monthly_cost_usd"] is not None],
        "saas": [{**q, "monthly_text": saas_monthly_text(q), "fee_cells": saas_fee_cells(q)} for q in plan["saas"]],
        "saas_fee_heads": [label for label, _ in SAAS_FEE_COLUMNS],
        "ratios": plan["ratios"],
        "cheapest": plan["cheapest"],
        "categories": [c for c in CATEGORIES if any(s["breakdown"].get(c) for s in strategies)],
        "assumptions": _flatten(plan["workload"]["resolved"]),
        "derived": list(plan["workload"]["derived"].items()),
        "prices": price_rows(plan),
        "sources": sources(plan),
        "sweep": sweep,
        "roadmap": roadmap,
        "charts": {
            "roadmap": roadmap_chart(roadmap) if roadmap else None,
            "comparison": comparison_chart(plan),
            "breakdown": breakdown_chart(plan),
            "sweep": sweep_chart(sweep) if sweep and sweep["points"] else None,
        },
    }
    try:
        return template.render(**context)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"report template: {exc.message}") from None
