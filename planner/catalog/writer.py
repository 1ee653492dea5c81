"""Catalog data -> YAML text in the shipped catalogs' layout: top-level keys in block style, one flow mapping per
row (a price change is a one-line diff in review). YAML comments are not data: a written file has none but its
header, so what a reader must know goes into `note` fields."""

from __future__ import annotations

import yaml

_FLOW = dict(default_flow_style=True, width=10**9, sort_keys=False, allow_unicode=True)


def _flow(value) -> str:
    return yaml.safe_dump(value, **_FLOW).strip().removesuffix("\n...").strip()


def dump_catalog(data: dict, header: str = "") -> str:
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {_flow(k)}: {_flow(v)}" for k, v in value.items()]
        elif isinstance(value, list):
            lines.append(f"{key}:" if value else f"{key}: []")
            lines += [f"  - {_flow(row)}" for row in value]
        else:
            lines.append(f"{key}: {_flow(value)}")
    return "\n".join(lines) + "\n"
