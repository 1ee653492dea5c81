"""What a price refresh changes (`implan pricing diff OLD_DIR NEW_DIR [--plan PLAN.json]`): per catalog row the
prices added, removed or changed, and, given a plan, what the new prices do to that plan's cost.

For the plan part the plan's own workload (its `workload.resolved`, every default filled in) is planned again with
the NEW catalogs, for the strategies the plan has, and the two plans go through planner.diff: the workload is the
same, so the cost change splits into `price` (the plan's quantities re-priced at the new unit prices, on lines whose
catalog changed) and `topology` (what the optimizer chose differently because prices moved); `load` is zero. The plan
should have been made with OLD_DIR's catalogs: when its catalog checksums differ, the result says so.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from planner.capacity import load_profile
from planner.catalog.loader import FX_FILE, load_catalog, read_catalog_file
from planner.catalog.rowdiff import diff_sections, rows_by_key
from planner.diff import diff_plans
from planner.errors import WorkloadError
from planner.optimize import plan as run_plan
from planner.plan_json import read_plan
from planner.report import plan_to_dict
from planner.workload import Workload, format_validation_error


def _files(directory: Path) -> dict[str, dict]:
    return {p.stem: read_catalog_file(p) for p in sorted(directory.glob("*.yaml")) if p.name != FX_FILE}


def row_changes(old_dir: Path, new_dir: Path) -> list[dict]:
    """Every price that differs between the two directories, one entry per catalog row (in the row's currency)."""
    for directory in (old_dir, new_dir):
        load_catalog(directory)  # each must be a complete, valid catalog directory (one-line error otherwise)
    old, new = _files(old_dir), _files(new_dir)
    out = []
    for name in list(old) + [n for n in new if n not in old]:
        a, b = old.get(name, {}), new.get(name, {})
        currency = (b or a).get("currency", "USD")
        for change in diff_sections(rows_by_key(a), rows_by_key(b), lambda r: r.get("currency") or currency):
            out.append({"catalog": name, **change.as_dict(), "text": change.text()})
    return out


def _workload(plan: dict, origin: Path) -> Workload:
    try:
        return Workload.model_validate(plan["workload"]["resolved"])
    except (KeyError, TypeError):
        raise WorkloadError(f"{origin}: workload.resolved missing: the plan cannot be planned again (make it "
                            "with `implan plan --format json`)") from None
    except ValidationError as exc:
        raise WorkloadError(format_validation_error(f"{origin} workload.resolved", exc)) from None


def plan_change(plan_path: Path, old_dir: Path, new_dir: Path, profile: Path | None, solver: str) -> dict:
    """The plan at `plan_path` against the same workload planned with NEW_DIR's prices (planner.diff's result)."""
    old_plan = read_plan(plan_path, "--plan")
    strategies = [s["name"] for s in old_plan["strategies"]]
    result = run_plan(_workload(old_plan, plan_path), load_profile(profile), load_catalog(new_dir), strategies, solver)
    diff = diff_plans(old_plan, plan_to_dict(result))
    old_sums = {i.name: i.sha256 for i in load_catalog(old_dir).infos}
    made_with = {c["name"]: c["sha256"] for c in old_plan["catalogs"]}
    diff["plan_made_with_old_dir"] = made_with == old_sums
    return diff
