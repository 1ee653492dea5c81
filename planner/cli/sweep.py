"""`implan sweep` and `implan claims`: real solves across MAU sizes (break-even points, where cost claims hold)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer
from rich.console import Console

from planner.cli.common import (AddressOpt, ExecutorKind, ExecutorOpt, JobsOpt, OutFileOpt, PricingOpt, ProfileOpt,
                                SetOpt, SolverOpt, TextFormat, WorkloadArg, app, check_solver, check_strategies, emit,
                                handles_errors)


class SweepFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
@handles_errors
def sweep(workload: WorkloadArg = None,
          mau: Annotated[str, typer.Option("--mau", help="MAU range LOW..HIGH, e.g. 10k..100M")] = "10k..100M",
          steps: Annotated[int, typer.Option("--steps", help="log-spaced grid points, both ends included")] = 9,
          strategy: Annotated[Optional[list[str]], typer.Option(
              "--strategy", "-s", help="public, private, hybrid or serverless (default: the workload's strategies)")] = None,
          tolerance: Annotated[float, typer.Option(
              "--tolerance", help="bisect each break-even until HIGH/LOW - 1 <= this")] = 0.01,
          set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None, solver: SolverOpt = "highs",
          format: Annotated[SweepFormat, typer.Option("--format", "-f", help="output format")] = SweepFormat.table,
          out: OutFileOpt = None, jobs: JobsOpt = None, executor: ExecutorOpt = ExecutorKind.local,
          address: AddressOpt = None) -> None:
    """Cost per strategy and of the cheapest SaaS across MAU sizes, with break-even points (real solves)."""
    from planner.executor import executor_for
    from planner.sweep import sweep_csv, sweep_rich

    runner = executor_for(executor.value, address, jobs)
    data = run_sweep_with_progress(workload, set_, pricing, profile, strategy, solver, mau, steps, tolerance,
                                   progress=format is not SweepFormat.json, executor=runner)
    emit(data, format, out, table=sweep_rich, csv=sweep_csv)


@app.command()
@handles_errors
def claims(workload: WorkloadArg = None,
           mau: Annotated[str, typer.Option("--mau", help="MAU range LOW..HIGH, e.g. 10k..100M")] = "10k..100M",
           steps: Annotated[int, typer.Option("--steps", help="log-spaced grid points, both ends included")] = 7,
           claim: Annotated[Optional[list[str]], typer.Option(
               "--claim", help="STRATEGY=RATIO, e.g. public=8 (repeatable; default: public=8 and private=100)")] = None,
           set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None, solver: SolverOpt = "highs",
           format: Annotated[TextFormat, typer.Option("--format", "-f", help="output format")] = TextFormat.table,
           out: OutFileOpt = None) -> None:
    """Where the published cost claims hold: MAU intervals for the median priced SaaS offer and for each offer."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.claims import claims_markdown, claims_rich, parse_claims, run_claims
    from planner.sweep import log_grid, parse_range

    wanted = parse_claims(claim)
    lo, hi = parse_range(mau)
    grid = log_grid(lo, hi, steps)
    check_solver(solver)
    err = Console(stderr=True)

    def on_point(m: int) -> None:
        if err.is_terminal and format is not TextFormat.json:
            err.print(f"claims: solving {m:,} MAU", style="dim")

    data = run_claims(workload, list(set_ or []), load_profile(profile), load_catalog(pricing), solver, grid, wanted,
                      on_point)
    emit(data, format, out, table=claims_rich, markdown=claims_markdown)


def run_sweep_with_progress(workload, overrides, pricing, profile, strategies, solver, mau_range: str, steps: int,
                            tolerance: float, progress: bool, executor=None) -> dict:
    """Validate everything, then sweep with a rich progress bar on stderr when it is a terminal; the grid on
    `executor` (default: one local worker process per core)."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.executor import executor_for
    from planner.sweep import Sweeper, log_grid, parse_range, run_sweep

    lo, hi = parse_range(mau_range)
    grid = log_grid(lo, hi, steps)
    executor = executor or executor_for()
    check_strategies(strategies)
    check_solver(solver)
    prof, catalog = load_profile(profile), load_catalog(pricing)
    bar = None
    err = Console(stderr=True)
    if progress and err.is_terminal:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       console=err, transient=True)
    state: dict = {}

    def on_solve(m: int, todo: list[str]) -> None:
        if bar is None:
            return
        if "bisect" in state:
            bar.update(state["bisect"], advance=1, description=f"break-even: solving {m:,} MAU")
        else:
            if state.get("last") is not None:
                bar.advance(state["grid"])
            state["last"] = m
            bar.update(state["grid"], description=f"sweep: solving {m:,} MAU ({', '.join(todo)})")

    def on_grid_done() -> None:
        if bar is not None:
            bar.update(state["grid"], completed=len(grid), description="sweep: grid solved")
            state["bisect"] = bar.add_task("break-even bisection", total=None)

    sweeper = Sweeper(workload, overrides or [], prof, catalog, solver, on_solve, executor)
    names = list(strategies or sweeper.base.strategies)
    if bar is None:
        return run_sweep(sweeper, lo, hi, steps, names, tolerance, on_grid_done)
    with bar:
        state["grid"] = bar.add_task("sweep", total=len(grid))
        return run_sweep(sweeper, lo, hi, steps, names, tolerance, on_grid_done)
