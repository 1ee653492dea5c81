"""`implan pricing list|show|validate`: inspect and check the price catalogs."""

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

from planner.catalog.loader import load_catalog
from planner.catalog.queries import COMPUTE_COLUMNS, compute_rows, validate
from planner.cli.common import PricingOpt, app, console, handles_errors, write_output
from planner.errors import PlannerError

pricing_app = typer.Typer(help="Inspect and validate the price catalogs.", no_args_is_help=True)
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
    catalog = load_catalog(pricing)
    info = next((i for i in catalog.infos if i.name == name), None)
    if info is None:
        raise PlannerError(f"no catalog named {name!r} (known: {', '.join(i.name for i in catalog.infos)})")
    raw = yaml.safe_load(Path(info.path).read_text(encoding="utf-8"))
    out = console()
    out.print(Text.assemble((info.name, "bold"), f": {info.title} ({info.kind}); oldest price {info.as_of}; "
                            f"sha256 {info.sha256}"), highlight=False)
    for section in ("regions", "compute", "servers", "saas", "transfer", "object_storage"):
        if raw.get(section):
            out.print(f"  {section}: {len(raw[section])} entries", highlight=False)
    for key, src in raw.get("sources", {}).items():
        out.print(f"  source {key}: {src['title']} ({src['as_of']}) {src['url']}", highlight=False, soft_wrap=True)


@pricing_app.command("validate")
@handles_errors
def pricing_validate(pricing: PricingOpt = None,
                     max_age_days: Annotated[int, typer.Option(help="warn about prices older than this")] = 365,
                     strict: Annotated[bool, typer.Option(help="exit 1 when there are warnings")] = False) -> None:
    """Check schema, units, references and staleness of every catalog."""
    catalog = load_catalog(pricing)
    findings = validate(catalog, max_age_days, dt.date.today())
    out = console()
    for f in findings:
        out.print(f"{f.level}: {f.catalog}: {f.message}", highlight=False, markup=False)
    estimated = sum(1 for c in catalog.compute if c.ref.estimated)
    out.print(f"{len(catalog.infos)} catalogs valid ({len(catalog.compute)} compute offerings, {estimated} with "
              f"estimated prices, {len(catalog.private_sites)} private sites, {len(catalog.saas)} SaaS offers); "
              f"{len(findings)} warning(s)", highlight=False)
    if strict and findings:
        raise typer.Exit(1)
