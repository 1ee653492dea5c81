"""Hybrid by tier (planner.optimize.split): whole tiers in the cloud, the others on own servers."""

from __future__ import annotations

import pytest

from planner.optimize import plan_strategy
from planner.optimize.context import PlanContext
from planner.optimize.split import PLACEMENTS, build_split, extract_split
from planner.optimize.solver import solve
from planner.terms import solved
from planner.workload import Workload
from test_objective import check_plan


def _ctx(profile, catalog, **sections):
    return PlanContext.build(Workload.model_validate({"saas": {"compare": False}, **sections}), profile, catalog)


def _solve(ctx, placement, pooled=True):
    model = build_split(ctx, pooled, placement)
    info = solve(model.prob, "highs", 60, 1e-4)
    assert info.status == "optimal", info.message
    return model, extract_split(ctx, model, info)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_each_placement_is_priced_by_its_own_terms(tiny_catalog, profile, placement):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000})
    model, plan = _solve(ctx, placement)
    check_plan(plan)  # objective == line sum, quantity x unit price == cost, labour on the plan
    assert plan.placement == placement
    owned = {n.tier for n in plan.nodes if n.purchase == "owned"}
    cloud = {t for n in plan.nodes if n.purchase != "owned" for t in n.tier.split("+")}
    backup = [line for line in plan.lines if line.item.startswith("off-site backup copy")]
    if placement == "media-on-own-servers":
        assert owned == {"object_storage"}
        assert cloud >= {"gateway", "message", "database", "cache"} and "object_storage" not in cloud
        assert [line.item for line in backup] == ["off-site backup copy of the media (offsite bucket)"]
        assert backup[0].quantity == pytest.approx(ctx.demand.media_stored_gb)
        assert not [n for n in plan.nodes if n.tier == "witness"]  # the database votes in the cloud
    else:
        assert "object_storage" not in owned and "database" in {t for n in plan.nodes if n.purchase == "owned"
                                                                for t in n.tier.split("+")}
        assert not cloud - {"witness"}  # no cloud VM but the quorum witness
        assert [line.item for line in backup] == ["off-site backup copy of the database (offsite bucket)"]
        media = [line for line in plan.lines if line.item.startswith("media objects")]
        assert sum(line.quantity for line in media) == pytest.approx(ctx.demand.media_stored_gb, rel=1e-6)
    assert solved(model.prob.objective) == pytest.approx(plan.monthly_cost_usd, rel=1e-9)


def test_hybrid_keeps_the_cheapest_placement_and_reports_every_one(tiny_catalog, profile):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 400000})
    plan = plan_strategy(ctx, "hybrid")
    assert set(plan.alternatives) == {f"{p}, {v}" for p in ("burst", *PLACEMENTS) for v in ("dedicated", "pooled")}
    priced = {k: v for k, v in plan.alternatives.items() if v is not None}
    assert plan.monthly_cost_usd == pytest.approx(min(priced.values()))
    assert plan.placement in ("burst", *PLACEMENTS)


def test_no_media_no_media_placement(tiny_catalog, profile):
    ctx = _ctx(profile, tiny_catalog, users={"mau": 50000}, messaging={"media_share": 0})
    model = build_split(ctx, True, "media-on-own-servers")
    assert not model.sites and "no media to keep on own servers" in model.excluded
    plan = plan_strategy(ctx, "hybrid")
    assert plan.alternatives["media-on-own-servers, pooled"] is None
    assert plan.monthly_cost_usd is not None


def test_bulky_media_is_cheaper_on_own_disks_than_in_cloud_storage(tiny_catalog, profile):
    # large media objects: own disk servers (20,000 USD per 200 TB) beat the tiny cloud's per-GB object storage
    def gap(media_avg_bytes):
        ctx = _ctx(profile, tiny_catalog, users={"mau": 400000},
                   messaging={"media_share": 0.5, "media_avg_bytes": media_avg_bytes})
        alternatives = plan_strategy(ctx, "hybrid").alternatives
        return alternatives["media-in-cloud, pooled"] - alternatives["media-on-own-servers, pooled"]
    assert gap(5_000_000) > 0 and gap(1_000_000) > 0
