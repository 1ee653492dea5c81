"""What every command module shares: the Typer app, output and error helpers, the common options, and the
solve-to-dict helper. It imports no command module: those import this one and register themselves on ``app``.
Command modules import the planner's heavy parts (solver, catalogs, renderers) inside the commands, so that
`implan --help`, `--version` and usage errors start without loading the solver stack."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console

try:  # typer >= 0.29 carries its own copy of click; older releases use click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions

from planner import __version__
from planner.errors import PlannerError
from planner.model import SOLVERS
from planner.workload import STRATEGIES

INTERNAL_ERROR_EXIT = 3

app = typer.Typer(help="Plan and compare the cost of running chat: public cloud, private cloud, hybrid, serverless, chat SaaS.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"implan {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="print the version and exit")] = False) -> None:
    """implan: cost planner for chat backends."""


# ---------- options several commands take ----------

WorkloadArg = Annotated[Optional[Path], typer.Argument(help="workload YAML (default: the embedded 1M-MAU chat app)",
                                                       show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="override a field: path.to.field=value")]
PricingOpt = Annotated[Optional[Path], typer.Option("--pricing", help="catalog directory (default: shipped catalogs)")]
ProfileOpt = Annotated[Optional[Path], typer.Option("--profile", help="capacity profile YAML merged over the default")]
StrategyOpt = Annotated[Optional[list[str]], typer.Option("--strategy", "-s", help="public, private, hybrid or serverless")]
SolverOpt = Annotated[str, typer.Option("--solver", help=f"MILP solver: {', '.join(SOLVERS)} (fallback cbc)")]
OutFileOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="write the output to FILE (atomically)")]
JobsOpt = Annotated[Optional[int], typer.Option(
    "--jobs", "-j", help="local worker processes for the independent solves (default: one per core; 1: in this "
                         "process)")]


class ExecutorKind(str, Enum):
    """--executor: where the independent solves of sweep, uncertainty and batch run (planner.executor)."""
    local = "local"
    dask = "dask"


ExecutorOpt = Annotated[ExecutorKind, typer.Option(
    "--executor", help="local: this machine (--jobs processes); dask: an existing Dask cluster (--address)")]
AddressOpt = Annotated[Optional[str], typer.Option(
    "--address", help="the Dask scheduler, tcp://HOST:PORT (with --executor dask)", show_default=False)]


class TextFormat(str, Enum):
    """--format of the commands that print a table, JSON or markdown (diff, claims)."""
    table = "table"
    json = "json"
    markdown = "markdown"


# ---------- output ----------

def console(file=None) -> Console:
    """Console for report output. markup=False: names, instance types and messages come from the user's files,
    and a name such as "[/bold]" must print as itself (rich markup would crash on it or restyle it)."""
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
    return Console(file=file, width=width, soft_wrap=False, markup=False)


def stderr_line(text: str) -> None:
    """One status or error line on stderr, printed as itself (no markup, no highlighting)."""
    Console(stderr=True, highlight=False).print(text, markup=False, soft_wrap=True)


@contextlib.contextmanager
def solve_progress(label: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr ("LABEL: solving", solved of total) while the block runs, when `enabled` and
    stderr is a terminal; yields the on_done(solved, total) callback that moves it (a no-op without a bar)."""
    err = Console(stderr=True)
    if not (enabled and err.is_terminal):
        yield lambda solved, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(f"{label}: solving"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True)
    task: list = []

    def on_done(solved: int, total: int) -> None:
        if not task:
            task.append(bar.add_task("solve", total=total))
        bar.update(task[0], completed=solved)

    with bar:
        yield on_done


def render_rich(renderable) -> str:
    buf = io.StringIO()
    console(buf).print(renderable)
    return buf.getvalue()


def emit(data: dict, fmt: Enum, out: Path | None, *, table, markdown=None, csv=None) -> None:
    """Write a command's result in the --format asked for: JSON is the data itself, the other formats render it
    (table through rich). One dispatch for every command, so a format behaves the same everywhere."""
    from planner.report import to_json

    renderers = {"json": to_json, "markdown": markdown, "csv": csv, "table": lambda d: render_rich(table(d))}
    write_output(renderers[fmt.value](data), out)


def write_output(text: str, out: Path | None) -> None:
    """Print, or write atomically (temp file + rename) so a failed run never leaves half a file. Only a new path
    or an existing regular file is written: the rename would replace a FIFO, a device or a symlink by a plain file,
    so those are refused (for a symlink, name its target)."""
    if out is None:
        sys.stdout.write(text)
        return
    directory = out.parent if str(out.parent) else Path(".")
    if not directory.is_dir():
        raise PlannerError(f"{out}: directory {directory} does not exist")
    if out.is_symlink():
        raise PlannerError(f"{out}: is a symbolic link; give its target ({os.path.realpath(out)}) as the output "
                           "file instead (writing would replace the link by a plain file)")
    if out.is_dir():
        raise PlannerError(f"{out}: is a directory, expected a file name for the report")
    if out.exists() and not out.is_file():
        raise PlannerError(f"{out}: is not a regular file (a FIFO, socket or device); expected a file name for "
                           "the report")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise PlannerError(f"{out}: cannot write into {directory}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode a plain open() would
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise PlannerError(f"{out}: cannot write the report: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# ---------- errors ----------

def fail(message: str, code: int) -> None:
    stderr_line(f"implan: error: {message}")
    raise typer.Exit(code)


def handles_errors(func):
    """Domain errors become one line on stderr and the error's exit code; no traceback. Any other exception is a
    bug in implan: one line and exit 3, so CI can tell it from bad input (2) and a failed gate (1); the traceback
    only with IMPLAN_DEBUG=1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PlannerError as exc:
            fail(str(exc), exc.exit_code)
        except (typer.Exit, typer.Abort, click_exceptions.ClickException):
            raise
        except Exception as exc:
            if os.environ.get("IMPLAN_DEBUG") == "1":
                raise
            detail = " ".join(str(exc).split())[:200]
            fail(f"internal error (a bug in implan, please report it): {type(exc).__name__}: {detail}; "
                 "IMPLAN_DEBUG=1 shows the traceback", INTERNAL_ERROR_EXIT)

    return wrapper


# ---------- checking options and solving ----------

def check_strategies(strategies: list[str] | None) -> None:
    for s in strategies or []:
        if s not in STRATEGIES:
            raise PlannerError(f"--strategy {s}: unknown strategy, expected one of {', '.join(STRATEGIES)}")


def check_solver(solver: str) -> None:
    if solver not in SOLVERS:
        raise PlannerError(f"--solver {solver}: unknown solver, expected one of {', '.join(SOLVERS)}")


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:.6g}"


def point_value_note(distributions: dict) -> str:
    """Say that a workload's distributions were planned at their point values (and how to sample them)."""
    shown = ", ".join(f"{path}={_number(d.point())}" for path, d in distributions.items())
    return (f"implan: note: {len(distributions)} field(s) are distributions, planned at their point values "
            f"(mode, median or weighted mean: {shown}); `implan uncertainty` samples them")


def solve(workload: Path | None, overrides: list[str] | None, pricing: Path | None, profile: Path | None,
          strategies: list[str] | None, solver: str, export_model: Path | None = None) -> dict:
    """Load every input, solve, and return the plan JSON dict (the report.py contract)."""
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.optimize import plan as run_plan
    from planner.report import plan_to_dict
    from planner.workload import load_workload_with_distributions

    check_strategies(strategies)
    check_solver(solver)
    wl, distributions = load_workload_with_distributions(workload, overrides or [])
    if distributions:
        stderr_line(point_value_note(distributions))
    result = run_plan(wl, load_profile(profile), load_catalog(pricing), strategies, solver, export_model)
    return plan_to_dict(result)
