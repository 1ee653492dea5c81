"""Compare two plan JSONs (the report.py contract): per strategy, per breakdown category, per node and per line item,
with every strategy's cost change split into a price, a load and a topology part that sum to the total change.

Attribution (docs/ci-gates.md has the worked rules). For one strategy, take the cost lines of the old and the new
plan keyed by (category, item), each with a quantity q and a monthly cost c (unit price p = c / q):

* price     = sum over lines in both plans of  q_old * (p_new - p_old),  counted only when the line's catalog
              (its `catalog` field, or any catalog when the line names none) has a different sha256 in the two plans:
              the old topology's quantities re-priced at the new plan's unit prices;
* load      = sum over lines in both plans of  (c_new - c_old) - price_line,  when the workload's derived demand
              differs (more users, messages, media...); the new quantities at the new prices minus the re-priced old;
* topology  = everything else: lines that appear or disappear (a different instance type, purchase option, region,
              tier grouping, pooling) at their own cost, plus quantity changes when the load did not change
              (the optimizer chose differently, e.g. because prices moved).

price + load + topology == new total - old total by construction; the cents lost by rounding each line to 2
decimals in the JSON are assigned to the largest of the three parts so the printed parts add up exactly.
Pure functions over dicts; nothing here prints (planner.diff_render turns the result into text).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from planner.errors import PlannerError
from planner.inputs import MAX_FIGURE, read_input
from planner.model import CATEGORIES

DIFF_SCHEMA_VERSION = "1.0"
SUPPORTED_PLAN_MAJORS = ("1", "2")  # 2.0 added unit prices to lines; both read alike
NODE_KEY = ("tier", "provider", "region", "type", "purchase")


class PlanFileError(PlannerError):
    """A plan JSON given to diff/check is missing, not JSON or not an implan plan (exit 2)."""


# ---------- loading and validating a plan JSON ----------

def _require(cond: bool, origin: str, what: str) -> None:
    if not cond:
        raise PlanFileError(f"{origin}: not an implan plan JSON: {what}")


def _is_num(x: Any) -> bool:
    """A number a plan can hold: finite and within MAX_FIGURE, so differences and sums stay finite too."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and abs(x) <= MAX_FIGURE


def _unique(names: list, origin: str, what: str) -> None:
    """A name twice (a hand-edited baseline) would make diff compare against whichever copy came last."""
    repeated = sorted({str(n) for n in names if names.count(n) > 1})
    _require(not repeated, origin, f"{what} {', '.join(repeated)} listed more than once")


def validate_plan(data: Any, origin: str) -> dict:
    """Check the parts of the contract that diff/check read; one clear line naming the file on the first problem."""
    _require(isinstance(data, dict), origin, f"expected a JSON object at the top, found {type(data).__name__}")
    _require("schema_version" in data, origin, "missing 'schema_version' (write it with `implan plan --format json`)")
    version = str(data["schema_version"])
    if version.split(".")[0] not in SUPPORTED_PLAN_MAJORS:
        raise PlanFileError(f"{origin}: schema_version {version} is not supported (expected "
                            f"{' or '.join(m + '.x' for m in SUPPORTED_PLAN_MAJORS)})")
    for key, kind in (("workload", dict), ("catalogs", list), ("strategies", list), ("saas", list)):
        _require(isinstance(data.get(key), kind), origin, f"'{key}' must be a JSON {kind.__name__.replace('dict', 'object').replace('list', 'array')}")
    w = data["workload"]
    _require(isinstance(w.get("name"), str), origin, "'workload.name' must be a string")
    _require(_is_num(w.get("mau")) and w["mau"] > 0, origin, "'workload.mau' must be a positive number")
    _require(isinstance(w.get("derived"), dict), origin, "'workload.derived' must be an object")
    for i, c in enumerate(data["catalogs"]):
        _require(isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("sha256"), str),
                 origin, f"'catalogs[{i}]' needs a 'name' and a 'sha256' string")
    for i, s in enumerate(data["strategies"]):
        where = f"'strategies[{i}]'"
        _require(isinstance(s, dict) and isinstance(s.get("name"), str), origin, f"{where} needs a 'name' string")
        cost = s.get("monthly_cost_usd")
        _require(cost is None or _is_num(cost), origin, f"{where}.monthly_cost_usd must be a number or null")
        breakdown = s.get("breakdown", {})
        _require(isinstance(breakdown, dict), origin, f"{where}.breakdown must be an object")
        for category, value in breakdown.items():
            _require(_is_num(value), origin, f"{where}.breakdown.{category} must be a number (USD a month)")
        for key in ("lines", "nodes"):
            _require(isinstance(s.get(key, []), list), origin, f"{where}.{key} must be an array")
        for j, line in enumerate(s.get("lines", [])):
            _require(isinstance(line, dict) and isinstance(line.get("category"), str)
                     and isinstance(line.get("item"), str) and _is_num(line.get("quantity"))
                     and _is_num(line.get("monthly_cost_usd")), origin,
                     f"{where}.lines[{j}] needs category, item, quantity and monthly_cost_usd")
            for key in ("catalog", "unit"):
                _require(line.get(key) is None or isinstance(line[key], str), origin,
                         f"{where}.lines[{j}].{key} must be a string or null")
        for j, node in enumerate(s.get("nodes", [])):
            _require(isinstance(node, dict) and all(isinstance(node.get(k), str) for k in NODE_KEY)
                     and _is_num(node.get("count")) and _is_num(node.get("monthly_cost_usd")), origin,
                     f"{where}.nodes[{j}] needs {', '.join(NODE_KEY)}, count and monthly_cost_usd")
    for i, q in enumerate(data["saas"]):
        _require(isinstance(q, dict) and isinstance(q.get("provider"), str) and isinstance(q.get("plan"), str)
                 and (q.get("monthly_cost_usd") is None or _is_num(q.get("monthly_cost_usd"))), origin,
                 f"'saas[{i}]' needs provider, plan and monthly_cost_usd (number or null)")
    _unique([s["name"] for s in data["strategies"]], origin, "strategy")
    _unique([f"{q['provider']}/{q['plan']}" for q in data["saas"]], origin, "SaaS offer")
    _unique([c["name"] for c in data["catalogs"]], origin, "catalog")
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number (a plan JSON holds finite numbers only)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        _no_constant(text)
    return value


def load_plan_json(path: Path) -> dict:
    origin = str(path)
    if not path.exists():
        raise PlanFileError(f"{origin}: no such file")
    raw = read_input(path, "plan JSON file", PlanFileError)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{origin}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise PlanFileError(f"{origin}: empty file, expected a plan JSON (`implan plan --format json --out FILE`)")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{origin}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:  # NaN / Infinity, or an integer of more than 4,300 digits
        raise PlanFileError(f"{origin}: not an implan plan JSON: {exc}") from None
    except RecursionError:
        raise PlanFileError(f"{origin}: not an implan plan JSON: nested too deep") from None
    return validate_plan(data, origin)


# ---------- diff ----------

def _r(x: float | None, digits: int = 2) -> float | None:
    if x is None:
        return None
    v = round(x, digits)
    return 0.0 if v == 0 else v  # no "-0.0" in the output


def _pct(old: float | None, new: float | None) -> float | None:
    if old is None or new is None or old == 0:
        return None
    return _r((new - old) / old * 100, 2)


def _catalog_map(plan: dict) -> dict[str, dict]:
    return {c["name"]: c for c in plan["catalogs"]}


def catalog_changes(old: dict, new: dict) -> list[dict]:
    a, b = _catalog_map(old), _catalog_map(new)
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name), b.get(name)
        if x and y and x["sha256"] == y["sha256"]:
            continue
        out.append({"name": name, "change": "added" if x is None else "removed" if y is None else "changed",
                    "old_sha256": x and x["sha256"], "new_sha256": y and y["sha256"],
                    "old_as_of": x and x.get("as_of"), "new_as_of": y and y.get("as_of")})
    return out


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def workload_changes(old: dict, new: dict) -> list[dict]:
    a, b = _flatten(old["workload"].get("resolved") or {}), _flatten(new["workload"].get("resolved") or {})
    return [{"path": k, "old": a.get(k), "new": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def demand_changes(old: dict, new: dict) -> list[dict]:
    a, b = old["workload"]["derived"], new["workload"]["derived"]
    rows = [{"field": "mau", "old": old["workload"]["mau"], "new": new["workload"]["mau"]}]
    rows += [{"field": k, "old": a.get(k), "new": b.get(k)} for k in list(a) + [k for k in b if k not in a]]
    out = []
    for r in rows:
        if r["old"] != r["new"]:
            both = _is_num(r["old"]) and _is_num(r["new"])
            out.append({**r, "change_pct": _pct(r["old"], r["new"]) if both else None})
    return out


def _lines(strategy: dict | None) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for line in (strategy or {}).get("lines", []):
        key = (line["category"], line["item"])
        agg = out.setdefault(key, {"quantity": 0.0, "cost": 0.0, "unit": line.get("unit", ""),
                                   "catalog": line.get("catalog")})
        agg["quantity"] += line["quantity"]
        agg["cost"] += line["monthly_cost_usd"]
    return out


def _nodes(strategy: dict | None) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for node in (strategy or {}).get("nodes", []):
        key = tuple(node[k] for k in NODE_KEY)
        agg = out.setdefault(key, {"count": 0, "cost": 0.0})
        agg["count"] += node["count"]
        agg["cost"] += node["monthly_cost_usd"]
    return out


def _assign_rounding(parts: dict[str, float], total: float) -> dict[str, float]:
    rounded = {k: round(v, 2) for k, v in parts.items()}
    residual = round(total - sum(rounded.values()), 2)
    if residual:
        biggest = max(rounded, key=lambda k: (abs(parts[k]), k))
        rounded[biggest] = round(rounded[biggest] + residual, 2)
    return {k: _r(v) for k, v in rounded.items()}


def diff_strategy(name: str, old_s: dict | None, new_s: dict | None, changed_catalogs: set[str],
                  any_catalog_changed: bool, load_changed: bool) -> dict:
    old_cost = None if old_s is None else old_s.get("monthly_cost_usd")
    new_cost = None if new_s is None else new_s.get("monthly_cost_usd")
    out: dict[str, Any] = {
        "name": name,
        "old_status": None if old_s is None else old_s.get("status"),
        "new_status": None if new_s is None else new_s.get("status"),
        "old_usd": old_cost, "new_usd": new_cost,
        "delta_usd": None if old_cost is None or new_cost is None else _r(new_cost - old_cost),
        "delta_pct": _pct(old_cost, new_cost),
        "attribution": None, "breakdown": [], "nodes": [], "lines": [], "note": "",
    }
    if old_s is None or new_s is None:
        out["note"] = f"only in the {'new' if old_s is None else 'old'} plan"
    elif old_cost is None or new_cost is None:
        which = " and ".join(w for w, c in (("old", old_cost), ("new", new_cost)) if c is None)
        out["note"] = f"no feasible plan in the {which} plan"
    old_b, new_b = (old_s or {}).get("breakdown") or {}, (new_s or {}).get("breakdown") or {}
    for cat in list(CATEGORIES) + sorted((set(old_b) | set(new_b)) - set(CATEGORIES)):
        a, b = old_b.get(cat, 0.0), new_b.get(cat, 0.0)
        if a or b:
            out["breakdown"].append({"category": cat, "old_usd": _r(a), "new_usd": _r(b), "delta_usd": _r(b - a)})
    old_n, new_n = _nodes(old_s), _nodes(new_s)
    for key in sorted(set(old_n) | set(new_n)):
        a, b = old_n.get(key), new_n.get(key)
        change = "added" if a is None else "removed" if b is None else (
            "unchanged" if a["count"] == b["count"] and round(a["cost"], 2) == round(b["cost"], 2) else "changed")
        out["nodes"].append({**dict(zip(NODE_KEY, key)), "old_count": a and a["count"], "new_count": b and b["count"],
                             "old_usd": a and _r(a["cost"]), "new_usd": b and _r(b["cost"]),
                             "delta_usd": _r((b["cost"] if b else 0.0) - (a["cost"] if a else 0.0)),
                             "change": change})
    old_l, new_l = _lines(old_s), _lines(new_s)
    parts = {"price": 0.0, "load": 0.0, "topology": 0.0}
    for key in sorted(set(old_l) | set(new_l)):
        a, b = old_l.get(key), new_l.get(key)
        row = {"category": key[0], "item": key[1], "unit": (b or a)["unit"],
               "old_quantity": a and _r(a["quantity"], 4), "new_quantity": b and _r(b["quantity"], 4),
               "old_usd": a and _r(a["cost"]), "new_usd": b and _r(b["cost"]),
               "delta_usd": _r((b["cost"] if b else 0.0) - (a["cost"] if a else 0.0))}
        price = load = topo = 0.0
        if a is None:
            topo = b["cost"]
        elif b is None:
            topo = -a["cost"]
        else:
            catalog = b["catalog"] or a["catalog"]
            repriced = catalog in changed_catalogs if catalog else any_catalog_changed
            if repriced and a["quantity"] > 0 and b["quantity"] > 0:
                price = a["quantity"] * (b["cost"] / b["quantity"] - a["cost"] / a["quantity"])
            rest = b["cost"] - a["cost"] - price
            if load_changed:
                load = rest
            else:
                topo = rest
        parts["price"] += price
        parts["load"] += load
        parts["topology"] += topo
        row.update(price_usd=_r(price), load_usd=_r(load), topology_usd=_r(topo))
        if row["delta_usd"] or a is None or b is None:
            out["lines"].append(row)
    if out["delta_usd"] is not None:
        out["attribution"] = _assign_rounding(parts, out["delta_usd"])
    return out


def diff_plans(old: dict, new: dict) -> dict:
    cat_changes = catalog_changes(old, new)
    changed = {c["name"] for c in cat_changes}
    demand = demand_changes(old, new)
    load_changed = bool(demand)
    old_s = {s["name"]: s for s in old["strategies"]}
    new_s = {s["name"]: s for s in new["strategies"]}
    names = [s["name"] for s in old["strategies"]] + [n for n in new_s if n not in old_s]
    strategies = [diff_strategy(n, old_s.get(n), new_s.get(n), changed, bool(changed), load_changed) for n in names]
    old_q = {f"{q['provider']}/{q['plan']}": q.get("monthly_cost_usd") for q in old["saas"]}
    new_q = {f"{q['provider']}/{q['plan']}": q.get("monthly_cost_usd") for q in new["saas"]}
    saas = []
    for name in list(old_q) + [n for n in new_q if n not in old_q]:
        a, b = old_q.get(name), new_q.get(name)
        saas.append({"name": name, "old_usd": a, "new_usd": b,
                     "delta_usd": None if a is None or b is None else _r(b - a), "delta_pct": _pct(a, b)})
    return {
        "diff_schema_version": DIFF_SCHEMA_VERSION,
        "old": {"workload": old["workload"]["name"], "mau": old["workload"]["mau"],
                "catalogs": {c["name"]: c["sha256"] for c in old["catalogs"]}},
        "new": {"workload": new["workload"]["name"], "mau": new["workload"]["mau"],
                "catalogs": {c["name"]: c["sha256"] for c in new["catalogs"]}},
        "catalog_changes": cat_changes,
        "prices_changed": bool(cat_changes),
        "load_changed": load_changed,
        "demand_changes": demand,
        "workload_changes": workload_changes(old, new),
        "strategies": strategies,
        "saas": saas,
    }
