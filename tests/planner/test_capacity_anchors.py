"""Capacity anchors reproduce their sources: each published run, replayed through the demand model, needs
the resources the run's servers used (within +-25 %), so no figure of one run is charged twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planner.anchors import WHOLE_STACK, coefficient_resource, comparisons, replay, run_workload
from planner.capacity import load_profile
from planner.demand import compute_demand, deliveries_per_message
from planner.errors import ProfileError

TOLERANCE = 0.25
MEASURED = Path(__file__).resolve().parents[2] / "imserver" / "profiles" / "measured-2core.yaml"

# derived coefficients that rest on documentation rather than on a benchmark run (nothing to replay)
NOT_FROM_A_RUN = {("load_balancer", "memory_kib_per_connection"): "HAProxy docs: two 16 KiB buffers"}


def _anchors(profile):
    return [(tier, name, c) for tier, cs in profile.coefficients.items() for name, c in cs.items() if c.run]


def _ids(profile):
    return [f"{tier}.{name}" for tier, name, _ in _anchors(profile)]


def _comparison(profile, run, scope, resource):
    found = [c for c in comparisons(run, profile) if c.scope == scope and c.resource == resource]
    assert len(found) == 1, (run, scope, resource)
    return found[0]


def test_every_published_or_derived_coefficient_names_its_run(profile):
    for tier, coefficients in profile.coefficients.items():
        for name, c in coefficients.items():
            if c.basis in ("published", "derived") and (tier, name) not in NOT_FROM_A_RUN:
                assert c.run in profile.runs, f"{tier}.{name}: basis {c.basis} but no run to replay"
            assert c.unit and c.source and c.as_of, f"{tier}.{name}"
    assert _anchors(profile), "the default profile has published anchors"


@pytest.mark.parametrize("tier, name", [(t, n) for t, n, _ in _anchors(load_profile())], ids=_ids(load_profile()))
def test_anchor_reproduces_its_run(profile, tier, name):
    # the tier the coefficient sizes, fed its run's workload, needs what the run used of that resource
    c = profile.coefficients[tier][name]
    run = profile.runs[c.run]
    resource = coefficient_resource(name)
    assert getattr(run.used[tier], resource) is not None, f"{c.run} does not report {tier} {resource}"
    cmp = _comparison(profile, c.run, tier, resource)
    assert abs(cmp.ratio - 1) <= TOLERANCE, (f"{tier}.{name}: implan needs {cmp.implan:.2f}, {c.run} used "
                                             f"{cmp.used:.2f} {resource}")


@pytest.mark.parametrize("run", list(load_profile().runs))
def test_whole_stack_runs_are_reproduced_by_the_sum_of_the_tiers(profile, run):
    whole = [c for c in comparisons(run, profile) if c.scope == WHOLE_STACK]
    assert bool(whole) == profile.runs[run].whole_stack
    for cmp in whole:
        assert abs(cmp.ratio - 1) <= TOLERANCE, f"{run} {cmp.resource}: {cmp.implan:.2f} vs {cmp.used:.2f}"


def test_every_run_is_an_anchor_of_some_coefficient(profile):
    used_runs = {c.run for _, _, c in _anchors(profile)}
    assert set(profile.runs) == used_runs


def test_run_workload_is_the_published_load(profile):
    # Centrifugo: 1M connections, 500k deliveries/s; OpenIM: 50k online, 1,700 msg/s 1:1
    for run_id, (connections, deliveries_per_s) in {"centrifugo-2020": (1e6, 5e5),
                                                     "openim-2024": (5e4, 1700)}.items():
        workload = run_workload(profile.runs[run_id])
        peak = compute_demand(workload, profile).peak
        assert peak.connections == pytest.approx(connections)
        assert peak.deliveries_per_s == pytest.approx(deliveries_per_s)
        assert peak.receipts_per_s == 0 and peak.typing_deliveries_per_s == 0
        assert deliveries_per_message(workload) == profile.runs[run_id].workload.deliveries_per_message


def test_connections_and_frames_of_one_run_share_its_cpus(profile):
    # Centrifugo's 40 CPUs carried 1M connections AND 500k deliveries/s: each term takes a part of them,
    # and only together do they make the 40 (charging each term the whole 40 CPUs sized it at ~2x)
    p = profile.value
    run = profile.runs["centrifugo-2020"]
    peak = compute_demand(run_workload(run), profile).peak
    connection_vcpu = peak.connections / p("gateway", "connections_per_vcpu")
    frame_vcpu = peak.gateway_frames_per_s / p("gateway", "deliveries_per_s_per_vcpu")
    used = run.used["gateway"].vcpu
    assert 0 < frame_vcpu < connection_vcpu < used
    assert connection_vcpu + frame_vcpu == pytest.approx(max(replay(run, profile)["gateway"].vcpu))
    assert connection_vcpu + frame_vcpu == pytest.approx(used, rel=TOLERANCE)


def test_whole_stack_throughput_is_not_charged_to_the_message_tier_alone(profile):
    # OpenIM's ~1,700 msg/s ran on 9.02 busy cores for every component; the message tier gets its own
    # processes' share, so the stack's tiers together (not the message tier plus the rest) make the 9
    run = profile.runs["openim-2024"]
    loads = replay(run, profile)
    message_vcpu = max(loads["message"].vcpu)
    stack_vcpu = sum(max(loads[t].vcpu) for t in run.used)
    assert message_vcpu < stack_vcpu
    assert message_vcpu == pytest.approx(run.used["message"].vcpu, rel=TOLERANCE)
    assert stack_vcpu == pytest.approx(sum(u.vcpu for u in run.used.values() if u.vcpu), rel=TOLERANCE)


def test_measured_imserver_profile_still_loads_and_overrides(profile):
    measured = load_profile(MEASURED)
    assert measured.names == ("public-anchors", "imserver-measured")
    assert measured.value("message", "msgs_per_s_per_vcpu") != profile.value("message", "msgs_per_s_per_vcpu")
    assert measured.coefficients["message"]["msgs_per_s_per_vcpu"].basis == "measured"
    assert measured.runs == profile.runs  # the default's runs stay available to replay


def _profile_file(tmp_path, tiers, runs=None):
    data = {"schema": "implan-capacity-profile/1", "name": "t", "as_of": "2026-11-01", "source": "test",
            "tiers": tiers}
    if runs is not None:
        data["runs"] = runs
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_coefficient_naming_an_unknown_run_is_one_line_error(tmp_path):
    coefficient = {"value": 1000, "unit": "msgs/s/vCPU", "source": "s", "as_of": "2026-01-01",
                   "basis": "derived", "run": "nosuch"}
    path = _profile_file(tmp_path, {"message": {"msgs_per_s_per_vcpu": coefficient}})
    with pytest.raises(ProfileError, match=r"tiers\.message\.msgs_per_s_per_vcpu: run 'nosuch' is not described"):
        load_profile(path)


def test_a_run_with_an_unknown_tier_is_one_line_error(tmp_path):
    run = {"title": "x", "source": "s", "url": "https://example.org", "as_of": "2026-01-01", "basis": "published",
           "server": "1 box", "workload": {"connections": 10, "msgs_per_s": 1, "deliveries_per_message": 1},
           "used": {"gatewy": {"vcpu": 1}}}
    path = _profile_file(tmp_path, {}, {"r": run})
    with pytest.raises(ProfileError, match=r"runs\.r\.used\.gatewy: unknown tier"):
        load_profile(path)
