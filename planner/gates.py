"""`implan check`: cost gates of a new plan against a baseline plan JSON, and their renderings for CI.

Pure functions over the plan dicts (the planner.plan_json contract) and the diff (planner.diff). Deterministic:
nothing here reads the clock or the solver's timings, so the same inputs give byte-identical markdown.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.diff import diff_plans
from planner.diff_render import markdown_sections
from planner.formats import arrow, signed_pct, signed_usd, usd, usd_cents
from planner.plan_json import PlanFileError

CHECK_SCHEMA_VERSION = "1.0"
MARKER = "<!-- implan-check -->"  # lets a CI job find and update its earlier comment


@dataclass(frozen=True)
class Gates:
    max_increase_pct: float | None = None
    max_increase_usd: float | None = None
    max_cost_per_1k_mau: float | None = None
    budget_usd: float | None = None


def default_strategy(baseline: dict, origin: str) -> str:
    """The cheapest strategy with a cost in the baseline (ties broken by name)."""
    priced = [s for s in baseline["strategies"] if s.get("monthly_cost_usd") is not None]
    if not priced:
        raise PlanFileError(f"{origin}: no strategy has a feasible plan in the baseline; pass --strategy NAME")
    return min(priced, key=lambda s: (s["monthly_cost_usd"], s["name"]))["name"]


def _gate(name: str, label: str, limit_text: str, actual_text: str, passed: bool, limit: float,
          actual: float | None, detail: str) -> dict:
    return {"gate": name, "label": label, "limit": limit, "actual": actual, "limit_text": limit_text,
            "actual_text": actual_text, "passed": passed, "detail": detail}


def evaluate(baseline: dict, current: dict, strategy: str, gates: Gates) -> dict:
    """Gate results for `strategy` (the caller checks the name exists) plus the full diff."""
    diff = diff_plans(baseline, current)
    row = next(s for s in diff["strategies"] if s["name"] == strategy)
    old, new = row["old_usd"], row["new_usd"]
    mau = current["workload"]["mau"]
    delta, pct = row["delta_usd"], row["delta_pct"]
    per_1k_mau = None if new is None else round(new / mau * 1000, 4)
    results: list[dict] = []
    if new is None:
        results.append(_gate("feasible", "feasible plan", "a plan", row["new_status"] or "missing", False, 0, None,
                             f"{strategy}: no feasible plan in the new run ({row['new_status'] or 'not solved'})"
                             + (f": {why}" if (why := next((s.get("message") for s in current["strategies"]
                                                             if s["name"] == strategy), "")) else "")))
    else:
        if gates.max_increase_pct is not None:
            if old is None or old == 0:
                ok, actual_text, detail = False, "n/a", f"{strategy}: the baseline has no cost to compare with"
            else:
                ok = pct <= gates.max_increase_pct
                actual_text = signed_pct(pct)
                detail = (f"{strategy}: monthly cost {usd(old)} → {usd(new)} is {signed_pct(pct)}, "
                          f"limit +{gates.max_increase_pct:g}%")
            results.append(_gate("max_increase_pct", "max increase %", f"+{gates.max_increase_pct:g}%", actual_text,
                                 ok, gates.max_increase_pct, pct, detail))
        if gates.max_increase_usd is not None:
            if old is None:
                ok, actual_text, detail = False, "n/a", f"{strategy}: the baseline has no cost to compare with"
            else:
                ok = delta <= gates.max_increase_usd
                actual_text = signed_usd(delta)
                detail = (f"{strategy}: monthly cost {usd(old)} → {usd(new)} changes by {signed_usd(delta)}, "
                          f"limit +{usd(gates.max_increase_usd)}")
            results.append(_gate("max_increase_usd", "max increase USD", f"+{usd(gates.max_increase_usd)}",
                                 actual_text, ok, gates.max_increase_usd, delta, detail))
        if gates.max_cost_per_1k_mau is not None:
            ok = per_1k_mau <= gates.max_cost_per_1k_mau
            results.append(_gate("max_cost_per_1k_mau", "max cost per 1k MAU", usd_cents(gates.max_cost_per_1k_mau),
                                 usd_cents(per_1k_mau), ok, gates.max_cost_per_1k_mau, per_1k_mau,
                                 f"{strategy}: {usd(new)}/month for {mau:,} MAU is {usd_cents(per_1k_mau)} per 1k MAU, "
                                 f"limit {usd_cents(gates.max_cost_per_1k_mau)}"))
        if gates.budget_usd is not None:
            ok = new <= gates.budget_usd
            results.append(_gate("budget", "monthly budget", usd(gates.budget_usd), usd(new), ok, gates.budget_usd,
                                 new, f"{strategy}: monthly cost {usd(new)} exceeds the budget {usd(gates.budget_usd)}"
                                 if not ok else f"{strategy}: monthly cost {usd(new)} within {usd(gates.budget_usd)}"))
    return {
        "check_schema_version": CHECK_SCHEMA_VERSION,
        "passed": all(g["passed"] for g in results),
        "strategy": strategy,
        "workload": current["workload"]["name"],
        "mau": mau,
        "baseline_usd": old, "new_usd": new, "delta_usd": delta, "delta_pct": pct,
        "cost_per_1k_mau_usd": per_1k_mau,
        "new_status": row["new_status"],
        "attribution": row["attribution"],
        "prices_changed": diff["prices_changed"],
        "gates": results,
        "failed": [g for g in results if not g["passed"]],
        "diff": diff,
    }


# ---------- renderings ----------

def headline(r: dict) -> str:
    verdict = "passed" if r["passed"] else "FAILED"
    if r["new_usd"] is None:
        return f"implan cost check {verdict}: {r['strategy']} has no feasible plan"
    change = (f"{arrow(r['delta_usd'])} {signed_usd(r['delta_usd'])}, {signed_pct(r['delta_pct'])}"
              if r["delta_usd"] is not None else "no baseline cost")
    return (f"implan cost check {verdict}: {r['strategy']} {usd(r['baseline_usd'])} → {usd(r['new_usd'])}/month "
            f"({change})")


def failure_lines(r: dict) -> list[str]:
    return [f"gate {g['gate']} failed: {g['detail']}" for g in r["failed"]]


def check_markdown(r: dict, flavor: str = "markdown") -> str:
    """Markdown for a pull-request (GitHub) or merge-request (GitLab) comment: no timestamps, no solver timings."""
    icon = "✅" if r["passed"] else "❌"
    out = [MARKER if flavor != "gitlab" else "<!-- implan-check:gitlab -->",
           f"### {icon} {headline(r)}", "",
           f"Workload **{r['workload']}** ({r['mau']:,} MAU); gated strategy **{r['strategy']}**."]
    if r["attribution"] is not None and r["delta_usd"]:
        a = r["attribution"]
        out.append(f"Change attributed to price {signed_usd(a['price'])}, load {signed_usd(a['load'])}, "
                   f"topology {signed_usd(a['topology'])}.")
    out.append("")
    if r["gates"]:
        out += ["| gate | limit | actual | result |", "|---|---:|---:|---|"]
        out += [f"| {g['label']} | {g['limit_text']} | {g['actual_text']} | "
                f"{'✅ pass' if g['passed'] else '❌ fail'} |" for g in r["gates"]]
        out.append("")
    else:
        out += ["No gate was set (use --max-increase, --max-increase-usd, --max-cost-per-1k-mau or --budget).", ""]
    for g in r["failed"]:
        out.append(f"- **{g['label']}**: {g['detail']}")
    if r["failed"]:
        out.append("")
    out += markdown_sections(r["diff"])
    footer = ("<sub>implan check: costs per month in USD from the plan JSON contract; price/load/topology "
              "attribution as documented in docs/ci-gates.md.</sub>")
    out.append(footer)
    return "\n".join(out).rstrip("\n") + "\n"


def github_annotations(r: dict) -> str:
    """GitHub Actions workflow commands: one ::error:: per failed gate (the runner reads them from stdout)."""
    def esc(text: str) -> str:  # the workflow-command escaping of message data
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return "".join(f"::error title=implan cost gate {g['gate']}::{esc(g['detail'])}\n" for g in r["failed"])


def check_rich(r: dict):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from planner.diff_render import diff_rich

    parts = [Text(headline(r), style="bold green" if r["passed"] else "bold red")]
    if r["attribution"] is not None and r["delta_usd"]:
        a = r["attribution"]
        parts.append(Text(f"change: price {signed_usd(a['price'])}, load {signed_usd(a['load'])}, "
                          f"topology {signed_usd(a['topology'])}"))
    if r["gates"]:
        t = Table(title="gates", expand=False)
        for col in ("gate", "limit", "actual", "result"):
            t.add_column(col, justify="right" if col in ("limit", "actual") else "left")
        for g in r["gates"]:
            t.add_row(g["label"], g["limit_text"], g["actual_text"], "pass" if g["passed"] else "FAIL")
        parts.append(t)
    parts.append(diff_rich(r["diff"]))
    return Group(*parts)
