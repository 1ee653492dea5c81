"""The one place that solves: PuLP model -> HiGHS (default) or CBC, with honest status mapping."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path

import pulp

from planner.errors import PlannerError
from planner.model import SOLVERS, SolverInfo



def _make_solver(name: str, time_limit_s: float, gap_rel: float):
    if name == "highs":
        # presolve off: on these models HiGHS's presolve (probing) takes most of the run time and the
        # branch and bound needs few nodes without it (measured: hybrid 2-7x, public 5-8x faster)
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, presolve="off")
    if name == "cbc":
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=gap_rel)
    raise ValueError(f"unknown solver {name!r}, expected one of {', '.join(SOLVERS)}")


def available_solver(preferred: str = "highs") -> str:
    """HiGHS through highspy when importable, else PuLP's bundled CBC."""
    if preferred == "highs":
        try:
            if pulp.HiGHS(msg=False).available():
                return "highs"
        except Exception:  # noqa: BLE001 - a broken highspy install falls back to CBC
            pass
        return "cbc"
    return preferred


@contextlib.contextmanager
def _quiet_native_stdout():
    """HiGHS prints a banner from C++ straight to fd 1 even with msg=False; keep stdout clean for --format json."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            try:
                yield
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def _gap(prob: pulp.LpProblem, name: str, objective: float | None) -> float | None:
    """Relative gap |incumbent - best bound| / |incumbent| when the solver exposes a bound."""
    if objective is None:
        return None
    solver_model = getattr(prob, "solverModel", None)
    if name == "highs" and solver_model is not None:
        try:
            info = solver_model.getInfo()
            if info.mip_node_count < 0:  # solved as an LP (no integer columns): no MIP gap
                return 0.0
            gap = abs(float(info.mip_gap))
            # no finite bound yet: the gap is unknown, and must not read as 0 % (that claims optimality)
            return gap if math.isfinite(gap) and gap < 1e20 else None
        except Exception:  # noqa: BLE001 - older highspy builds lack getInfo fields
            return None
    return None


def solve(prob: pulp.LpProblem, solver_name: str, time_limit_s: float, gap_rel: float) -> SolverInfo:
    """Solve and say honestly what came out: proven optimal (within gap_rel), feasible with a gap, or not."""
    name = available_solver(solver_name)
    started = time.perf_counter()
    try:
        with _quiet_native_stdout():
            prob.solve(_make_solver(name, time_limit_s, gap_rel))
    except pulp.PulpSolverError as exc:
        return SolverInfo(name, "error", None, time.perf_counter() - started, None, str(exc))
    seconds = time.perf_counter() - started
    status = pulp.LpStatus[prob.status]
    # sol_status: 1 optimal, 2 integer feasible (not proven: time limit), 0/-1/-2/-3 none/infeasible/unbounded
    sol_status = prob.sol_status
    if status == "Infeasible" or sol_status == pulp.LpSolutionInfeasible:
        if name == "cbc" and seconds >= time_limit_s:
            # CBC cut short in pre-processing by its time limit says "infeasible" without having proved it
            return SolverInfo(name, "not_solved", None, seconds, None,
                              f"time limit {time_limit_s:g} s reached before the solver found a solution or "
                              "proved there is none; raise solver.time_limit_s")
        return SolverInfo(name, "infeasible", None, seconds, None, "no topology satisfies every constraint")
    if sol_status == pulp.LpSolutionOptimal:
        objective = pulp.value(prob.objective)
        gap = _gap(prob, name, objective)
        return SolverInfo(name, "optimal", gap if gap is not None else 0.0, seconds, objective,
                          f"proven optimal within the relative gap {gap_rel:g}")
    if sol_status == pulp.LpSolutionIntegerFeasible:
        objective = pulp.value(prob.objective)
        return SolverInfo(name, "feasible", _gap(prob, name, objective), seconds, objective,
                          f"time limit {time_limit_s:g} s reached: best solution found, optimality not proven")
    return SolverInfo(name, "not_solved", None, seconds, None,
                      f"solver stopped without a solution ({status}); raise solver.time_limit_s")


def lp_bound(prob: pulp.LpProblem, solver_name: str, time_limit_s: float) -> float | None:
    """A lower bound on the MILP's optimum: its LP relaxation (integrality dropped, bounds kept). None when the
    relaxation has no proven optimum (infeasible, unbounded, cut short): then nothing may be skipped on it."""
    integer = [v for v in prob.variables() if v.cat != pulp.LpContinuous]
    try:
        for v in integer:
            v.cat = pulp.LpContinuous
        with _quiet_native_stdout():
            prob.solve(_make_solver(available_solver(solver_name), time_limit_s, 0.0))
        optimal = prob.sol_status == pulp.LpSolutionOptimal
        return float(pulp.value(prob.objective)) if optimal else None
    except pulp.PulpSolverError:
        return None
    finally:
        for v in integer:
            v.cat = pulp.LpInteger


def export_mps(prob: pulp.LpProblem, directory: Path, strategy: str) -> Path:
    path = directory / f"{strategy}.mps"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        prob.writeMPS(str(path))
    except OSError as exc:
        raise PlannerError(f"{directory}: cannot write the model {path.name} (--export-model expects a directory): "
                           f"{exc.strerror or exc}") from None
    return path
