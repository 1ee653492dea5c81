"""`implan uncertainty`: sample a workload's distributions, solve every sample per strategy, and say how sure the
answer is (docs/uncertainty.md holds the JSON contract).

* Sampling: a seeded Latin hypercube (planner.distributions.latin_hypercube) over every field given as a
  distribution, each mapped through its inverse CDF; integer fields (users.mau) are rounded. A sample is the
  workload with `--set path=value` overrides, validated here before any solve and solved by exactly the path
  `implan sweep` and `implan batch` use (planner.sweep.solve_cases, on the executor asked for: --jobs worker
  processes or a Dask cluster).
* Per strategy: P10 / P50 / P90 (linear interpolation between order statistics, numpy's default), mean, min and
  max of the monthly cost over the samples where the strategy is feasible, and the probability that it is the
  cheapest of the strategies compared (a tie splits the sample equally; a sample where none is feasible counts
  for none).
* Tornado: one-at-a-time runs with each input at its P10 and its P90, every other input at its point value. The
  swing of a strategy is cost(P90) - cost(P10); inputs are ranked by the largest absolute swing of any strategy,
  and `flips` says whether the cheapest strategy at either end differs from the one at the point values.
* Solver honesty: a solve that is not proven optimal (time or gap limit) is listed with its status and gap under
  `not_optimal` and counted per strategy; its cost is still a feasible plan's cost, so it stays in the
  percentiles, and the table says how many there were.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from planner.distributions import TORNADO_HIGH_Q, TORNADO_LOW_Q, Distribution, latin_hypercube
from planner.errors import PlannerError, WorkloadError
from planner.executor import Executor
from planner.formats import usd_whole

SCHEMA_VERSION = "1.0"
MAX_SAMPLES = 10_000


class UncertaintyError(PlannerError):
    """Bad --samples or --seed, or a workload with nothing uncertain (exit 2)."""


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ascending values, interpolated linearly between order statistics."""
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def value_text(path: str, value: float, integer: bool) -> str:
    """The --set text of a sampled value: integers rounded, floats in repr (which YAML reads back exactly)."""
    return str(int(round(value))) if integer else repr(float(value))


def _override(path: str, value: float, integer: bool) -> str:
    return f"{path}={value_text(path, value, integer)}"


def draw_samples(distributions: dict[str, Distribution], samples: int, seed: int,
                 integer: Callable[[str], bool]) -> list[dict[str, float]]:
    """`samples` input vectors ({field path: value}) from a Latin hypercube seeded with `seed`."""
    paths = list(distributions)
    rows = latin_hypercube(len(paths), samples, seed)
    out = []
    for row in rows:
        values = {}
        for path, u in zip(paths, row):
            v = distributions[path].ppf(u)
            values[path] = int(round(v)) if integer(path) else v
        out.append(values)
    return out


def _cheapest(costs: dict[str, float | None]) -> list[str]:
    priced = {n: c for n, c in costs.items() if c is not None}
    if not priced:
        return []
    best = min(priced.values())
    return [n for n, c in priced.items() if c == best]


def _stats(values: list[float]) -> dict | None:
    if not values:
        return None
    xs = sorted(values)
    return {"p10": round(percentile(xs, 0.10), 2), "p50": round(percentile(xs, 0.50), 2),
            "p90": round(percentile(xs, 0.90), 2), "mean": round(sum(xs) / len(xs), 2), "min": xs[0], "max": xs[-1]}


def _not_optimal(case: str, point, names: list[str]) -> list[dict]:
    return [{"case": case, "strategy": n, "status": point.statuses.get(n), "gap": point.gaps.get(n)}
            for n in names if point.costs.get(n) is not None and point.statuses.get(n) != "optimal"]


def _workloads(workload_path, overrides: list[str], cases: list[tuple[str, list[str]]]) -> list:
    """Each (label, extra overrides) case as a validated workload, every one before any solve (a lognormal tail
    may leave a field's range)."""
    from planner.workload import load_workload

    loaded = []
    for label, extra in cases:
        try:
            loaded.append(load_workload(workload_path, overrides + extra))
        except WorkloadError as exc:
            raise WorkloadError(f"{label}: {exc} (narrow the distribution so every value is allowed)") from None
    return loaded


def run_uncertainty(workload_path: Path | None, overrides: list[str], profile, catalog, solver: str,
                    strategies: list[str] | None, samples: int, seed: int, executor: Executor,
                    tornado: bool = True, on_done: Callable[[int, int], None] | None = None) -> dict:
    """Sample, solve on `executor` and summarise (the JSON of docs/uncertainty.md). `on_done(solved, total)` after
    each solve."""
    from planner.price_change import check_price_change
    from planner.sweep import solve_cases
    from planner.workload import field_is_int, load_workload_with_distributions

    if not 1 <= samples <= MAX_SAMPLES:
        raise UncertaintyError(f"--samples {samples}: expected 1 to {MAX_SAMPLES:,} samples")
    if not 0 <= seed < 2 ** 63:
        raise UncertaintyError(f"--seed {seed}: expected a non-negative integer below 2^63")
    overrides = list(overrides)
    base, distributions = load_workload_with_distributions(workload_path, overrides)
    if not distributions:
        raise UncertaintyError(f"{workload_path or 'the default workload'}: no field is a distribution; give one "
                               "as {dist: triangular, low, mode, high} (or uniform, lognormal, scenarios), see "
                               "docs/uncertainty.md")
    check_price_change(base.uncertainty.price_change, catalog)
    names = list(strategies or base.strategies)
    sampled = draw_samples(distributions, samples, seed, field_is_int)
    ends = {path: (d.ppf(TORNADO_LOW_Q), d.ppf(TORNADO_HIGH_Q)) for path, d in distributions.items()} if tornado else {}
    ends = {p: tuple(int(round(v)) if field_is_int(p) else v for v in lh) for p, lh in ends.items()}
    labelled = [(f"sample {i}", [_override(p, v, field_is_int(p)) for p, v in values.items()])
                for i, values in enumerate(sampled)]
    labelled.append(("the point values", []))
    for path, (low, high) in ends.items():
        labelled.append((f"tornado {path} low", [_override(path, low, field_is_int(path))]))
        labelled.append((f"tornado {path} high", [_override(path, high, field_is_int(path))]))
    cases = [(wl, names) for wl in _workloads(workload_path, overrides, labelled)]
    solved_count = [0]

    def done(_: int) -> None:
        solved_count[0] += 1
        if on_done:
            on_done(solved_count[0], len(cases))

    points = solve_cases(cases, profile, catalog, solver, executor, done)
    sample_points, base_point, end_points = points[:samples], points[samples], points[samples + 1:]

    not_optimal = _not_optimal("point", base_point, names)
    sample_rows, wins = [], {n: 0.0 for n in names}
    none_feasible = 0
    for i, (values, p) in enumerate(zip(sampled, sample_points)):
        costs = {n: p.costs.get(n) for n in names}
        best = _cheapest(costs)
        for n in best:
            wins[n] += 1 / len(best)
        none_feasible += not best
        not_optimal += _not_optimal(f"sample {i}", p, names)
        sample_rows.append({"index": i, "inputs": values, "monthly_cost_usd": costs,
                            "status": {n: p.statuses.get(n) for n in names},
                            "gap": {n: p.gaps.get(n) for n in names}, "cheapest": best[0] if len(best) == 1 else
                            (None if not best else "tie: " + ", ".join(best))})
    per_strategy = []
    for n in names:
        feasible = [r["monthly_cost_usd"][n] for r in sample_rows if r["monthly_cost_usd"][n] is not None]
        per_strategy.append({
            "name": n, "point_monthly_cost_usd": base_point.costs.get(n), "monthly_cost_usd": _stats(feasible),
            "feasible_samples": len(feasible), "infeasible_samples": samples - len(feasible),
            "not_optimal_samples": sum(1 for x in not_optimal if x["strategy"] == n and x["case"].startswith("sample")),
            "probability_cheapest": round(wins[n] / samples, 4)})

    base_costs = {n: base_point.costs.get(n) for n in names}
    base_best = _cheapest(base_costs)
    bars = []
    for (path, (low, high)), p_lo, p_hi in zip(ends.items(), end_points[0::2], end_points[1::2]):
        lo_costs = {n: p_lo.costs.get(n) for n in names}
        hi_costs = {n: p_hi.costs.get(n) for n in names}
        not_optimal += _not_optimal(f"tornado {path} low", p_lo, names)
        not_optimal += _not_optimal(f"tornado {path} high", p_hi, names)
        swing = {n: None if lo_costs[n] is None or hi_costs[n] is None else round(hi_costs[n] - lo_costs[n], 2)
                 for n in names}
        cheapest_lo, cheapest_hi = _cheapest(lo_costs), _cheapest(hi_costs)
        bars.append({"input": path, "distribution": distributions[path].as_dict(), "low_value": low,
                     "high_value": high, "point_value": distributions[path].point(),
                     "monthly_cost_usd_low": lo_costs, "monthly_cost_usd_high": hi_costs, "swing_usd": swing,
                     "cheapest_low": cheapest_lo[0] if cheapest_lo else None,
                     "cheapest_high": cheapest_hi[0] if cheapest_hi else None,
                     "flips": cheapest_lo != base_best or cheapest_hi != base_best})
    bars.sort(key=lambda b: (-max((abs(s) for s in b["swing_usd"].values() if s is not None), default=0),
                             b["input"]))
    return {
        "uncertainty_schema_version": SCHEMA_VERSION,
        "workload": base.name,
        "samples": samples, "seed": seed, "sampler": "latin-hypercube",
        "strategies": names,
        "inputs": [{"path": p, **d.as_dict()} for p, d in distributions.items()],
        "point": {"monthly_cost_usd": base_costs, "cheapest": base_best[0] if base_best else None},
        "results": per_strategy,
        "probability_none_feasible": round(none_feasible / samples, 4),
        "tornado": {"low_quantile": TORNADO_LOW_Q, "high_quantile": TORNADO_HIGH_Q, "inputs": bars},
        "solves": {"cases": len(cases), "not_optimal": not_optimal},
        "sample_results": sample_rows,
        "catalogs": [{"name": c.name, "sha256": c.sha256} for c in catalog.infos],
    }


# ---------- renderings ----------

def _usd(value: float | None) -> str:
    return "-" if value is None else usd_whole(value)


def honesty_lines(data: dict) -> list[str]:
    lines = []
    bad = data["solves"]["not_optimal"]
    if bad:
        worst = max((x["gap"] for x in bad if x["gap"] is not None), default=None)
        lines.append(f"{len(bad)} of {data['solves']['cases']} solves are feasible but not proven optimal "
                     f"(largest gap {'unknown' if worst is None else f'{worst:.2%}'}); they are listed under "
                     "solves.not_optimal in --format json")
    for r in data["results"]:
        if r["infeasible_samples"]:
            lines.append(f"{r['name']}: no feasible plan in {r['infeasible_samples']} of {data['samples']} samples")
    if data["probability_none_feasible"]:
        lines.append(f"no strategy is feasible in {data['probability_none_feasible']:.0%} of the samples")
    return lines


def uncertainty_rich(data: dict):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"implan uncertainty: {data['workload']} ({data['samples']} samples, seed {data['seed']}, "
                    "monthly USD)", expand=False)
    for col in ("strategy", "point", "P10", "P50", "P90", "P(cheapest)", "feasible", "not optimal"):
        t.add_column(col, justify="left" if col == "strategy" else "right")
    for r in data["results"]:
        s = r["monthly_cost_usd"] or {}
        t.add_row(r["name"], _usd(r["point_monthly_cost_usd"]), _usd(s.get("p10")), _usd(s.get("p50")),
                  _usd(s.get("p90")), f"{r['probability_cheapest']:.0%}", f"{r['feasible_samples']}/{data['samples']}",
                  str(r["not_optimal_samples"]))
    parts = [t, Text("Uncertain inputs: " + "; ".join(f"{i['path']} {distribution_text(i)}" for i in data["inputs"]),
                     style="dim")]
    if data["tornado"]["inputs"]:
        tt = Table(title=f"Tornado: {tornado_rule(data)}", expand=False)
        tt.add_column("input")
        tt.add_column("low .. high", justify="right")
        for n in data["strategies"]:
            tt.add_column(f"{n} swing", justify="right")
        tt.add_column("cheapest low / high")
        tt.add_column("flips")
        for b in data["tornado"]["inputs"]:
            tt.add_row(b["input"], f"{_num(b['low_value'])} .. {_num(b['high_value'])}",
                       *[_swing(b["swing_usd"][n]) for n in data["strategies"]],
                       f"{b['cheapest_low'] or 'none'} / {b['cheapest_high'] or 'none'}",
                       "yes" if b["flips"] else "no")
        parts.append(tt)
    parts += [Text(line, style="yellow") for line in honesty_lines(data)]
    parts.append(Text(summary_line(data), style="bold"))
    return Group(*parts)


def tornado_rule(data: dict) -> str:
    lo, hi = (round(100 * data["tornado"][k]) for k in ("low_quantile", "high_quantile"))
    return f"each input at its P{lo} and P{hi}, the others at their point values"


def _swing(value: float | None) -> str:
    return "-" if value is None else ("+" if value >= 0 else "-") + usd_whole(abs(value))


def _num(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_num(v) for v in value) + "]"
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:.4g}"


def distribution_text(i: dict) -> str:
    """`triangular(low=0.3, mode=0.5, high=0.6; point 0.5)` for an entry of the JSON's inputs."""
    params = {k: v for k, v in i.items() if k not in ("path", "dist", "point")}
    return f"{i['dist']}(" + ", ".join(f"{k}={_num(v)}" for k, v in params.items()) + f"; point {_num(i['point'])})"


def summary_line(data: dict) -> str:
    """The answer in one sentence: the likeliest cheapest strategy, with its probability, and what it hinges on."""
    best = max(data["results"], key=lambda r: r["probability_cheapest"])
    text = f"{best['name']} is the cheapest with probability {best['probability_cheapest']:.0%}"
    flips = [b["input"] for b in data["tornado"]["inputs"] if b["flips"]]
    if data["tornado"]["inputs"]:
        top = data["tornado"]["inputs"][0]["input"]
        text += f"; the input that moves cost most is {top}"
        text += f"; the cheapest choice flips with {', '.join(flips)}" if flips else "; no single input flips it"
    return text


def uncertainty_markdown(data: dict) -> str:
    names = data["strategies"]
    out = [f"# implan uncertainty: {data['workload']}", "",
           f"{data['samples']} Latin hypercube samples, seed {data['seed']}; monthly cost in USD.", "",
           "| strategy | point | P10 | P50 | P90 | P(cheapest) | feasible | not optimal |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["results"]:
        s = r["monthly_cost_usd"] or {}
        out.append(f"| {r['name']} | {_usd(r['point_monthly_cost_usd'])} | {_usd(s.get('p10'))} | "
                   f"{_usd(s.get('p50'))} | {_usd(s.get('p90'))} | {r['probability_cheapest']:.0%} | "
                   f"{r['feasible_samples']}/{data['samples']} | {r['not_optimal_samples']} |")
    out += ["", "Uncertain inputs:", ""] + [f"- `{i['path']}`: {distribution_text(i)}" for i in data["inputs"]]
    if data["tornado"]["inputs"]:
        out += ["", "## Tornado", "", "| input | low .. high | " + " | ".join(f"{n} swing" for n in names)
                + " | cheapest low / high | flips |", "|---|---:|" + "---:|" * len(names) + "---|---|"]
        for b in data["tornado"]["inputs"]:
            out.append(f"| `{b['input']}` | {_num(b['low_value'])} .. {_num(b['high_value'])} | "
                       + " | ".join(_swing(b["swing_usd"][n]) for n in names)
                       + f" | {b['cheapest_low'] or 'none'} / {b['cheapest_high'] or 'none'} | "
                       f"{'yes' if b['flips'] else 'no'} |")
    out += [""] + [f"- {line}" for line in honesty_lines(data)]
    out += ["", f"**{summary_line(data)}.**", ""]
    return "\n".join(out)
