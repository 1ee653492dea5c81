"""`implan batch`: a portfolio of apps, one workload file each, on the executor asked for (planner.batch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planner.cli.common import (AddressOpt, ExecutorKind, ExecutorOpt, JobsOpt, OutFileOpt, PricingOpt, ProfileOpt,
                                SolverOpt, StrategyOpt, TextFormat, app, check_solver, check_strategies, emit, fail,
                                handles_errors, solve_progress)


@app.command()
@handles_errors
def batch(workloads: Annotated[list[Path], typer.Argument(help="workload YAML files, one per app",
                                                          show_default=False)],
          strategy: StrategyOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None,
          solver: SolverOpt = "highs",
          format: Annotated[TextFormat, typer.Option("--format", "-f", help="output format")] = TextFormat.table,
          out: OutFileOpt = None, jobs: JobsOpt = None, executor: ExecutorOpt = ExecutorKind.local,
          address: AddressOpt = None) -> None:
    """A portfolio of apps: each workload's strategy costs, cheapest strategy and SaaS offer, and the totals."""
    from planner.batch import batch_markdown, batch_rich, load_portfolio, run_batch, unsolved
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.executor import executor_for

    runner = executor_for(executor.value, address, jobs)
    check_strategies(strategy)
    check_solver(solver)
    portfolio = load_portfolio(workloads)  # a bad file fails here, before the catalogs load or a cluster is reached
    prof, catalog = load_profile(profile), load_catalog(pricing)
    with solve_progress("batch", format is not TextFormat.json) as on_done:
        data = run_batch(portfolio, prof, catalog, solver, strategy, runner, on_done)
    emit(data, format, out, table=batch_rich, markdown=batch_markdown)
    if unsolved(data):
        fail(f"no strategy has a feasible plan for {', '.join(unsolved(data))}", 1)
