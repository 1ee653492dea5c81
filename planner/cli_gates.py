"""`implan diff`, `check`, `sweep`, `claims`, `report`: registered on the main app (planner.cli) when it imports this module.

Exit codes: 0 success / every gate passed; 1 a gate failed (check) or nothing feasible; 2 usage or input error.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from planner.cli import (PricingOpt, ProfileOpt, SetOpt, SolverOpt, WorkloadArg, _solve, app, handles_errors,
                         render_rich, write_output)
from planner.errors import PlannerError
from planner.report import to_json


class DiffFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


class CheckFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    github = "github"
    gitlab = "gitlab"
    json = "json"


class SweepFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="write the output to FILE (atomically)")]


@app.command()
@handles_errors
def diff(old: Annotated[Path, typer.Argument(help="baseline plan JSON (implan plan --format json)")],
         new: Annotated[Path, typer.Argument(help="new plan JSON")],
         format: Annotated[DiffFormat, typer.Option("--format", "-f", help="output format")] = DiffFormat.table,
         out: OutOpt = None) -> None:
    """What changed between two plans, per strategy, category, node and line item: price vs load vs topology."""
    from planner.diff import diff_markdown, diff_plans, diff_rich, load_plan_json

    data = diff_plans(load_plan_json(old), load_plan_json(new))
    if format is DiffFormat.json:
        text = to_json(data)
    elif format is DiffFormat.markdown:
        text = diff_markdown(data)
    else:
        text = render_rich(diff_rich(data))
    write_output(text, out)


def _check_number(name: str, value: float | None, positive: bool) -> None:
    if value is None:
        return
    if value != value or value in (float("inf"), float("-inf")):
        raise PlannerError(f"{name} {value}: expected a finite number")
    if positive and value <= 0:
        raise PlannerError(f"{name} {value:g}: expected a positive number")


@app.command()
@handles_errors
def check(workload: WorkloadArg = None,
          baseline: Annotated[Optional[Path], typer.Option(
              "--baseline", "-b", help="baseline plan JSON to compare with (e.g. the main branch's plan)")] = None,
          max_increase: Annotated[Optional[float], typer.Option(
              "--max-increase", help="fail when the monthly cost rises by more than PCT percent",
              metavar="PCT")] = None,
          max_increase_usd: Annotated[Optional[float], typer.Option(
              "--max-increase-usd", help="fail when the monthly cost rises by more than N USD", metavar="N")] = None,
          max_cost_per_1k_mau: Annotated[Optional[float], typer.Option(
              "--max-cost-per-1k-mau", help="fail when the monthly cost per 1,000 MAU exceeds X USD",
              metavar="X")] = None,
          budget: Annotated[Optional[float], typer.Option(
              "--budget", help="fail when the monthly cost exceeds N USD", metavar="N")] = None,
          strategy: Annotated[Optional[str], typer.Option(
              "--strategy", "-s", help="strategy to gate (default: the baseline's cheapest feasible strategy)")]
          = None,
          set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None, solver: SolverOpt = "highs",
          format: Annotated[CheckFormat, typer.Option("--format", "-f", help="output format")] = CheckFormat.table,
          out: OutOpt = None,
          save_plan: Annotated[Optional[Path], typer.Option(
              "--save-plan", help="also write the new plan JSON to FILE (a baseline for later checks)")] = None
          ) -> None:
    """Gate a workload's cost against a baseline plan: exit 0 pass, 1 a gate failed, 2 usage or input error."""
    from planner.diff import load_plan_json
    from planner.gates import (Gates, check_markdown, check_rich, default_strategy, evaluate, failure_lines,
                               github_annotations)

    if baseline is None:
        raise PlannerError("--baseline FILE is required (a plan JSON from `implan plan --format json --out FILE`)")
    _check_number("--max-increase", max_increase, positive=False)
    _check_number("--max-increase-usd", max_increase_usd, positive=False)
    _check_number("--max-cost-per-1k-mau", max_cost_per_1k_mau, positive=True)
    _check_number("--budget", budget, positive=True)
    base = load_plan_json(baseline)
    names = [s["name"] for s in base["strategies"]]
    if strategy is None:
        strategy = default_strategy(base, str(baseline))
    elif strategy not in names:
        raise PlannerError(f"--strategy {strategy}: not in the baseline {baseline} (it has: {', '.join(names)})")
    current = _solve(workload, set_, pricing, profile, None, solver)
    result = evaluate(base, current, strategy, Gates(max_increase, max_increase_usd, max_cost_per_1k_mau, budget))
    if save_plan is not None:
        write_output(to_json(current), save_plan)
    if format is CheckFormat.json:
        write_output(to_json(result), out)
    elif format is CheckFormat.table:
        write_output(render_rich(check_rich(result)), out)
    else:
        flavor = format.value
        text = check_markdown(result, flavor)
        if flavor == "github":
            notes = github_annotations(result)
            if out is None:
                text = notes + text
            else:
                sys.stdout.write(notes)  # workflow commands on stdout, the comment body in the file
        write_output(text, out)
    if not result["passed"]:
        err = Console(stderr=True, highlight=False)
        for line in failure_lines(result):
            err.print(f"implan: {line}", markup=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command()
@handles_errors
def sweep(workload: WorkloadArg = None,
          mau: Annotated[str, typer.Option("--mau", help="MAU range LOW..HIGH, e.g. 10k..100M")] = "10k..100M",
          steps: Annotated[int, typer.Option("--steps", help="log-spaced grid points, both ends included")] = 9,
          strategy: Annotated[Optional[list[str]], typer.Option(
              "--strategy", "-s", help="public, private or hybrid (default: the workload's strategies)")] = None,
          tolerance: Annotated[float, typer.Option(
              "--tolerance", help="bisect each break-even until HIGH/LOW - 1 <= this")] = 0.01,
          set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None, solver: SolverOpt = "highs",
          format: Annotated[SweepFormat, typer.Option("--format", "-f", help="output format")] = SweepFormat.table,
          out: OutOpt = None) -> None:
    """Cost per strategy and of the cheapest SaaS across MAU sizes, with break-even points (real solves)."""
    from planner.sweep import sweep_csv, sweep_rich

    data = _run_sweep(workload, set_, pricing, profile, strategy, solver, mau, steps, tolerance,
                      progress=format is not SweepFormat.json)
    if format is SweepFormat.json:
        text = to_json(data)
    elif format is SweepFormat.csv:
        text = sweep_csv(data)
    else:
        text = render_rich(sweep_rich(data))
    write_output(text, out)


@app.command()
@handles_errors
def claims(workload: WorkloadArg = None,
           mau: Annotated[str, typer.Option("--mau", help="MAU range LOW..HIGH, e.g. 10k..100M")] = "10k..100M",
           steps: Annotated[int, typer.Option("--steps", help="log-spaced grid points, both ends included")] = 7,
           claim: Annotated[Optional[list[str]], typer.Option(
               "--claim", help="STRATEGY=RATIO, e.g. public=8 (repeatable; default: public=8 and private=100)")] = None,
           set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None, solver: SolverOpt = "highs",
           format: Annotated[DiffFormat, typer.Option("--format", "-f", help="output format")] = DiffFormat.table,
           out: OutOpt = None) -> None:
    """Where the published cost claims hold: MAU intervals for the median priced SaaS offer and for each offer."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.claims import claims_markdown, claims_rich, parse_claims, run_claims
    from planner.optimize.solver import SOLVERS
    from planner.sweep import log_grid, parse_range

    wanted = parse_claims(claim)
    lo, hi = parse_range(mau)
    grid = log_grid(lo, hi, steps)
    if solver not in SOLVERS:
        raise PlannerError(f"--solver {solver}: unknown solver, expected one of {', '.join(SOLVERS)}")
    err = Console(stderr=True)

    def on_point(m: int) -> None:
        if err.is_terminal and format is not DiffFormat.json:
            err.print(f"claims: solving {m:,} MAU", style="dim")

    data = run_claims(workload, list(set_ or []), load_profile(profile), load_catalog(pricing), solver, grid, wanted,
                      on_point)
    if format is DiffFormat.json:
        text = to_json(data)
    elif format is DiffFormat.markdown:
        text = claims_markdown(data)
    else:
        text = render_rich(claims_rich(data))
    write_output(text, out)


def _run_sweep(workload, overrides, pricing, profile, strategies, solver, mau_range: str, steps: int,
               tolerance: float, progress: bool) -> dict:
    """Validate everything, then sweep with a rich progress bar on stderr when it is a terminal."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.optimize.solver import SOLVERS
    from planner.sweep import Sweeper, log_grid, parse_range, run_sweep
    from planner.workload import STRATEGIES

    lo, hi = parse_range(mau_range)
    grid = log_grid(lo, hi, steps)
    for s in strategies or []:
        if s not in STRATEGIES:
            raise PlannerError(f"--strategy {s}: unknown strategy, expected one of {', '.join(STRATEGIES)}")
    if solver not in SOLVERS:
        raise PlannerError(f"--solver {solver}: unknown solver, expected one of {', '.join(SOLVERS)}")
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

    sweeper = Sweeper(workload, overrides or [], prof, catalog, solver, on_solve)
    names = list(strategies or sweeper.base.strategies)
    if bar is None:
        return run_sweep(sweeper, lo, hi, steps, names, tolerance, on_grid_done)
    with bar:
        state["grid"] = bar.add_task("sweep", total=len(grid))
        return run_sweep(sweeper, lo, hi, steps, names, tolerance, on_grid_done)


@app.command()
@handles_errors
def report(workload: WorkloadArg = None,
           out: Annotated[Optional[Path], typer.Option("--out", "-o", help="the HTML file to write")] = None,
           sweep_steps: Annotated[int, typer.Option(
               "--sweep-steps", help="sizes in the break-even sweep (0: no sweep)")] = 4,
           sweep_mau: Annotated[Optional[str], typer.Option(
               "--sweep-mau", help="sweep range LOW..HIGH (default: a tenth to ten times the workload's MAU)")]
           = None,
           sweep_tolerance: Annotated[float, typer.Option(
               "--sweep-tolerance", help="relative MAU tolerance of the break-even bisection")] = 0.05,
           strategy: Annotated[Optional[list[str]], typer.Option(
               "--strategy", "-s", help="public, private or hybrid (default: the workload's strategies)")] = None,
           set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None,
           solver: SolverOpt = "highs") -> None:
    """One self-contained HTML report: comparison, breakdown, break-even curves, nodes, assumptions, prices."""
    from planner.html_report import render_report
    from planner.sweep import SweepError

    if out is None:
        raise PlannerError("--out FILE is required (the HTML file to write, e.g. --out report.html)")
    if sweep_steps < 0 or sweep_steps == 1:
        raise SweepError(f"--sweep-steps {sweep_steps}: expected 0 (no sweep) or at least 2")
    data = _solve(workload, set_, pricing, profile, strategy, solver)
    sweep_data = None
    if sweep_steps:
        mau = data["workload"]["mau"]
        rng = sweep_mau or f"{max(1, mau // 10)}..{max(2, mau * 10)}"
        sweep_data = _run_sweep(workload, set_, pricing, profile, strategy, solver, rng, sweep_steps,
                                sweep_tolerance, progress=True)
    write_output(render_report(data, sweep_data), out)
    Console(stderr=True, highlight=False).print(f"wrote {out}", markup=False)
