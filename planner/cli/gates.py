"""`implan diff` and `implan check`: what changed between two plans, and cost gates against a baseline plan.

Exit codes: 0 success / every gate passed; 1 a gate failed (check) or nothing feasible; 2 usage or input error.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import (OutFileOpt, PricingOpt, ProfileOpt, SetOpt, SolverOpt, TextFormat, WorkloadArg, app,
                                check_solver, emit, handles_errors, render_rich, solve, stderr_line, write_output)
from planner.errors import PlannerError


class CheckFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    github = "github"
    gitlab = "gitlab"
    json = "json"


@app.command()
@handles_errors
def diff(old: Annotated[Path, typer.Argument(help="baseline plan JSON (implan plan --format json)")],
         new: Annotated[Path, typer.Argument(help="new plan JSON")],
         format: Annotated[TextFormat, typer.Option("--format", "-f", help="output format")] = TextFormat.table,
         out: OutFileOpt = None) -> None:
    """What changed between two plans, per strategy, category, node and line item: price vs load vs topology."""
    from planner.diff import diff_plans
    from planner.diff_render import diff_markdown, diff_rich
    from planner.plan_json import read_plan

    data = diff_plans(read_plan(old), read_plan(new))
    emit(data, format, out, table=diff_rich, markdown=diff_markdown)


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
              "--baseline", "-b", help="baseline plan JSON to compare with (e.g. the main branch's plan), or a "
              "roadmap JSON (implan roadmap --format json): then the gates apply to the NPV")] = None,
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
          out: OutFileOpt = None,
          save_plan: Annotated[Optional[Path], typer.Option(
              "--save-plan", help="also write the new plan JSON to FILE (a baseline for later checks; solves "
              "every strategy)")] = None,
          all_strategies: Annotated[bool, typer.Option(
              "--all-strategies", help="solve and report every strategy of the baseline, not only the gated one")]
          = False) -> None:
    """Gate a workload's cost against a baseline plan: exit 0 pass, 1 a gate failed, 2 usage or input error."""
    from planner.gates import (Gates, check_markdown, check_rich, default_strategy, evaluate, failure_lines,
                               github_annotations)
    from planner.plan_json import read_plan
    from planner.report import to_json
    from planner.roadmap_gate import is_roadmap, read_json, read_roadmap

    if baseline is None:
        raise PlannerError("--baseline FILE is required (a plan JSON from `implan plan --format json --out FILE`)")
    _check_number("--max-increase", max_increase, positive=False)
    _check_number("--max-increase-usd", max_increase_usd, positive=False)
    _check_number("--max-cost-per-1k-mau", max_cost_per_1k_mau, positive=True)
    _check_number("--budget", budget, positive=True)
    raw = read_json(baseline, "plan JSON file")
    if is_roadmap(raw):
        _check_roadmap(baseline, read_roadmap(baseline, raw), workload, set_, pricing, profile, solver, strategy,
                       max_increase, max_increase_usd, max_cost_per_1k_mau, budget, format, out, save_plan)
        return
    base = read_plan(baseline)
    names = [s["name"] for s in base["strategies"]]
    if strategy is None:
        strategy = default_strategy(base, str(baseline))
    elif strategy not in names:
        raise PlannerError(f"--strategy {strategy}: not in the baseline {baseline} (it has: {', '.join(names)})")
    # the gates read one strategy: solve only it (the slow hybrid variants are not solved to gate public), unless
    # the whole plan is wanted (a saved baseline, or --all-strategies for a report on every strategy)
    solve_all = all_strategies or save_plan is not None
    current = solve(workload, set_, pricing, profile, None if solve_all else [strategy], solver)
    if not solve_all:
        base = {**base, "strategies": [s for s in base["strategies"] if s["name"] == strategy]}
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
        for line in failure_lines(result):
            stderr_line(f"implan: {line}")
        raise typer.Exit(1)


def _check_roadmap(path: Path, base: dict, workload, set_, pricing, profile, solver: str, strategy: str | None,
                   max_increase, max_increase_usd, max_cost_per_1k_mau, budget, format: CheckFormat,
                   out: Path | None, save_plan: Path | None) -> None:
    """`implan check` against a roadmap baseline: solve the roadmap (the baseline's --period) and gate its NPV."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.growth import PERIOD_MONTHS
    from planner.report import to_json
    from planner.roadmap import roadmap as run_roadmap
    from planner.roadmap_gate import default_roadmap_strategy, evaluate_roadmap, roadmap_check_text
    from planner.workload import load_workload

    if max_cost_per_1k_mau is not None or budget is not None:
        raise PlannerError(f"--baseline {path}: a roadmap baseline gates the NPV with --max-increase and "
                           "--max-increase-usd; --budget and --max-cost-per-1k-mau gate a monthly plan")
    names = [s["name"] for s in base["strategies"]]
    if strategy is None:
        strategy = default_roadmap_strategy(base, str(path))
    elif strategy not in names:
        raise PlannerError(f"--strategy {strategy}: not in the baseline {path} (it has: {', '.join(names)})")
    check_solver(solver)
    if base["period"] not in PERIOD_MONTHS:
        raise PlannerError(f"{path}: period {base['period']!r}: expected one of {', '.join(PERIOD_MONTHS)}")
    wl = load_workload(workload, set_ or [])
    current = run_roadmap(wl, load_profile(profile), load_catalog(pricing), names, base["period"], solver)
    result = evaluate_roadmap(base, current, strategy, max_increase, max_increase_usd)
    if save_plan is not None:
        write_output(to_json(current), save_plan)
    if format is CheckFormat.json:
        text = to_json(result)
    else:
        text = roadmap_check_text(result, markdown=format is not CheckFormat.table)
        if format is CheckFormat.github:
            text = "".join(f"::error title=implan roadmap gate {g['gate']}::{g['detail']}\n"
                           for g in result["failed"]) + text
    write_output(text, out)
    if not result["passed"]:
        for g in result["failed"]:
            stderr_line(f"implan: gate {g['gate']} failed: {g['detail']}")
        raise typer.Exit(1)
