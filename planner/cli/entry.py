"""The `implan` entry point: imports every command module (each registers its commands on the shared app) and
runs the app with one-line usage errors."""

from __future__ import annotations

import sys

import typer

# Each import registers that module's commands on common.app; `implan --help` lists them in this order.
from planner.cli import plan  # noqa: F401  (plan, compare)
from planner.cli import roadmap  # noqa: F401
from planner.cli import bundle  # noqa: F401
from planner.cli import gates  # noqa: F401  (diff, check)
from planner.cli import sweep  # noqa: F401  (sweep, claims)
from planner.cli import uncertainty  # noqa: F401
from planner.cli import batch  # noqa: F401
from planner.cli import report  # noqa: F401
from planner.cli import pricing  # noqa: F401  (the pricing group)
from planner.cli import workload  # noqa: F401  (the workload group)
from planner.cli.common import app, click_exceptions, stderr_line


def main() -> None:
    """Entry point. Usage errors (unknown option, missing argument) print one line and a --help hint, exit 2,
    instead of Typer's multi-line box."""
    try:
        code = app(prog_name="implan", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:  # `implan` or `implan pricing` alone: show the help
        typer.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        sys.exit(2)
    except click_exceptions.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "implan"
        message = " ".join(exc.format_message().split())
        stderr_line(f"implan: error: {message} (see `{where} --help`)")
        sys.exit(exc.exit_code)
    except click_exceptions.ClickException as exc:
        stderr_line(f"implan: error: {' '.join(exc.format_message().split())}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
