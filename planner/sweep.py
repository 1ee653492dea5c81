"""`implan sweep`: cost per strategy and of the cheapest priced chat SaaS across log-spaced MAU, and break-even points.

Every point is a real solve: planner.optimize.plan() on the workload with users.mau overridden. A break-even is a
sign change between two neighbouring grid points of

* cost(private) - cost(public), cost(hybrid) - cost(public) and cost(serverless) - cost(public)  (the MAU at which the alternative becomes cheaper);
* cost(public) - cost(cheapest priced SaaS offer)                (the MAU at which public becomes cheaper than SaaS).

Each sign change is then narrowed by bisection in log space with real solves (only the strategies the comparison
needs) until high / low - 1 <= tolerance (or the two MAU are adjacent integers). Costs are step functions of MAU
(integer nodes, racks, FTE steps), so a pair can cross more than once; every crossing seen on the grid is reported,
and bisection keeps the invariant that the two ends of the bracket are on opposite sides, so the reported bracket
always contains a real crossing. Crossings between two grid points that cancel out (cross and cross back) are not
seen: use more --steps.

The grid points are independent solves: they go to the executor (planner.executor: worker processes, or a Dask
cluster), the largest MAU first since it takes longest; the bisection steps depend on each other and run in order
in this process. The results are the same whatever the executor: each point is the same deterministic solve.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from planner.errors import PlannerError
from planner.executor import Executor, LocalExecutor
from planner.formats import usd_cents, usd_whole

if TYPE_CHECKING:
    from planner.workload import Workload

PUBLIC = "public"
ALTERNATIVES = ("private", "hybrid", "serverless")
SAAS = "saas"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmMbB]?)\s*$")
_MULT = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
MAX_MAU = 10_000_000_000


class SweepError(PlannerError):
    """Bad --mau range, --steps or --tolerance (exit 2)."""


def parse_size(text: str, what: str = "--mau") -> int:
    """'10k' -> 10000, '2.5M' -> 2500000, '100M', '1e6', '1_000' -> 1000."""
    m = _SIZE.match(text.replace("_", "").replace(",", ""))
    if not m:
        raise SweepError(f"{what} {text!r}: not a size; write a number with an optional k, M or B suffix "
                         f"(e.g. 10k, 2.5M, 100M)")
    value = float(m.group(1)) * _MULT[m.group(2).lower()]
    if value < 1 or value != value:
        raise SweepError(f"{what} {text!r}: must be at least 1 user")
    if value > MAX_MAU:
        raise SweepError(f"{what} {text!r}: more than {MAX_MAU:,} users is out of range")
    return int(round(value))


def parse_range(text: str) -> tuple[int, int]:
    if ".." not in text:
        raise SweepError(f"--mau {text!r}: expected LOW..HIGH, e.g. 10k..100M")
    lo_text, hi_text = text.split("..", 1)
    lo, hi = parse_size(lo_text, "--mau low end"), parse_size(hi_text, "--mau high end")
    if hi <= lo:
        raise SweepError(f"--mau {text!r}: the high end ({hi:,}) must be above the low end ({lo:,})")
    return lo, hi


def log_grid(lo: int, hi: int, steps: int) -> list[int]:
    if steps < 2:
        raise SweepError(f"--steps {steps}: need at least 2 points (both ends of the range)")
    if steps > 200:
        raise SweepError(f"--steps {steps}: at most 200 points per sweep")
    ratio = math.log(hi / lo)
    points = [int(round(lo * math.exp(ratio * i / (steps - 1)))) for i in range(steps)]
    points[0], points[-1] = lo, hi
    return sorted(set(points))


@dataclass
class Point:
    mau: int
    costs: dict[str, float | None] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    saas_name: str | None = None
    saas_usd: float | None = None
    gaps: dict[str, float | None] = field(default_factory=dict)  # relative MIP gap of each strategy's solve

    def as_dict(self, names: list[str]) -> dict:
        return {"mau": self.mau, "strategies": {n: self.costs.get(n) for n in names},
                "status": {n: self.statuses.get(n) for n in names},
                "cheapest_saas": None if self.saas_name is None else {"name": self.saas_name,
                                                                     "monthly_cost_usd": self.saas_usd}}


def solve_case(workload: Workload, strategies: list[str], profile, catalog, solver: str) -> Point:
    """One solve of a validated workload: the strategies asked for and the cheapest priced SaaS offer (what a sweep
    point, an uncertainty sample and a batch entry each are). The workload is validated by the caller, before any
    solve starts, and travels to wherever this runs, so a worker needs none of the caller's files."""
    from planner.optimize import plan

    p = Point(workload.users.mau)
    result = plan(workload, profile, catalog, strategies, solver)
    for s in result.strategies:
        p.costs[s.name] = None if s.monthly_cost_usd is None else round(s.monthly_cost_usd, 2)
        p.statuses[s.name] = s.status
        p.gaps[s.name] = s.solver.gap
    priced = [(q.monthly_cost_usd, f"{q.provider}/{q.plan}") for q in result.saas if q.monthly_cost_usd is not None]
    if priced:
        cost, name = min(priced)
        p.saas_name, p.saas_usd = name, round(cost, 2)
    return p


def solve_cases(cases: list[tuple[Workload, list[str]]], profile, catalog, solver: str, executor: Executor,
                on_done: Callable[[int], None] | None = None) -> list[Point]:
    """Solve every (workload, strategies) case on `executor`, which ships the profile and catalogs once per worker;
    the results in the order given. Each case is the same deterministic solve wherever it runs, so the results do
    not depend on the executor. `on_done(index)` after each case."""
    return executor.map(solve_case, cases, (profile, catalog, solver), on_done)


class Sweeper:
    """Solves the workload at a given MAU (only the strategies asked for), caching what it has solved; `prefetch`
    hands several points at once to the executor."""

    def __init__(self, workload_path: Path | None, overrides: list[str], profile, catalog, solver: str,
                 on_solve: Callable[[int, list[str]], None] | None = None, executor: Executor = LocalExecutor()):
        self.workload_path, self.overrides = workload_path, list(overrides)
        self.profile, self.catalog, self.solver = profile, catalog, solver
        self.on_solve = on_solve
        self.executor = executor
        self.base = self.at(None)  # validate once, before any solve
        self.cache: dict[int, Point] = {}
        self.solves = 0

    def _store(self, solved: Point, todo: list[str]) -> Point:
        p = self.cache.setdefault(solved.mau, Point(solved.mau))
        p.costs.update(solved.costs)
        p.statuses.update(solved.statuses)
        p.gaps.update(solved.gaps)
        p.saas_name, p.saas_usd = solved.saas_name, solved.saas_usd
        self.solves += len(todo)
        return p

    def at(self, mau: int | None) -> Workload:
        """The workload with the sweep's overrides, at `mau` (None: the workload's own)."""
        from planner.workload import load_workload

        return load_workload(self.workload_path, self.overrides + ([] if mau is None else [f"users.mau={mau}"]))

    def _todo(self, mau: int, strategies: list[str]) -> list[str]:
        p = self.cache.get(mau)
        return [s for s in strategies if p is None or s not in p.costs]

    def point(self, mau: int, strategies: list[str]) -> Point:
        todo = self._todo(mau, strategies)
        if not todo:
            return self.cache[mau]
        if self.on_solve:
            self.on_solve(mau, todo)
        return self._store(solve_case(self.at(mau), todo, self.profile, self.catalog, self.solver), todo)

    def prefetch(self, maus: list[int], strategies: list[str]) -> None:
        """Solve every point of `maus` not solved yet, on the executor when it runs several at once (largest MAU
        first)."""
        work = [(m, self._todo(m, strategies)) for m in sorted(set(maus), reverse=True)]
        work = [(m, todo) for m, todo in work if todo]
        if not self.executor.parallel or len(work) <= 1:
            for m, _ in work:
                self.point(m, strategies)
            return

        def done(i: int) -> None:
            if self.on_solve:
                self.on_solve(*work[i])

        cases = [(self.at(m), todo) for m, todo in work]
        for (m, todo), solved in zip(work, solve_cases(cases, self.profile, self.catalog, self.solver,
                                                       self.executor, done)):
            self._store(solved, todo)


def _value(p: Point, pair: tuple[str, str]) -> float | None:
    """cost(first) - cost(second); < 0 means `first` is cheaper."""
    a = p.saas_usd if pair[0] == SAAS else p.costs.get(pair[0])
    b = p.saas_usd if pair[1] == SAAS else p.costs.get(pair[1])
    return None if a is None or b is None else a - b


def _label(name: str) -> str:
    return "the cheapest priced SaaS" if name == SAAS else name


def _needs(pair: tuple[str, str]) -> list[str]:
    return [n for n in pair if n != SAAS]


def pairs_for(strategies: list[str], saas: bool) -> list[tuple[str, str]]:
    """(challenger, incumbent) pairs: private/hybrid/serverless against public; public against the cheapest SaaS."""
    out = [(alt, PUBLIC) for alt in ALTERNATIVES if alt in strategies and PUBLIC in strategies]
    if saas and PUBLIC in strategies:
        out.append((PUBLIC, SAAS))
    return out


def bisect(sweeper: Sweeper, pair: tuple[str, str], lo: int, hi: int, tolerance: float) -> tuple[Point, Point]:
    need = _needs(pair)
    p_lo, p_hi = sweeper.point(lo, need), sweeper.point(hi, need)
    side_lo = _value(p_lo, pair) < 0
    while hi - lo > 1 and hi / lo - 1 > tolerance:
        mid = int(round(math.sqrt(lo * hi)))
        mid = min(max(mid, lo + 1), hi - 1)
        p_mid = sweeper.point(mid, need)
        v = _value(p_mid, pair)
        if v is None:  # infeasible inside the bracket: stop narrowing, report what is known
            break
        if (v < 0) == side_lo:
            lo, p_lo = mid, p_mid
        else:
            hi, p_hi = mid, p_mid
    return p_lo, p_hi


def crossing_text(b: dict) -> str:
    first, second = _label(b["pair"][0]), _label(b["pair"][1])
    cheaper, other = (first, second) if b["cheaper_above"] == b["pair"][0] else (second, first)
    def at(costs: dict, saas_name: str | None) -> str:
        return ", ".join(f"{saas_name if n == SAAS else n} {usd_cents(costs[n])}" for n in b["pair"])

    return (f"{cheaper} becomes cheaper than {other} at {b['mau']:,} MAU (between {b['mau_low']:,}: "
            f"{at(b['costs_low'], b['saas_low'])} and {b['mau_high']:,}: {at(b['costs_high'], b['saas_high'])})")


def run_sweep(sweeper: Sweeper, lo: int, hi: int, steps: int, strategies: list[str], tolerance: float,
              on_grid_done: Callable[[], None] | None = None) -> dict:
    if not (0 < tolerance < 1):
        raise SweepError(f"--tolerance {tolerance}: expected a relative MAU tolerance between 0 and 1 (e.g. 0.01)")
    grid = log_grid(lo, hi, steps)
    sweeper.prefetch(grid, strategies)
    points = [sweeper.point(m, strategies) for m in grid]
    grid_solves = sweeper.solves
    if on_grid_done:
        on_grid_done()
    saas = sweeper.base.saas.compare and bool(sweeper.catalog.saas)
    crossings = []
    for pair in pairs_for(strategies, saas):
        for a, b in zip(points, points[1:]):
            va, vb = _value(a, pair), _value(b, pair)
            if va is None or vb is None or (va < 0) == (vb < 0):
                continue
            p_lo, p_hi = bisect(sweeper, pair, a.mau, b.mau, tolerance)
            cheaper_above = pair[0] if _value(p_hi, pair) < 0 else pair[1]

            def costs(p: Point) -> dict:
                return {n: (p.saas_usd if n == SAAS else p.costs.get(n)) for n in pair}

            entry = {"pair": list(pair), "cheaper_below": pair[1] if cheaper_above == pair[0] else pair[0],
                     "cheaper_above": cheaper_above, "mau": p_hi.mau, "mau_low": p_lo.mau, "mau_high": p_hi.mau,
                     "grid_low": a.mau, "grid_high": b.mau, "costs_low": costs(p_lo), "costs_high": costs(p_hi),
                     "saas_low": p_lo.saas_name if SAAS in pair else None,
                     "saas_high": p_hi.saas_name if SAAS in pair else None}
            entry["text"] = crossing_text(entry)
            crossings.append(entry)
    return {
        "sweep_schema_version": "1.0",
        "workload": sweeper.base.name,
        "mau_range": [lo, hi], "steps": len(grid), "tolerance": tolerance, "strategies": strategies,
        "points": [p.as_dict(strategies) for p in points],
        "break_even": crossings,
        "solves": {"grid": grid_solves, "bisection": sweeper.solves - grid_solves},
        "catalogs": [{"name": c.name, "sha256": c.sha256} for c in sweeper.catalog.infos],
    }


# ---------- renderings ----------

def sweep_csv(data: dict) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = data["strategies"]
    w.writerow(["kind", "mau", *[f"{n}_usd" for n in names], "cheapest_saas", "cheapest_saas_usd", "note"])
    for p in data["points"]:
        saas = p["cheapest_saas"] or {}
        w.writerow(["point", p["mau"], *["" if p["strategies"][n] is None else p["strategies"][n] for n in names],
                    saas.get("name", ""), saas.get("monthly_cost_usd", ""), ""])
    for b in data["break_even"]:
        w.writerow(["break_even", b["mau"], *["" for _ in names], "", "", b["text"]])
    return buf.getvalue()


def sweep_rich(data: dict):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    names = data["strategies"]
    t = Table(title=f"implan sweep: {data['workload']} ({len(data['points'])} sizes, monthly USD)", expand=False)
    t.add_column("MAU", justify="right")
    for n in names:
        t.add_column(n, justify="right")
    t.add_column("cheapest SaaS", justify="right")
    t.add_column("cheapest", justify="left")
    for p in data["points"]:
        saas = p["cheapest_saas"]
        opts = [(c, n) for n, c in p["strategies"].items() if c is not None]
        if saas:
            opts.append((saas["monthly_cost_usd"], saas["name"]))
        t.add_row(f"{p['mau']:,}", *["infeasible" if p["strategies"][n] is None else usd_whole(p['strategies'][n])
                                      + ("" if p["status"][n] == "optimal" else "*") for n in names],
                  "quote only" if not saas else f"{usd_whole(saas['monthly_cost_usd'])} {saas['name']}",
                  min(opts)[1] if opts else "none")
    parts = [t]
    if any(p["status"][n] not in ("optimal", None) and p["strategies"][n] is not None
           for p in data["points"] for n in names):
        parts.append(Text("* feasible, not proven optimal (stopped at the solver's time limit or gap); "
                          "see --format json for each status", style="dim"))
    parts += [Text("Break-even points (bisection to a relative MAU tolerance of "
                     f"{data['tolerance']:g}):", style="bold")]
    if not data["break_even"]:
        parts.append(Text("  none in this range: the cheapest option does not change between grid points"))
    for b in data["break_even"]:
        parts.append(Text("  " + b["text"]))
    return Group(*parts)
