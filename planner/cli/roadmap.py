"""`implan roadmap`: the cheapest plan over time (growth.horizon_months): what to buy, commit and move, when."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from planner.cli.common import PricingOpt, ProfileOpt, SetOpt, SolverOpt, WorkloadArg, app, check_solver, handles_errors
from planner.cli.plan import FormatOpt, OutOpt, ReportFormat, emit_report


class PeriodChoice(str, Enum):
    month = "month"
    quarter = "quarter"


@app.command()
@handles_errors
def roadmap(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None,
            profile: ProfileOpt = None,
            strategy: Annotated[Optional[list[str]], typer.Option(
                "--strategy", "-s", help="public, private, hybrid, migration (public -> private) or migration-hybrid "
                "(public -> hybrid); default: all five")] = None,
            period: Annotated[PeriodChoice, typer.Option(
                "--period", help="plan by month, or by quarter (each sized for its busiest month)")] =
            PeriodChoice.month,
            format: FormatOpt = ReportFormat.table, out: OutOpt = None, solver: SolverOpt = "highs") -> None:
    """NPV, schedule (buy / commit / migrate, month, cost), capex and opex per year and break-even months of each
    strategy over the workload's growth horizon."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.roadmap import check_roadmap_strategies, roadmap as run_roadmap
    from planner.roadmap_render import roadmap_csv, roadmap_markdown, roadmap_tables
    from planner.workload import load_workload

    names = check_roadmap_strategies(strategy)
    check_solver(solver)
    wl = load_workload(workload, set_ or [])
    data = run_roadmap(wl, load_profile(profile), load_catalog(pricing), names, period.value, solver)
    emit_report(data, format, out, "npv_usd", "roadmap", table=roadmap_tables, markdown=roadmap_markdown,
                csv=roadmap_csv)
