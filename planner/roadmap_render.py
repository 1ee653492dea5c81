"""The roadmap JSON (docs/roadmap-json.md) as a terminal table, markdown or CSV. Both text forms render the
same sections (title, headers, rows) built once here; nothing is computed that the JSON does not hold."""

from __future__ import annotations

import csv
import io

from rich.console import Group as RichGroup
from rich.table import Table
from rich.text import Text

from planner.formats import quantity, signed_usd, usd


def _solver(s: dict) -> str:
    sv = s["solver"]
    if sv is None:
        return s["status"]
    gap = "" if sv["gap"] is None else f", gap {sv['gap']:.2%}"
    return f"{sv['status']} ({sv['name']}{gap}, {sv['seconds']:.2f} s)"


def _headline(data: dict, s: dict) -> str:
    if s["npv_usd"] is None:
        return f"{s['name']}: {s['status']}: {s['message']}"
    after = (f" (incl. {signed_usd(s['after_horizon_usd'])} after the horizon: commitments running past it, less "
             "servers' residual value)" if s["after_horizon_usd"] else "")
    text = (f"{s['name']}: NPV {usd(s['npv_usd'])} at {data['discount_rate_percent']:g} %, "
            f"{usd(s['total_usd'])} undiscounted over {data['horizon_months']} months{after}. {s['location']}. "
            f"Solver: {_solver(s)}")
    return text + (f". {s['message']}" if s["message"] else "")


def sections(data: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of every table, in order; a title with no headers is a line of text."""
    maus = data["mau_by_month"]
    out = [(f"roadmap of {data['workload']}: {data['horizon_months']} months by {data['period']}, MAU "
            f"{maus[0]:,} -> {maus[-1]:,}, discount rate {data['discount_rate_percent']:g} % a year", [], [])]
    solved = [s for s in data["strategies"] if s["npv_usd"] is not None]
    if solved:
        out.append(("summary", ["strategy", "NPV", "undiscounted", "move month", "status"],
                    [[s["name"], usd(s["npv_usd"]), usd(s["total_usd"]),
                      "" if s["move_month"] is None else str(s["move_month"]), s["status"]] for s in solved]))
    for s in data["strategies"]:
        out.append((_headline(data, s), [], []))
        if s["npv_usd"] is None:
            continue
        if s["schedule"]:
            out.append((f"{s['name']}: schedule", ["month", "action", "item", "quantity", "cost", "as of"],
                        [[str(e["month"]), e["action"], e["item"], f"{quantity(e['quantity'])} {e['unit']}",
                          usd(e["usd"]), e.get("as_of", "") + (" (est.)" if e.get("estimate") else "")]
                         for e in s["schedule"]]))
        else:
            out.append((f"{s['name']}: nothing to buy, commit or move; every month is paid as used", [], []))
        out.append((f"{s['name']}: per year", ["year", "capex", "opex", "total"],
                    [[str(y["year"]), usd(y["capex_usd"]), usd(y["opex_usd"]), usd(y["capex_usd"] + y["opex_usd"])]
                     for y in s["years"]]))
    pairs = [b for b in data["break_even"] if b["from_month"] is not None]
    if pairs:
        out.append(("break-even: cumulative cash paid below the other's from this month to the horizon (residual "
                    "value of servers not counted: it comes after the horizon)",
                    ["strategy", "cheaper than", "from month"],
                    [[b["strategy"], b["cheaper_than"], str(b["from_month"])] for b in pairs]))
    return out


def roadmap_tables(data: dict) -> RichGroup:
    parts = []
    for title, headers, rows in sections(data):
        if not headers:
            parts.append(Text("\n" + title, style="bold"))
            continue
        table = Table(title=title, expand=False)
        for h in headers:
            table.add_column(h, justify="right" if h in ("month", "quantity", "cost", "capex", "opex", "total",
                                                         "from month", "year", "NPV", "undiscounted",
                                                         "move month") else "left")
        for row in rows:
            table.add_row(*row)
        parts.append(table)
    return RichGroup(*parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def roadmap_markdown(data: dict) -> str:
    lines = []
    for title, headers, rows in sections(data):
        if not headers:
            lines += [_cell(title), ""]
            continue
        lines += [f"**{_cell(title)}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def roadmap_csv(data: dict) -> str:
    """One row per strategy (kind=strategy) and per schedule entry (kind=action)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["kind", "strategy", "status", "month", "action", "item", "quantity", "unit", "usd",
                     "npv_usd", "total_usd"])
    for s in data["strategies"]:
        writer.writerow(["strategy", s["name"], s["status"], "", "", s["location"], "", "", "", s["npv_usd"],
                         s["total_usd"]])
        for e in s["schedule"]:
            writer.writerow(["action", s["name"], "", e["month"], e["action"], e["item"], e["quantity"], e["unit"],
                             e["usd"], e["present_value_usd"], ""])
    return buf.getvalue()
