"""`implan bundle`: render the deploy bundle (Terraform + Ansible) for one strategy of a plan (issue 4)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from planner.cli.common import (PricingOpt, ProfileOpt, SetOpt, SolverOpt, WorkloadArg, app, check_strategies,
                                handles_errors, solve, stderr_line)
from planner.errors import PlannerError


def _check_writable(out: Path) -> None:
    """The bundle is staged in a sibling directory of --out: try that before the (slow) solve, so a read-only or
    missing parent is one error line now rather than a PermissionError traceback after solving."""
    parent = out.absolute().parent
    if not parent.is_dir():
        raise PlannerError(f"--out {out}: parent directory {parent} does not exist")
    try:
        Path(tempfile.mkdtemp(prefix=f".{out.name}.probe.", dir=parent)).rmdir()
    except OSError as exc:
        raise PlannerError(f"--out {out}: cannot write into {parent}: {exc.strerror or exc}") from None


@app.command()
@handles_errors
def bundle(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None,
           profile: ProfileOpt = None,
           strategy: Annotated[str, typer.Option("--strategy", "-s", help="public, private or hybrid")] = "public",
           out: Annotated[Optional[Path], typer.Option("--out", "-o", help="bundle directory to write")] = None,
           plan: Annotated[Optional[Path], typer.Option("--plan", help="render a saved `implan plan --format json` "
                                                        "instead of solving")] = None,
           force: Annotated[bool, typer.Option(help="replace the contents of a non-empty --out")] = False,
           wheel: Annotated[Optional[Path], typer.Option(help="carry this imserver wheel (default: build one from the "
                                                         "installed imserver package)")] = None,
           no_wheel: Annotated[bool, typer.Option("--no-wheel", help="carry no wheel (the imserver role then "
                                                  "expects imserver_wheel_src to point at one)")] = False,
           solver: SolverOpt = "highs") -> None:
    """Write Terraform + Ansible that deploy the bundled imserver for one strategy of the plan."""
    from planner.render import build_wheel, check_out_dir, read_wheel, render_bundle, write_bundle
    from planner.render.context import check_renderable

    check_strategies([strategy])
    check_renderable(strategy)
    if out is None:
        raise PlannerError("--out DIR is required (the directory to write the bundle into)")
    if plan is not None and (workload is not None or set_ or pricing is not None or profile is not None):
        raise PlannerError("--plan renders a saved plan: do not combine it with a workload, --set, --pricing "
                           "or --profile")
    if wheel is not None and no_wheel:
        raise PlannerError("--wheel and --no-wheel: choose one")
    check_out_dir(out, force)            # fail before the (slow) solve
    _check_writable(out)
    carried = None if no_wheel else (read_wheel(wheel) if wheel is not None else build_wheel())
    if plan is not None:
        from planner.plan_json import read_plan

        data = read_plan(plan, "--plan ")
    else:
        data = solve(workload, set_, pricing, profile, [strategy], solver)
    files = render_bundle(data, strategy, wheel=carried)
    try:
        write_bundle(files, out, force)
    except OSError as exc:  # e.g. the disk filled up, or the parent became read-only after the probe
        raise PlannerError(f"--out {out}: cannot write the bundle: {exc.strerror or exc}") from None
    entry = next(s for s in data["strategies"] if s["name"] == strategy)
    stderr_line(f"wrote {len(files)} files to {out} ({strategy}: {entry['monthly_cost_usd']:,.2f} USD/month); "
                f"see {out / 'README.md'}")
