"""`implan workload init|show`: write an example workload, print a resolved one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml

from planner.cli.common import SetOpt, WorkloadArg, app, handles_errors, stderr_line, write_output
from planner.errors import PlannerError
from planner.workload import default_workload_path, load_workload, workload_to_dict

workload_app = typer.Typer(help="Write and inspect workload files.", no_args_is_help=True)
app.add_typer(workload_app, name="workload")


@workload_app.command("init")
@handles_errors
def workload_init(file: Annotated[Optional[Path], typer.Argument(help="where to write (default: stdout)")] = None,
                  force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False) -> None:
    """Write a commented example workload."""
    text = default_workload_path().read_text(encoding="utf-8")
    if file is not None and file.exists() and not force:
        raise PlannerError(f"{file}: already exists (use --force to overwrite)")
    write_output(text, file)
    if file is not None:
        stderr_line(f"wrote {file}")


@workload_app.command("show")
@handles_errors
def workload_show(workload: WorkloadArg = None, set_: SetOpt = None,
                  format: Annotated[str, typer.Option("--format", "-f", help="yaml or json")] = "yaml") -> None:
    """The resolved workload, every default filled in."""
    if format not in ("yaml", "json"):
        raise PlannerError(f"--format {format}: expected yaml or json")
    from planner.report import to_json

    data = workload_to_dict(load_workload(workload, set_ or []))
    write_output(to_json(data) if format == "json" else yaml.safe_dump(data, sort_keys=False), None)
