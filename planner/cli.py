"""implan command line: parse, call one library function, print, map errors to exit codes.

Exit codes: 0 success; 1 no feasible plan (or `pricing validate --strict` found warnings); 2 bad input;
3 a bug in implan (any unexpected exception, or errors.OutputError; IMPLAN_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Console
from rich.text import Text

try:  # typer >= 0.29 carries its own copy of click; older releases use click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions

from planner import __version__
from planner.capacity import load_profile
from planner.catalog.loader import load_catalog
from planner.catalog.queries import validate
from planner.errors import PlannerError
from planner.optimize import plan as run_plan
from planner.optimize.solver import SOLVERS
from planner.report import compare_table, plan_tables, plan_to_dict, to_csv, to_json, to_markdown
from planner.workload import STRATEGIES, default_workload_path, load_workload, workload_to_dict

app = typer.Typer(help="Plan and compare the cost of running chat: public cloud, private cloud, hybrid, chat SaaS.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
pricing_app = typer.Typer(help="Inspect and validate the price catalogs.", no_args_is_help=True)
workload_app = typer.Typer(help="Write and inspect workload files.", no_args_is_help=True)
app.add_typer(pricing_app, name="pricing")
app.add_typer(workload_app, name="workload")


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _console(file=None) -> Console:
    """Console for report output. markup=False: names, instance types and messages come from the user's files,
    and a name such as "[/bold]" must print as itself (rich markup would crash on it or restyle it)."""
    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
    return Console(file=file, width=width, soft_wrap=False, markup=False)


def _fail(message: str, code: int) -> None:
    Console(stderr=True, highlight=False).print(f"implan: error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


INTERNAL_ERROR_EXIT = 3


def handles_errors(func):
    """Domain errors become one line on stderr and the error's exit code; no traceback. Any other exception is a
    bug in implan: one line and exit 3, so CI can tell it from bad input (2) and a failed gate (1); the traceback
    only with IMPLAN_DEBUG=1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PlannerError as exc:
            _fail(str(exc), exc.exit_code)
        except (typer.Exit, typer.Abort, click_exceptions.ClickException):
            raise
        except Exception as exc:
            if os.environ.get("IMPLAN_DEBUG") == "1":
                raise
            detail = " ".join(str(exc).split())[:200]
            _fail(f"internal error (a bug in implan, please report it): {type(exc).__name__}: {detail}; "
                  "IMPLAN_DEBUG=1 shows the traceback", INTERNAL_ERROR_EXIT)

    return wrapper


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


def render_rich(renderable) -> str:
    buf = io.StringIO()
    console = _console(buf)
    console.print(renderable)
    return buf.getvalue()


WorkloadArg = Annotated[Optional[Path], typer.Argument(help="workload YAML (default: the embedded 1M-MAU chat app)",
                                                       show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="override a field: path.to.field=value")]
PricingOpt = Annotated[Optional[Path], typer.Option("--pricing", help="catalog directory (default: shipped catalogs)")]
ProfileOpt = Annotated[Optional[Path], typer.Option("--profile", help="capacity profile YAML merged over the default")]
StrategyOpt = Annotated[Optional[list[str]], typer.Option("--strategy", "-s", help="public, private or hybrid")]
FormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", help="output format")]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="write the report to FILE")]
SolverOpt = Annotated[str, typer.Option("--solver", help=f"MILP solver: {', '.join(SOLVERS)} (fallback cbc)")]


def _solve(workload: Path | None, overrides: list[str] | None, pricing: Path | None, profile: Path | None,
           strategies: list[str] | None, solver: str, export_model: Path | None = None) -> dict:
    for s in strategies or []:
        if s not in STRATEGIES:
            raise PlannerError(f"--strategy {s}: unknown strategy, expected one of {', '.join(STRATEGIES)}")
    if solver not in SOLVERS:
        raise PlannerError(f"--solver {solver}: unknown solver, expected one of {', '.join(SOLVERS)}")
    wl = load_workload(workload, overrides or [])
    result = run_plan(wl, load_profile(profile), load_catalog(pricing), strategies, solver, export_model)
    return plan_to_dict(result)


def _emit(data: dict, fmt: ReportFormat, out: Path | None, table) -> None:
    if fmt is ReportFormat.json:
        text = to_json(data)
    elif fmt is ReportFormat.markdown:
        text = to_markdown(data, detailed=table is plan_tables)
    elif fmt is ReportFormat.csv:
        text = to_csv(data)
    else:
        text = render_rich(table(data))
    write_output(text, out)
    if not any(s["monthly_cost_usd"] is not None for s in data["strategies"]):
        _fail("no strategy has a feasible plan: " + "; ".join(f"{s['name']}: {s['message']}"
                                                              for s in data["strategies"]), 1)


@app.command()
@handles_errors
def plan(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None, profile: ProfileOpt = None,
         strategy: StrategyOpt = None, format: FormatOpt = ReportFormat.table, out: OutOpt = None,
         solver: SolverOpt = "highs",
         export_model: Annotated[Optional[Path], typer.Option(
             "--export-model", help="write each strategy's MILP as DIR/<strategy>.mps")] = None) -> None:
    """Solve each strategy and print its cost, breakdown, nodes, utilization and solver status."""
    data = _solve(workload, set_, pricing, profile, strategy, solver, export_model)
    _emit(data, format, out, plan_tables)


@app.command()
@handles_errors
def compare(workload: WorkloadArg = None, set_: SetOpt = None, pricing: PricingOpt = None,
            profile: ProfileOpt = None, strategy: StrategyOpt = None, format: FormatOpt = ReportFormat.table,
            out: OutOpt = None, solver: SolverOpt = "highs") -> None:
    """All strategies and chat SaaS offers side by side, with SaaS cost / strategy cost ratios."""
    data = _solve(workload, set_, pricing, profile, strategy, solver)
    _emit(data, format, out, compare_table)


@pricing_app.command("list")
@handles_errors
def pricing_list(pricing: PricingOpt = None, format: Annotated[ListFormat, typer.Option("--format", "-f")] =
                 ListFormat.table, provider: Annotated[Optional[str], typer.Option(help="only this provider")] = None,
                 region: Annotated[Optional[str], typer.Option(help="only this region")] = None) -> None:
    """Every compute offering: provider, region, type, vCPU, GiB, USD per hour (on-demand, commitments, spot)."""
    from planner.catalog.queries import compute_frame  # pandas is slow to import: only this command needs it

    frame = compute_frame(load_catalog(pricing))
    if provider:
        frame = frame[frame["provider"] == provider]
    if region:
        frame = frame[frame["region"] == region]
    if format is ListFormat.json:
        write_output(frame.to_json(orient="records", indent=2) + "\n", None)
    elif format is ListFormat.csv:
        write_output(frame.to_csv(index=False), None)
    else:
        from rich.table import Table
        t = Table(title=f"{len(frame)} compute offerings (USD per hour)")
        cols = ["provider", "region", "type", "arch", "vcpu", "memory_gib", "usd_per_hour", "usd_per_hour_commit_1y",
                "usd_per_hour_commit_3y", "usd_per_hour_spot"]
        for c in cols:
            t.add_column(c.replace("usd_per_hour", "$/h").replace("_", " "),
                         justify="right" if c not in ("provider", "region", "type", "arch") else "left")
        for row in frame[cols].itertuples(index=False):
            t.add_row(*["" if v is None or v != v else str(v) for v in row])
        _console().print(t)


@pricing_app.command("show")
@handles_errors
def pricing_show(name: Annotated[str, typer.Argument(help="catalog name (file name without .yaml)")],
                 pricing: PricingOpt = None) -> None:
    """One catalog: provider, kind, sha256, regions and sources."""
    catalog = load_catalog(pricing)
    info = next((i for i in catalog.infos if i.name == name), None)
    if info is None:
        raise PlannerError(f"no catalog named {name!r} (known: {', '.join(i.name for i in catalog.infos)})")
    raw = yaml.safe_load(Path(info.path).read_text(encoding="utf-8"))
    console = _console()
    console.print(Text.assemble((info.name, "bold"), f": {info.title} ({info.kind}); oldest price {info.as_of}; "
                                f"sha256 {info.sha256}"), highlight=False)
    for section in ("regions", "compute", "servers", "saas", "transfer", "object_storage"):
        if raw.get(section):
            console.print(f"  {section}: {len(raw[section])} entries", highlight=False)
    for key, src in raw.get("sources", {}).items():
        console.print(f"  source {key}: {src['title']} ({src['as_of']}) {src['url']}", highlight=False, soft_wrap=True)


@pricing_app.command("validate")
@handles_errors
def pricing_validate(pricing: PricingOpt = None,
                     max_age_days: Annotated[int, typer.Option(help="warn about prices older than this")] = 365,
                     strict: Annotated[bool, typer.Option(help="exit 1 when there are warnings")] = False) -> None:
    """Check schema, units, references and staleness of every catalog."""
    catalog = load_catalog(pricing)
    findings = validate(catalog, max_age_days, dt.date.today())
    console = _console()
    for f in findings:
        console.print(f"{f.level}: {f.catalog}: {f.message}", highlight=False, markup=False)
    estimated = sum(1 for c in catalog.compute if c.ref.estimated)
    console.print(f"{len(catalog.infos)} catalogs valid ({len(catalog.compute)} compute offerings, {estimated} with "
                  f"estimated prices, {len(catalog.private_sites)} private sites, {len(catalog.saas)} SaaS offers); "
                  f"{len(findings)} warning(s)", highlight=False)
    if strict and findings:
        raise typer.Exit(1)


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
        Console(stderr=True).print(f"wrote {file}", highlight=False, markup=False)


@workload_app.command("show")
@handles_errors
def workload_show(workload: WorkloadArg = None, set_: SetOpt = None,
                  format: Annotated[str, typer.Option("--format", "-f", help="yaml or json")] = "yaml") -> None:
    """The resolved workload, every default filled in."""
    if format not in ("yaml", "json"):
        raise PlannerError(f"--format {format}: expected yaml or json")
    data = workload_to_dict(load_workload(workload, set_ or []))
    write_output(to_json(data) if format == "json" else yaml.safe_dump(data, sort_keys=False), None)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"implan {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="print the version and exit")] = False) -> None:
    """implan: cost planner for chat backends."""


# Command groups that live in their own modules register themselves on `app` when imported.
from planner import cli_bundle, cli_gates  # noqa: E402,F401  (import for the side effect of registering)


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
        Console(stderr=True, highlight=False).print(f"implan: error: {message} (see `{where} --help`)",
                                                    markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click_exceptions.ClickException as exc:
        Console(stderr=True, highlight=False).print(f"implan: error: {' '.join(exc.format_message().split())}",
                                                    markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
