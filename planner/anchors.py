"""Replay a published benchmark run through the demand model and compare with what its servers used.

A capacity coefficient derived from a published run (`run:` in the profile) is only right if the demand
model, fed that run's own workload (connections, message rate, fan-out), asks for about the resources
the run's servers used: two figures of one run must share its servers, not each be charged all of them,
and a whole-stack figure must be split over the tiers. `comparisons` gives the implan / used ratio per
tier and resource, and for the whole stack when the run reports every component.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.capacity import BenchmarkRun, CapacityProfile
from planner.demand import TierLoad, compute_demand, tier_loads
from planner.units import SECONDS_PER_DAY
from planner.workload import Workload

WHOLE_STACK = "whole stack"
RESOURCES = ("vcpu", "memory_gib")


@dataclass(frozen=True)
class Comparison:
    run: str
    scope: str  # an implan tier, or WHOLE_STACK (the sum over the tiers the run reports)
    resource: str  # "vcpu" or "memory_gib"
    implan: float  # what implan needs before headroom
    used: float  # what the run's servers used

    @property
    def ratio(self) -> float:
        return self.implan / self.used


def coefficient_resource(name: str) -> str:
    """The resource a coefficient sizes: `*_per_vcpu` throughputs size vCPU, the others memory."""
    return "vcpu" if name.endswith("_per_vcpu") else "memory_gib"


def run_workload(run: BenchmarkRun) -> Workload:
    """The run's steady load as a workload: one device per user, every user online, a flat day."""
    w = run.workload
    users = max(1, round(w.connections))
    one_to_one = w.deliveries_per_message
    return Workload.model_validate({
        "name": f"benchmark {run.title}",
        "users": {"mau": users, "dau_per_mau": 1.0, "peak_concurrent_per_dau": 1.0, "devices_per_user": 1.0},
        "messaging": {"messages_per_dau_per_day": w.msgs_per_s * SECONDS_PER_DAY / users,
                      "avg_message_bytes": w.avg_message_bytes, "group_share": 0.0,
                      "one_to_one_deliveries_per_message": one_to_one, "media_share": 0.0,
                      "receipts_per_delivery": w.receipts_per_delivery,
                      "typing_events_per_message": w.typing_events_per_message},
        "load_profile": {"shape": "flat"},
        "retention": {"message_days": 1, "media_days": 1, "media_hot_days": 0},
    })


def replay(run: BenchmarkRun, profile: CapacityProfile) -> dict[str, TierLoad]:
    """Per-tier vCPU and GiB implan needs, before headroom, for the run's workload."""
    workload = run_workload(run)
    return tier_loads(compute_demand(workload, profile), profile)


def comparisons(run_id: str, profile: CapacityProfile) -> list[Comparison]:
    """implan vs used for every tier and resource the run reports, plus the whole-stack sums."""
    run = profile.runs[run_id]
    loads = replay(run, profile)
    out = []
    for resource in RESOURCES:
        reported = [(tier, getattr(use, resource)) for tier, use in run.used.items()
                    if getattr(use, resource) is not None]
        for tier, used in reported:
            out.append(Comparison(run_id, tier, resource, max(getattr(loads[tier], resource)), used))
        if run.whole_stack and len(reported) > 1:
            out.append(Comparison(run_id, WHOLE_STACK, resource,
                                  sum(max(getattr(loads[t], resource)) for t, _ in reported),
                                  sum(u for _, u in reported)))
    return out
