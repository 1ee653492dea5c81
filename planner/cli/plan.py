"""`implan plan` and `implan compare`: solve and print the plan in one of four formats."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import (PricingOpt, ProfileOpt, SetOpt, SolverOpt, StrategyOpt, WorkloadArg, app, fail,
                                emit, handles_errors, solve)
from planner.report import compare_table, plan_tables, to_csv, to_markdown


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


FormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="write the report to FILE")]


def _emit(data: dict, fmt: ReportFormat, out: Path | None, table) -> None:
    emit(data, fmt, out, table=table, markdown=lambda d: to_markdown(d, detailed=table is plan_tables), csv=to_csv)
    if not any(s["monthly_cost_usd"] is not None for s in data["strategies"]):
        fail("no strategy has a feasible plan: " + "; ".join(f"{s['name']}: {s['message']}"
                                                             for s in data["strategies"]), 1)


@app.command()
@handles_errors
def plan(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None,
         strategy: StrategyOpt = None, format: FormatOpt = ReportFormat.table, out: OutOpt = None,
         solver: SolverOpt = "highs",
         export_model: Annotated[Optional[Path], typer.Option(
             "--export-model", help="write each strategy's MILP as DIR/<strategy>.mps")] = None) -> None:
    """Solve each strategy and print its cost, breakdown, nodes, utilization and solver status."""
    data = solve(workload, set_, pricing, profile, strategy, solver, export_model)
    _emit(data, format, out, plan_tables)


@app.command()
@handles_errors
def compare(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None,
            profile: ProfileOpt = None, strategy: StrategyOpt = None, format: FormatOpt = ReportFormat.table,
            out: OutOpt = None, solver: SolverOpt = "highs") -> None:
    """All strategies and chat SaaS offers side by side, with SaaS cost / strategy cost ratios."""
    data = solve(workload, set_, pricing, profile, strategy, solver)
    _emit(data, format, out, compare_table)
