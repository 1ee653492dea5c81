"""`implan batch`: a portfolio of apps, one workload file each, solved on one executor; per app its strategies'
costs, the cheapest strategy and the cheapest priced SaaS offer, and the portfolio's totals (docs/batch.md holds
the JSON contract).

Each workload is one planner.sweep.solve_case (the solve `implan sweep` and `implan uncertainty` use, so a cost
here is the cost `implan compare` prints for that file). Every file is validated before any solve starts, so a
bad file is named at once instead of after the others' solves.

* Strategies: the --strategy list for every workload, else each workload's own `strategies` (as `implan
  compare`); the columns are their union.
* A strategy's portfolio total is the sum of its cost over the workloads, or null when a workload has no cost
  for it (not asked, or infeasible): a partial sum is not the portfolio's cost on that strategy. `missing` names
  those workloads.
* A workload's cheapest choice is the cheapest of its priced strategies and its cheapest priced SaaS offer (a
  tie goes to the strategy); the portfolio's is the sum of those, each app on its own cheapest option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from planner.errors import PlannerError, WorkloadError
from planner.executor import Executor
from planner.formats import usd_whole
from planner.workload import STRATEGIES, Workload, load_workload

SCHEMA_VERSION = "1.0"


class BatchError(PlannerError):
    """No workload, or one given twice (exit 2)."""


def load_portfolio(paths: list[Path]) -> list[tuple[Path, Workload]]:
    """Every workload file validated, in the order given, before anything is solved: (path, workload) pairs."""
    if not paths:
        raise BatchError("batch: give at least one workload file, e.g. implan batch workloads/*.yaml")
    seen: dict[Path, Path] = {}
    for path in paths:
        same = seen.setdefault(Path(path).resolve(), path)
        if same is not path:
            raise BatchError(f"{path}: given twice (as {same} too); give each workload once")
    portfolio = []
    for path in paths:
        try:
            portfolio.append((path, load_workload(path)))
        except WorkloadError as exc:
            message = str(exc)
            raise WorkloadError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    return portfolio


def _usd(offer: dict | None) -> float | None:
    return None if offer is None else offer["monthly_cost_usd"]


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else round(sum(values), 2)


def _entry(path: Path, workload: Workload, asked: list[str], point) -> dict:
    strategies = {n: {"monthly_cost_usd": point.costs.get(n), "status": point.statuses.get(n)} for n in asked}
    priced = sorted((s["monthly_cost_usd"], n) for n, s in strategies.items() if s["monthly_cost_usd"] is not None)
    cheapest = {"name": priced[0][1], "monthly_cost_usd": priced[0][0]} if priced else None
    saas = None if point.saas_name is None else {"name": point.saas_name, "monthly_cost_usd": point.saas_usd}
    choice = None
    for kind, offer in (("strategy", cheapest), ("saas", saas)):  # strict <: a tie goes to the strategy
        if offer is not None and (choice is None or offer["monthly_cost_usd"] < choice["monthly_cost_usd"]):
            choice = {"kind": kind, **offer}
    return {"file": str(path), "name": workload.name, "mau": workload.users.mau, "strategies": strategies,
            "cheapest_strategy": cheapest, "cheapest_saas": saas, "cheapest_choice": choice}


def run_batch(portfolio: list[tuple[Path, Workload]], profile, catalog, solver: str, strategies: list[str] | None,
              executor: Executor, on_done: Callable[[int, int], None] | None = None) -> dict:
    """Solve each workload of load_portfolio's `portfolio` on `executor` and total the portfolio (docs/batch.md).
    `on_done(solved, total)` after each workload."""
    from planner.sweep import solve_cases

    asked = [list(strategies or wl.strategies) for _, wl in portfolio]
    names = [n for n in STRATEGIES if any(n in a for a in asked)]
    solved = [0]

    def done(_: int) -> None:
        solved[0] += 1
        if on_done:
            on_done(solved[0], len(portfolio))

    points = solve_cases([(wl, a) for (_, wl), a in zip(portfolio, asked)], profile, catalog, solver, executor, done)
    entries = [_entry(path, wl, a, p) for (path, wl), a, p in zip(portfolio, asked, points)]

    def cost(entry: dict, name: str) -> float | None:
        return entry["strategies"].get(name, {}).get("monthly_cost_usd")

    totals = {
        "strategies": {n: {"monthly_cost_usd": _sum([cost(e, n) for e in entries]),
                           "missing": [e["file"] for e in entries if cost(e, n) is None]} for n in names},
        "cheapest_strategies_monthly_cost_usd": _sum([_usd(e["cheapest_strategy"]) for e in entries]),
        "cheapest_saas_monthly_cost_usd": _sum([_usd(e["cheapest_saas"]) for e in entries]),
        "cheapest_choices_monthly_cost_usd": _sum([_usd(e["cheapest_choice"]) for e in entries]),
    }
    return {"batch_schema_version": SCHEMA_VERSION, "strategies": names, "workloads": entries, "totals": totals,
            "catalogs": [{"name": c.name, "sha256": c.sha256} for c in catalog.infos]}


def unsolved(data: dict) -> list[str]:
    """The files of the workloads where no strategy has a feasible plan."""
    return [e["file"] for e in data["workloads"] if e["cheapest_strategy"] is None]


# ---------- renderings ----------

def _cell(entry: dict, name: str) -> str:
    s = entry["strategies"].get(name)
    if s is None:
        return "-"
    if s["monthly_cost_usd"] is None:
        return "infeasible"
    return usd_whole(s["monthly_cost_usd"]) + ("" if s["status"] == "optimal" else "*")


def _name(offer: dict | None) -> str:
    return "none" if offer is None else offer["name"]


def _offer(offer: dict | None) -> str:
    return "none" if offer is None else f"{usd_whole(offer['monthly_cost_usd'])} {offer['name']}"


def _rows(data: dict) -> tuple[list[str], list[list[str]], list[str]]:
    """The header, one row per workload, and the portfolio row: what the table and the markdown both show."""
    names = data["strategies"]
    header = ["workload", "MAU", *names, "cheapest strategy", "cheapest SaaS", "cheapest"]
    # the cheapest strategy and choice by name: their costs stand in the columns beside them
    rows = [[e["name"], f"{e['mau']:,}", *[_cell(e, n) for n in names], _name(e["cheapest_strategy"]),
             _offer(e["cheapest_saas"]), _name(e["cheapest_choice"])] for e in data["workloads"]]
    totals = data["totals"]

    def money(value: float | None) -> str:
        return "n/a" if value is None else usd_whole(value)

    portfolio = [f"portfolio ({len(rows)})", f"{sum(e['mau'] for e in data['workloads']):,}",
                 *[money(totals["strategies"][n]["monthly_cost_usd"]) for n in names],
                 money(totals["cheapest_strategies_monthly_cost_usd"]), money(totals["cheapest_saas_monthly_cost_usd"]),
                 money(totals["cheapest_choices_monthly_cost_usd"])]
    return header, rows, portfolio


def _notes(data: dict) -> list[str]:
    notes = [f"{n}: no portfolio total, no cost for {', '.join(t['missing'])}"
             for n, t in data["totals"]["strategies"].items() if t["missing"]]
    if any(s["status"] not in ("optimal", None) and s["monthly_cost_usd"] is not None
           for e in data["workloads"] for s in e["strategies"].values()):
        notes.append("* feasible, not proven optimal (stopped at the solver's time limit or gap); "
                     "see --format json for each status")
    return notes


PORTFOLIO_NOTE = ("portfolio: each column summed over the workloads (n/a where a workload has no cost in it); "
                  "cheapest: every workload on its cheapest option, a strategy or a SaaS offer")


def batch_rich(data: dict):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    header, rows, portfolio = _rows(data)
    t = Table(title=f"implan batch: {len(rows)} workloads (monthly USD)", expand=False)
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*r)
    t.add_section()
    t.add_row(*portfolio, style="bold")
    explain = Text(PORTFOLIO_NOTE, style="dim")
    return Group(t, explain, *[Text(n, style="dim") for n in _notes(data)])


def batch_markdown(data: dict) -> str:
    header, rows, portfolio = _rows(data)
    lines = [f"### implan batch: {len(rows)} workloads (monthly USD)", "",
             "| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]  # a name may hold a |
    lines.append("| " + " | ".join(f"**{c}**" for c in portfolio) + " |")
    lines += ["", PORTFOLIO_NOTE]
    lines += [f"- {n}" for n in _notes(data)]
    return "\n".join(lines) + "\n"
