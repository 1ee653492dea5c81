"""`implan report`: one self-contained HTML report (comparison, breakdown, break-even sweep, nodes, prices)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import (PricingOpt, ProfileOpt, SetOpt, SolverOpt, WorkloadArg, app, handles_errors, solve,
                                stderr_line, write_output)
from planner.cli.sweep import run_sweep_with_progress
from planner.errors import PlannerError


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
               "--strategy", "-s", help="public, private, hybrid or serverless (default: the workload's strategies)")] = None,
           roadmap: Annotated[bool, typer.Option(
               "--roadmap", help="add the roadmap over growth.horizon_months (implan roadmap, all its strategies)")]
           = False,
           set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None,
           solver: SolverOpt = "highs") -> None:
    """One self-contained HTML report: comparison, breakdown, break-even curves, nodes, assumptions, prices."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.html_report import render_report, require_charts
    from planner.roadmap import roadmap as run_roadmap
    from planner.sweep import SweepError
    from planner.workload import load_workload

    if out is None:
        raise PlannerError("--out FILE is required (the HTML file to write, e.g. --out report.html)")
    if sweep_steps < 0 or sweep_steps == 1:
        raise SweepError(f"--sweep-steps {sweep_steps}: expected 0 (no sweep) or at least 2")
    require_charts()
    data = solve(workload, set_, pricing, profile, strategy, solver)
    sweep_data = None
    if sweep_steps:
        mau = data["workload"]["mau"]
        rng = sweep_mau or f"{max(1, mau // 10)}..{max(2, mau * 10)}"
        sweep_data = run_sweep_with_progress(workload, set_, pricing, profile, strategy, solver, rng, sweep_steps,
                                             sweep_tolerance, progress=True)
    roadmap_data = None
    if roadmap:
        roadmap_data = run_roadmap(load_workload(workload, set_ or []), load_profile(profile), load_catalog(pricing),
                                   None, "month", solver)
    write_output(render_report(data, sweep_data, roadmap_data), out)
    stderr_line(f"wrote {out}")
