"""`implan uncertainty --format html`: one self-contained page with a cost distribution per strategy and the tornado.

Charts are drawn as planner.html_report draws them (matplotlib Agg, pinned SVG salt and metadata, inlined SVG), so
the page has no script or external file and the same data gives the same bytes. The page itself is small and has
no template file of its own: its markup is the jinja2 template below, rendered with StrictUndefined and autoescape.
"""

from __future__ import annotations

from planner import __version__
from planner.errors import RenderError
from planner.formats import usd
from planner.html_report import PALETTE, _mpl, _svg
from planner.uncertainty import distribution_text, honesty_lines, summary_line, tornado_rule

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>implan uncertainty: {{ data.workload }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}
td:first-child,th:first-child{text-align:left}.chart{max-width:100%;height:auto}.warn{color:#a60}</style></head>
<body>
<h1>implan uncertainty: {{ data.workload }}</h1>
<p>{{ data.samples }} Latin hypercube samples, seed {{ data.seed }}; monthly cost in USD. implan {{ version }}.</p>
<p><strong>{{ summary }}.</strong></p>
<table><tr><th>strategy</th><th>point</th><th>P10</th><th>P50</th><th>P90</th><th>P(cheapest)</th>
<th>feasible samples</th><th>not proven optimal</th></tr>
{% for r in data.results %}
<tr><td>{{ r.name }}</td><td>{{ r.point_monthly_cost_usd | usd }}</td>
{% for q in ("p10", "p50", "p90") %}<td>{{ (r.monthly_cost_usd[q] if r.monthly_cost_usd else None) | usd }}</td>{% endfor %}
<td>{{ "%.0f" | format(100 * r.probability_cheapest) }}%</td><td>{{ r.feasible_samples }}/{{ data.samples }}</td>
<td>{{ r.not_optimal_samples }}</td></tr>
{% endfor %}
</table>
{% for line in warnings %}<p class="warn">{{ line }}</p>{% endfor %}
<h2>Cost distribution per strategy</h2>
{{ charts.distribution | safe }}
{% if charts.tornado %}
<h2>Tornado: {{ rule }}</h2>
{{ charts.tornado | safe }}
{% endif %}
<h2>Uncertain inputs</h2>
<ul>{% for i in data.inputs %}<li><code>{{ i.path }}</code>: {{ i | dist }}</li>{% endfor %}</ul>
</body></html>
"""


def distribution_chart(data: dict) -> str:
    """A histogram of each strategy's sampled monthly cost, one panel per strategy, P10/P50/P90 marked."""
    plt = _mpl()
    names = [r["name"] for r in data["results"] if r["monthly_cost_usd"]]
    fig, axes = plt.subplots(max(len(names), 1), 1, figsize=(7.5, 1.9 * max(len(names), 1) + 0.6), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        costs = [s["monthly_cost_usd"][name] for s in data["sample_results"] if s["monthly_cost_usd"][name] is not None]
        stats = next(r["monthly_cost_usd"] for r in data["results"] if r["name"] == name)
        ax.hist(costs, bins=min(30, max(5, len(costs) // 5)), color=PALETTE.get(name, "#7f7f7f"), alpha=0.85)
        for q, style, height in (("p10", ":", 1.0), ("p50", "-", 0.88), ("p90", ":", 0.76)):  # staggered labels
            ax.axvline(stats[q], color="#333333", linestyle=style, linewidth=1)
            ax.annotate(f"{q.upper()} {usd(stats[q])}", (stats[q], height), xycoords=("data", "axes fraction"),
                        fontsize=7, ha="left", va="top")
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("USD per month (samples per bin on the vertical axis)")
    axes[0, 0].set_title("Sampled monthly cost")
    return _svg(fig, "distribution")


def tornado_chart(data: dict) -> str:
    """Per input, a bar from the cost at the input's P10 to the cost at its P90 for each strategy, relative to the
    cost at the point values; the widest swing on top."""
    plt = _mpl()
    bars = data["tornado"]["inputs"]
    names = data["strategies"]
    fig, ax = plt.subplots(figsize=(7.5, 0.5 * max(len(bars), 1) * max(len(names), 1) ** 0.5 + 1.2))
    height = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        base = data["point"]["monthly_cost_usd"].get(name)
        for i, b in enumerate(bars):
            lo, hi = b["monthly_cost_usd_low"][name], b["monthly_cost_usd_high"][name]
            if base is None or lo is None or hi is None:
                continue
            y = len(bars) - 1 - i + (k - (len(names) - 1) / 2) * height
            left, right = min(lo, hi) - base, max(lo, hi) - base
            ax.barh(y, right - left, left=left, height=height, color=PALETTE.get(name, "#7f7f7f"),
                    label=name if i == 0 else None)
    ax.axvline(0, color="#333333", linewidth=1)
    ax.set_yticks(range(len(bars)), [b["input"] + (" (flips)" if b["flips"] else "") for b in reversed(bars)])
    ax.set_xlabel("change of monthly cost from the point values, USD")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    ax.set_title("Tornado: swing of each strategy's cost per input")
    return _svg(fig, "tornado")


def render_uncertainty_html(data: dict) -> str:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["usd"] = usd
    env.filters["dist"] = distribution_text
    charts = {"distribution": distribution_chart(data),
              "tornado": tornado_chart(data) if data["tornado"]["inputs"] else None}
    try:
        return env.from_string(PAGE).render(data=data, version=__version__, summary=summary_line(data),
                                            rule=tornado_rule(data), warnings=honesty_lines(data), charts=charts)
    except jinja2.UndefinedError as exc:
        raise RenderError(f"uncertainty page: {exc.message}") from None
