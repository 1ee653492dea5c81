"""Text for a diff (planner.diff's result): markdown sections (shared with `implan check`) and rich tables."""

from __future__ import annotations

from planner.formats import arrow, delta_text, figure, short_sha, signed_pct, signed_usd, usd


def catalog_change_text(c: dict) -> str:
    if c["change"] == "added":
        return f"{c['name']}: added (sha256 {short_sha(c['new_sha256'])}, as of {c['new_as_of']})"
    if c["change"] == "removed":
        return f"{c['name']}: removed (was sha256 {short_sha(c['old_sha256'])})"
    return (f"{c['name']}: sha256 {short_sha(c['old_sha256'])} → {short_sha(c['new_sha256'])} "
            f"(as of {c['old_as_of']} → {c['new_as_of']})")


def attribution_cells(s: dict) -> list[str]:
    a = s["attribution"]
    if a is None:
        return ["n/a"] * 3
    return [signed_usd(a["price"]), signed_usd(a["load"]), signed_usd(a["topology"])]


def _esc(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown_sections(d: dict, heading: str = "###", collapsible: bool = True) -> list[str]:
    """The diff as markdown: strategy table, then per strategy collapsible line-item, category and node tables."""
    out = ["| strategy | baseline | new | change | price | load | topology |", "|---|---:|---:|---|---:|---:|---:|"]
    for s in d["strategies"]:
        change = delta_text(s["delta_usd"], s["delta_pct"]) if s["delta_usd"] is not None else (s["note"] or "n/a")
        out.append(f"| {s['name']} | {usd(s['old_usd'])} | {usd(s['new_usd'])} | {change} | "
                   + " | ".join(attribution_cells(s)) + " |")
    out.append("")
    if d["catalog_changes"]:
        out += ["**Prices changed** — the baseline was made with different catalogs; the price column is the "
                "baseline topology re-priced at the new prices:", ""]
        out += [f"- {catalog_change_text(c)}" for c in d["catalog_changes"]]
        out.append("")
    if d["demand_changes"]:
        out += ["<details><summary>Load changes (derived demand)</summary>" if collapsible else
                f"{heading} Load changes (derived demand)", "",
                "| quantity | baseline | new | change |", "|---|---:|---:|---:|"]
        out += [f"| {r['field']} | {figure(r['old'])} | {figure(r['new'])} | {signed_pct(r['change_pct'])} |"
                for r in d["demand_changes"]]
        out += ["", "</details>", ""] if collapsible else [""]
    other = [w for w in d["workload_changes"] if not w["path"].startswith("users.mau")]
    if other:
        out += ["<details><summary>Workload settings changed</summary>" if collapsible else
                f"{heading} Workload settings changed", "", "| field | baseline | new |", "|---|---|---|"]
        out += [f"| {_esc(w['path'])} | {_esc(figure(w['old']))} | {_esc(figure(w['new']))} |" for w in other]
        out += ["", "</details>", ""] if collapsible else [""]
    for s in d["strategies"]:
        if not (s["breakdown"] or s["nodes"] or s["lines"]):
            continue
        title = f"{s['name']}: line items, categories and nodes"
        out += [f"<details><summary>{title}</summary>" if collapsible else f"{heading} {title}", ""]
        if s["breakdown"]:
            out += ["| category | baseline | new | change |", "|---|---:|---:|---|"]
            out += [f"| {b['category']} | {usd(b['old_usd'])} | {usd(b['new_usd'])} | "
                    f"{arrow(b['delta_usd'])} {signed_usd(b['delta_usd'])} |" for b in s["breakdown"]]
            out.append("")
        if s["lines"]:
            out += ["| line item | quantity (baseline → new) | baseline | new | change | price | load | topology |",
                    "|---|---|---:|---:|---|---:|---:|---:|"]
            for x in s["lines"]:
                qty = f"{figure(x['old_quantity'])} → {figure(x['new_quantity'])} {x['unit']}"
                out.append(f"| {x['category']}: {_esc(x['item'])} | {_esc(qty)} | {usd(x['old_usd'])} | "
                           f"{usd(x['new_usd'])} | {arrow(x['delta_usd'])} {signed_usd(x['delta_usd'])} | "
                           f"{signed_usd(x['price_usd'])} | {signed_usd(x['load_usd'])} | "
                           f"{signed_usd(x['topology_usd'])} |")
            out.append("")
        if s["nodes"]:
            out += ["| tier | location | type | purchase | count (baseline → new) | change |",
                    "|---|---|---|---|---|---|"]
            for n in s["nodes"]:
                count = f"{figure(n['old_count'])} → {figure(n['new_count'])}"
                out.append(f"| {n['tier']} | {n['provider']} {n['region']} | {n['type']} | {n['purchase']} | "
                           f"{count} | {n['change']}: {arrow(n['delta_usd'])} {signed_usd(n['delta_usd'])} |")
            out.append("")
        out += ["</details>", ""] if collapsible else []
    priced = [q for q in d["saas"] if q["old_usd"] is not None or q["new_usd"] is not None]
    if priced:
        out += ["<details><summary>Chat SaaS offers for the same workload</summary>" if collapsible else
                f"{heading} Chat SaaS offers", "", "| SaaS offer | baseline | new | change |", "|---|---:|---:|---|"]
        out += [f"| {q['name']} | {usd(q['old_usd'])} | {usd(q['new_usd'])} | "
                f"{delta_text(q['delta_usd'], q['delta_pct'])} |" for q in priced]
        out += ["", "</details>", ""] if collapsible else [""]
    return out


def diff_markdown(d: dict) -> str:
    head = (f"## implan diff: {d['old']['workload']} ({d['old']['mau']:,} MAU) → {d['new']['workload']} "
            f"({d['new']['mau']:,} MAU)")
    return "\n".join([head, ""] + markdown_sections(d)).rstrip("\n") + "\n"


def diff_rich(d: dict):
    """Rich renderables for the terminal (built here, printed by the CLI)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts = []
    t = Table(title=f"implan diff: {d['old']['workload']} ({d['old']['mau']:,} MAU) → "
                    f"{d['new']['workload']} ({d['new']['mau']:,} MAU)", expand=False)
    for col in ("strategy", "baseline", "new", "change", "price", "load", "topology"):
        t.add_column(col, justify="left" if col in ("strategy", "change") else "right")
    for s in d["strategies"]:
        change = delta_text(s["delta_usd"], s["delta_pct"]) if s["delta_usd"] is not None else (s["note"] or "n/a")
        t.add_row(s["name"], usd(s["old_usd"]), usd(s["new_usd"]), change, *attribution_cells(s))
    parts.append(t)
    for c in d["catalog_changes"]:
        parts.append(Text(f"prices changed: {catalog_change_text(c)}", style="yellow"))
    if d["demand_changes"]:
        lt = Table(title="load changes (derived demand)", expand=False)
        for col in ("quantity", "baseline", "new", "change"):
            lt.add_column(col, justify="left" if col == "quantity" else "right")
        for r in d["demand_changes"]:
            lt.add_row(r["field"], figure(r["old"]), figure(r["new"]), signed_pct(r["change_pct"]))
        parts.append(lt)
    for s in d["strategies"]:
        if not s["lines"] and not s["nodes"]:
            continue
        if s["lines"]:
            it = Table(title=f"{s['name']}: changed line items", expand=False)
            for col in ("line item", "baseline", "new", "change", "price", "load", "topology"):
                it.add_column(col, justify="left" if col in ("line item", "change") else "right")
            for x in s["lines"]:
                it.add_row(f"{x['category']}: {x['item']}", usd(x["old_usd"]), usd(x["new_usd"]),
                           f"{arrow(x['delta_usd'])} {signed_usd(x['delta_usd'])}", signed_usd(x["price_usd"]),
                           signed_usd(x["load_usd"]), signed_usd(x["topology_usd"]))
            parts.append(it)
        changed = [n for n in s["nodes"] if n["change"] != "unchanged"]
        if changed:
            nt = Table(title=f"{s['name']}: changed nodes", expand=False)
            for col in ("tier", "location", "type", "purchase", "count", "change"):
                nt.add_column(col)
            for n in changed:
                nt.add_row(n["tier"], f"{n['provider']} {n['region']}", n["type"], n["purchase"],
                           f"{figure(n['old_count'])} → {figure(n['new_count'])}",
                           f"{n['change']} {signed_usd(n['delta_usd'])}")
            parts.append(nt)
    return Group(*parts)
