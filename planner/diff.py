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
Pure functions over plan dicts that planner.plan_json has checked; nothing here prints (planner.diff_render
turns the result into text).
"""

from __future__ import annotations

from typing import Any

from planner.model import CATEGORIES

DIFF_SCHEMA_VERSION = "1.0"
NODE_KEY = ("tier", "provider", "region", "type", "purchase")


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
            both = r["old"] is not None and r["new"] is not None  # numbers (plan_json checked), or absent
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
