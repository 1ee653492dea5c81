"""`implan plan` and `implan compare`: solve and print the plan in one of four formats."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import (PricingOpt, ProfileOpt, SetOpt, SolverOpt, StrategyOpt, WorkloadArg, app, fail,
                                emit, handles_errors, solve)


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


FormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="write the report to FILE")]


def emit_report(data: dict, fmt: ReportFormat, out: Path | None, cost_key: str, what: str, **renderers) -> None:
    """Write the report (common.emit; `renderers`: table, markdown, csv); exit 1 when no strategy has a
    `cost_key` (nothing was feasible), naming why for each."""
    emit(data, fmt, out, **renderers)
    if not any(s[cost_key] is not None for s in data["strategies"]):
        fail(f"no strategy has a feasible {what}: " + "; ".join(f"{s['name']}: {s['message']}"
                                                                for s in data["strategies"]), 1)


def _emit(data: dict, fmt: ReportFormat, out: Path | None, detailed: bool) -> None:
    """`plan` prints every strategy in detail, `compare` one comparison table."""
    from planner.report import compare_table, plan_tables, to_csv, to_markdown

    emit_report(data, fmt, out, "monthly_cost_usd", "plan", table=plan_tables if detailed else compare_table,
                csv=to_csv, markdown=lambda d: to_markdown(d, detailed=detailed))


@app.command()
@handles_errors
def plan(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None,
         strategy: StrategyOpt = None, format: FormatOpt = ReportFormat.table, out: OutOpt = None,
         solver: SolverOpt = "highs",
         export_model: Annotated[Optional[Path], typer.Option(
             "--export-model", help="write each strategy's MILP as DIR/<strategy>.mps")] = None) -> None:
    """Solve each strategy and print its cost, breakdown, nodes, utilization and solver status."""
    data = solve(workload, set_, pricing, profile, strategy, solver, export_model)
    _emit(data, format, out, detailed=True)


@app.command()
@handles_errors
def compare(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None,
            profile: ProfileOpt = None, strategy: StrategyOpt = None, format: FormatOpt = ReportFormat.table,
            out: OutOpt = None, solver: SolverOpt = "highs") -> None:
    """All strategies and chat SaaS offers side by side, with SaaS cost / strategy cost ratios."""
    data = solve(workload, set_, pricing, profile, strategy, solver)
    _emit(data, format, out, detailed=False)
