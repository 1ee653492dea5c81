"""`implan uncertainty`: Monte Carlo over a workload's distributions (planner.uncertainty)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from planner.cli.common import (AddressOpt, ExecutorKind, ExecutorOpt, JobsOpt, OutFileOpt, PricingOpt, ProfileOpt,
                                SetOpt, SolverOpt, StrategyOpt, WorkloadArg, app, check_solver, check_strategies, emit,
                                handles_errors, solve_progress, write_output)


class UncertaintyFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


@app.command()
@handles_errors
def uncertainty(workload: WorkloadArg = None,
                samples: Annotated[int, typer.Option("--samples", "-n", help="Latin hypercube samples")] = 100,
                seed: Annotated[int, typer.Option("--seed", help="sampler seed: the same seed, the same result")] = 0,
                strategy: StrategyOpt = None, set_: SetOpt = None, pricing: PricingOpt = None,
                profile: ProfileOpt = None, solver: SolverOpt = "highs",
                tornado: Annotated[bool, typer.Option("--tornado/--no-tornado",
                                                      help="one-at-a-time P10/P90 runs per input")] = True,
                format: Annotated[UncertaintyFormat, typer.Option("--format", "-f", help="output format")
                                  ] = UncertaintyFormat.table,
                out: OutFileOpt = None, jobs: JobsOpt = None, executor: ExecutorOpt = ExecutorKind.local,
                address: AddressOpt = None) -> None:
    """Sample the workload's distributions, solve every sample per strategy: P10/P50/P90 cost, the probability
    each strategy is cheapest, and a tornado of the inputs that move cost and the choice most."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.executor import executor_for
    from planner.uncertainty import run_uncertainty, uncertainty_markdown, uncertainty_rich

    runner = executor_for(executor.value, address, jobs)
    check_strategies(strategy)
    check_solver(solver)
    if format is UncertaintyFormat.html:
        from planner.html_report import require_charts

        require_charts()
    prof, catalog = load_profile(profile), load_catalog(pricing)
    with solve_progress("uncertainty", format is not UncertaintyFormat.json) as on_done:
        data = run_uncertainty(workload, list(set_ or []), prof, catalog, solver, strategy, samples, seed, runner,
                               tornado, on_done)
    if format is UncertaintyFormat.html:
        from planner.uncertainty_html import render_uncertainty_html

        write_output(render_uncertainty_html(data), out)
        return
    emit(data, format, out, table=uncertainty_rich, markdown=uncertainty_markdown)
