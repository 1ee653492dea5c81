"""Domain errors. The CLI maps each to one clear line and an exit code; nothing else prints."""

from __future__ import annotations


class PlannerError(Exception):
    """Base of every error a user can cause or fix; never shown with a traceback."""

    exit_code = 2


class OutputError(PlannerError):
    """implan computed something it must not print (a non-finite number): a bug, not bad input (exit 3)."""

    exit_code = 3


class WorkloadError(PlannerError):
    """The workload file or a --set override is invalid."""


class CatalogError(PlannerError):
    """A pricing catalog is missing, malformed or inconsistent."""


class ProfileError(PlannerError):
    """A capacity profile file is invalid."""


class RenderError(PlannerError):
    """A bundle or report could not be rendered."""


class InfeasibleError(PlannerError):
    """The inputs are valid but no plan satisfies them (exit 1, as when no strategy is feasible)."""

    exit_code = 1
