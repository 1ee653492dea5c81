"""`implan check --baseline roadmap.json`: gate a roadmap's NPV against a baseline roadmap (docs/roadmap-json.md),
so a pull request that raises the horizon's cost in present value fails. Pure functions over the JSON dicts."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from planner.formats import signed_pct, signed_usd, usd
from planner.inputs import read_input
from planner.plan_json import PlanFileError

ROADMAP_CHECK_SCHEMA_VERSION = "1.0"


class _Strategy(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    name: str
    status: str
    npv_usd: float | None


class _Roadmap(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    schema_version: str
    horizon_months: int
    period: str
    discount_rate_percent: float
    strategies: list[_Strategy]


def read_json(path: Path, what: str) -> dict | list | None:
    """A JSON file's content, or None when it is not JSON (the caller's reader then says what is wrong)."""
    try:
        return json.loads(read_input(path, what, PlanFileError).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def is_roadmap(data) -> bool:
    return isinstance(data, dict) and "horizon_months" in data and "strategies" in data


def read_roadmap(path: Path, data: dict) -> dict:
    """A roadmap baseline, checked: the fields the gate reads, with their types; one line naming what is wrong."""
    try:
        model = _Roadmap.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PlanFileError(f"{path}: {where}: {first['msg']} (expected an `implan roadmap --format json` file)"
                            ) from None
    if not model.schema_version.startswith("1."):
        raise PlanFileError(f"{path}: schema_version {model.schema_version}: this implan reads roadmap JSON 1.x")
    names = [s.name for s in model.strategies]
    if len(set(names)) != len(names):
        raise PlanFileError(f"{path}: strategies: a strategy is named twice")
    return data


def default_roadmap_strategy(baseline: dict, origin: str) -> str:
    """The baseline's strategy with the lowest NPV (ties broken by name)."""
    priced = [s for s in baseline["strategies"] if s.get("npv_usd") is not None]
    if not priced:
        raise PlanFileError(f"{origin}: no strategy has a roadmap in the baseline; pass --strategy NAME")
    return min(priced, key=lambda s: (s["npv_usd"], s["name"]))["name"]


def evaluate_roadmap(baseline: dict, current: dict, strategy: str, max_increase_pct: float | None,
                     max_increase_usd: float | None) -> dict:
    """Gate results on the NPV of `strategy` (the caller checks that the baseline has it)."""
    old = next(s for s in baseline["strategies"] if s["name"] == strategy)["npv_usd"]
    row = next((s for s in current["strategies"] if s["name"] == strategy), None)
    new = None if row is None else row["npv_usd"]
    delta = None if old is None or new is None else round(new - old, 2)
    pct = None if delta is None or not old else round(delta / old * 100, 4)
    gates = []
    if new is None:
        gates.append({"gate": "feasible", "passed": False,
                      "detail": f"{strategy}: no roadmap in the new run" + (f": {row['message']}" if row else "")})
    else:
        if max_increase_pct is not None:
            ok = pct is not None and pct <= max_increase_pct
            gates.append({"gate": "max_increase_pct", "passed": ok, "limit": max_increase_pct, "actual": pct,
                          "detail": f"{strategy}: NPV {usd(old)} → {usd(new)} is "
                                    f"{'n/a' if pct is None else signed_pct(pct)}, limit +{max_increase_pct:g}%"})
        if max_increase_usd is not None:
            ok = delta is not None and delta <= max_increase_usd
            gates.append({"gate": "max_increase_usd", "passed": ok, "limit": max_increase_usd, "actual": delta,
                          "detail": f"{strategy}: NPV {usd(old)} → {usd(new)} changes by "
                                    f"{'n/a' if delta is None else signed_usd(delta)}, limit +{usd(max_increase_usd)}"})
    return {"check_schema_version": ROADMAP_CHECK_SCHEMA_VERSION, "kind": "roadmap",
            "passed": all(g["passed"] for g in gates), "strategy": strategy, "workload": current["workload"],
            "horizon_months": current["horizon_months"], "discount_rate_percent": current["discount_rate_percent"],
            "baseline_npv_usd": old, "new_npv_usd": new, "delta_usd": delta, "delta_pct": pct, "gates": gates,
            "failed": [g for g in gates if not g["passed"]]}


def roadmap_check_text(r: dict, markdown: bool) -> str:
    verdict = "passed" if r["passed"] else "FAILED"
    change = "" if r["delta_usd"] is None else f" ({signed_usd(r['delta_usd'])}, " \
        f"{'n/a' if r['delta_pct'] is None else signed_pct(r['delta_pct'])})"
    head = (f"implan roadmap check {verdict}: {r['strategy']} NPV over {r['horizon_months']} months at "
            f"{r['discount_rate_percent']:g} % {usd(r['baseline_npv_usd'])} → {usd(r['new_npv_usd'])}{change}")
    lines = [f"### {'✅' if r['passed'] else '❌'} {head}" if markdown else head, ""]
    lines += [f"- {'pass' if g['passed'] else 'FAIL'} {g['gate']}: {g['detail']}" for g in r["gates"]]
    if not r["gates"]:
        lines.append("No gate was set (use --max-increase or --max-increase-usd).")
    return "\n".join(lines).rstrip("\n") + "\n"
