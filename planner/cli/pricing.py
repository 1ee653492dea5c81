"""`implan pricing list|show|validate|import|diff`: inspect and check the price catalogs, refresh them from the
providers' own price files, and see what a refresh changes (docs/pricing.md)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.text import Text

from planner.cli.common import (OutFileOpt, PricingOpt, ProfileOpt, SolverOpt, TextFormat, app, check_solver,
                                console, handles_errors, render_rich, stderr_line, write_output)
from planner.errors import PlannerError

# the importers' names for --help, without importing them (tests/planner/test_pricing_import.py checks the list
# against planner.catalog.importers.PROVIDERS)
IMPORT_PROVIDERS = ("aws", "azure", "gcp", "hetzner")

pricing_app = typer.Typer(help="Inspect, validate, import and diff the price catalogs.", no_args_is_help=True)
app.add_typer(pricing_app, name="pricing")


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@pricing_app.command("list")
@handles_errors
def pricing_list(pricing: PricingOpt = None, format: Annotated[ListFormat, typer.Option("--format", "-f")] =
                 ListFormat.table, provider: Annotated[Optional[str], typer.Option(help="only this provider")] = None,
                 region: Annotated[Optional[str], typer.Option(help="only this region")] = None) -> None:
    """Every compute offering: provider, region, type, vCPU, GiB, USD per hour (on-demand, commitments, spot)."""
    from planner.catalog.loader import load_catalog
    from planner.catalog.queries import COMPUTE_COLUMNS, compute_rows

    rows = compute_rows(load_catalog(pricing), provider, region)
    if format is ListFormat.json:
        write_output(json.dumps(rows, indent=2) + "\n", None)
    elif format is ListFormat.csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COMPUTE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_output(out.getvalue(), None)
    else:
        from rich.table import Table
        t = Table(title=f"{len(rows)} compute offerings (USD per hour)")
        cols = ["provider", "region", "type", "arch", "vcpu", "memory_gib", "usd_per_hour", "usd_per_hour_commit_1y",
                "usd_per_hour_commit_3y", "usd_per_hour_spot"]
        for c in cols:
            t.add_column(c.replace("usd_per_hour", "$/h").replace("_", " "),
                         justify="right" if c not in ("provider", "region", "type", "arch") else "left")
        for row in rows:
            t.add_row(*["" if row[c] is None else str(row[c]) for c in cols])
        console().print(t)


@pricing_app.command("show")
@handles_errors
def pricing_show(name: Annotated[str, typer.Argument(help="catalog name (file name without .yaml)")],
                 pricing: PricingOpt = None) -> None:
    """One catalog: provider, kind, sha256, regions and sources."""
    from planner.catalog.loader import load_catalog

    catalog = load_catalog(pricing)
    info = next((i for i in catalog.infos if i.name == name), None)
    if info is None:
        raise PlannerError(f"no catalog named {name!r} (known: {', '.join(i.name for i in catalog.infos)})")
    raw = yaml.safe_load(Path(info.path).read_text(encoding="utf-8"))
    out = console()
    out.print(Text.assemble((info.name, "bold"), f": {info.title} ({info.kind}); oldest price {info.as_of}; "
                            f"sha256 {info.sha256}"), highlight=False)
    for section in ("regions", "compute", "servers", "saas", "serverless", "transfer", "object_storage"):
        if raw.get(section):
            out.print(f"  {section}: {len(raw[section])} entries", highlight=False)
    for key, src in raw.get("sources", {}).items():
        out.print(f"  source {key}: {src['title']} ({src['as_of']}) {src['url']}", highlight=False, soft_wrap=True)


DEFAULT_MAX_AGE_MONTHS = 18  # the project's freshness policy (issue 13): no price older than 18 months


def _oldest_allowed(max_age_days: int | None, max_age_months: int | None, today: dt.date) -> dt.date:
    """The limit date from one of the two alternative flags (default: DEFAULT_MAX_AGE_MONTHS)."""
    from planner.catalog.queries import months_before

    if max_age_days is not None and max_age_months is not None:
        raise PlannerError("--max-age-days and --max-age-months are alternatives: give one of them")
    if max_age_days is not None:
        return today - dt.timedelta(days=max_age_days)
    return months_before(today, DEFAULT_MAX_AGE_MONTHS if max_age_months is None else max_age_months)


@pricing_app.command("validate")
@handles_errors
def pricing_validate(pricing: PricingOpt = None,
                     max_age_days: Annotated[Optional[int], typer.Option(
                         min=0, help="a source older than this many days is stale")] = None,
                     max_age_months: Annotated[Optional[int], typer.Option(
                         min=0, help=f"a source older than this many calendar months is stale (default "
                                     f"{DEFAULT_MAX_AGE_MONTHS})")] = None,
                     strict: Annotated[bool, typer.Option(help="exit 1 on warnings too")] = False) -> None:
    """Check schema, units, references and staleness of every catalog. A stale source is an error (exit 1) unless
    it carries a `stale:` mark saying why it was not refreshed; then it is a warning."""
    from planner.catalog.loader import load_catalog
    from planner.catalog.queries import validate

    today = dt.date.today()
    oldest_allowed = _oldest_allowed(max_age_days, max_age_months, today)
    catalog = load_catalog(pricing)
    findings = validate(catalog, oldest_allowed, today)
    out = console()
    for f in findings:
        out.print(f"{f.level}: {f.catalog}: {f.message}", highlight=False, markup=False, soft_wrap=True)
    errors = sum(1 for f in findings if f.level == "error")
    estimated = sum(1 for c in catalog.compute if c.ref.estimated)
    out.print(f"{len(catalog.infos)} catalogs {'valid' if not errors else 'loaded'} ({len(catalog.compute)} compute "
              f"offerings, {estimated} with estimated prices, {len(catalog.private_sites)} private sites, "
              f"{len(catalog.saas)} SaaS offers); {errors} error(s), {len(findings) - errors} warning(s)",
              highlight=False)
    if errors or (strict and findings):
        raise typer.Exit(1)


class Upfront(str, Enum):
    none = "none"
    partial = "partial"
    all = "all"


def _names(text: str | None, flag: str) -> frozenset[str] | None:
    if text is None:
        return None
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise PlannerError(f"{flag} {text!r}: expected a comma-separated list of names")
    return names


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PlannerError(f"--as-of {text}: expected a date YYYY-MM-DD") from None


@pricing_app.command("import")
@handles_errors
def pricing_import(
        provider: Annotated[str, typer.Argument(help=f"one of {', '.join(IMPORT_PROVIDERS)}")],
        from_: Annotated[Path, typer.Option("--from", help="the price file, or a directory of its JSON pages")],
        regions: Annotated[Optional[str], typer.Option(help="only these regions (comma-separated)")] = None,
        families: Annotated[Optional[str], typer.Option(help="only these instance families (comma-separated)")]
        = None,
        as_of: Annotated[Optional[str], typer.Option(
            "--as-of", help="date of the prices (YYYY-MM-DD); needed where the file has none")] = None,
        upfront: Annotated[Upfront, typer.Option(help="AWS: the Reserved purchase option stored as the commitment "
                                                 "price")] = Upfront.none,
        fetch: Annotated[bool, typer.Option(
            "--fetch", help="download the files from the provider's endpoint into the --from directory first")]
        = False,
        keep_unlisted: Annotated[bool, typer.Option(
            "--keep-unlisted", help="a partial download: keep covered rows the files do not list")] = False,
        out: Annotated[Optional[Path], typer.Option(
            "--out", "-o", help="catalog YAML to merge into and write (atomically); default: print")] = None,
        pricing: PricingOpt = None) -> None:
    """Read a provider's own price file into a catalog: merged into --out if it exists (else into the provider's
    catalog of --pricing), printing what changed: added, changed price (old -> new), removed."""
    from planner.catalog.importers import refresh_catalog
    from planner.catalog.importers.common import Options
    from planner.catalog.importers.fetch import fetch as fetch_files
    from planner.catalog.loader import default_pricing_dir

    options = Options(_names(regions, "--regions"), _names(families, "--families"), _date(as_of), upfront.value,
                      keep_unlisted)
    if fetch:
        for path in fetch_files(provider, from_, options.regions):
            stderr_line(f"downloaded {path}")
    base = out if out is not None and out.exists() else (pricing or default_pricing_dir()) / f"{provider}.yaml"
    refreshed = refresh_catalog(provider, from_, options, base, out or Path(f"{provider}.yaml"), dt.date.today())
    write_output(refreshed.text, out)
    report = stderr_line if out is None else (lambda line: console().print(line, highlight=False, soft_wrap=True))
    for line in refreshed.report_lines(out):
        report(line)


@pricing_app.command("diff")
@handles_errors
def pricing_diff(old_dir: Annotated[Path, typer.Argument(help="catalog directory before the refresh")],
                 new_dir: Annotated[Path, typer.Argument(help="catalog directory after the refresh")],
                 plan: Annotated[Optional[Path], typer.Option(
                     "--plan", help="plan JSON (made with OLD_DIR): what the new prices do to its cost")] = None,
                 profile: ProfileOpt = None, solver: SolverOpt = "highs",
                 format: Annotated[TextFormat, typer.Option("--format", "-f", help="output format")] =
                 TextFormat.table, out: OutFileOpt = None) -> None:
    """Per catalog row: prices added, removed, changed (with percent); with --plan, the plan's cost change split
    into price and topology (the same workload planned again with NEW_DIR's prices)."""
    from planner.diff_render import diff_markdown, diff_rich
    from planner.pricing_diff import plan_change, row_changes
    from planner.report import to_json

    check_solver(solver)
    rows = row_changes(old_dir, new_dir)
    plan_diff = plan_change(plan, old_dir, new_dir, profile, solver) if plan is not None else None
    if format is TextFormat.json:
        text = to_json({"row_changes": rows, "plan": plan_diff})
    else:
        lines = [f"{len(rows)} catalog row(s) with price changes between {old_dir} and {new_dir}"]
        lines += [f"{'- ' if format is TextFormat.markdown else '  '}{r['catalog']}: {r['text']}" for r in rows]
        if plan_diff is not None and not plan_diff["plan_made_with_old_dir"]:
            lines.append(f"note: {plan} was not made with {old_dir}'s catalogs (their checksums differ): the price "
                         "part also counts those differences")
        text = "\n".join(lines) + "\n"
        if plan_diff is not None:
            text += "\n" + (diff_markdown(plan_diff) if format is TextFormat.markdown else
                            render_rich(diff_rich(plan_diff)))
    write_output(text, out)
