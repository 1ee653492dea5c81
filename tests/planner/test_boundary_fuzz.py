"""Bounded, deterministic fuzz of the input boundary (issue 9): hostile values in every workload field, every
numeric catalog field and every field of a plan JSON given to `diff`. Whatever the value, implan exits 0, 1 or 2,
an error is one line, and no output holds NaN or Infinity. The CLI runs in-process with catch_exceptions=False,
so a traceback fails the test. Examples are derandomized (same cases on every run) and few, to stay quick;
bench/boundary_fuzz.py runs the same properties with many more examples (IMPLAN_FUZZ_EXAMPLES, IMPLAN_FUZZ_SEED)."""

from __future__ import annotations

import copy
import json
import os
import shutil

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from planner_testlib import TINY_DIR
from planner.workload import reference_rows

_SEED = os.environ.get("IMPLAN_FUZZ_SEED")  # set: fresh cases from that seed (the bench); unset: the fixed cases
FUZZ = settings(max_examples=int(os.environ.get("IMPLAN_FUZZ_EXAMPLES", "40")), derandomize=_SEED is None,
                deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
if _SEED is not None:
    FUZZ = lambda test, _settings=FUZZ: seed(int(_SEED))(_settings(test))  # noqa: E731

# YAML texts of hostile values: non-finite, huge, tiny, negative, wrong type, too deep, too long
HOSTILE_YAML = [".inf", "-.inf", ".nan", "1.0e+300", "-1", "0", "5.0e-324", str(2 ** 64), "9" * 5000, "true",
                "'x'", "[]", "{}", "[" * 100 + "]" * 100, "[1, 1]", "{a: 1, a: 2}"]
YAML_VALUES = st.sampled_from(HOSTILE_YAML) | st.integers(-2 ** 70, 2 ** 70).map(str) | st.floats().map(
    lambda x: yaml.safe_dump(x).removesuffix("\n...\n").strip())


def _no_constant(name: str):
    raise AssertionError(f"{name} in the JSON output")


def assert_clean_result(result) -> None:
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        message = result.stderr.strip()
        assert message.startswith("implan: error: ") and "\n" not in message, message
        assert len(message) < 600, message
    if result.exit_code == 0 and result.stdout.lstrip().startswith("{"):
        json.loads(result.stdout, parse_constant=_no_constant)


WORKLOAD_FIELDS = [row[0] for row in reference_rows()]


@FUZZ
@given(field=st.sampled_from(WORKLOAD_FIELDS), value=YAML_VALUES)
def test_any_value_in_any_workload_field(cli, field, value):
    result = cli("plan", "--pricing", TINY_DIR, "-s", "public", "--set", "users.mau=20000",
                 "--set", f"{field}={value}", "-f", "json")
    assert_clean_result(result)


def _numeric_slots(data, path=()):
    """(path, value) of every number in a parsed catalog file."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _numeric_slots(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _numeric_slots(value, path + (index,))
    elif isinstance(data, int | float) and not isinstance(data, bool):
        yield path, data


CATALOG_FILES = {"cloudx": "public", "colox": "private", "chatco": "public"}
CATALOG_SLOTS = [(name, path) for name in CATALOG_FILES
                 for path, _ in _numeric_slots(yaml.safe_load((TINY_DIR / f"{name}.yaml").read_text()))]


@FUZZ
@given(slot=st.sampled_from(CATALOG_SLOTS), value=YAML_VALUES)
def test_any_value_in_any_catalog_number(cli, tmp_path_factory, slot, value):
    name, path = slot
    directory = tmp_path_factory.mktemp("pricing")
    shutil.copytree(TINY_DIR, directory, dirs_exist_ok=True)
    data = yaml.safe_load((TINY_DIR / f"{name}.yaml").read_text())
    node = data
    for key in path[:-1]:
        node = node[key]
    marker = "FUZZED_VALUE_MARKER"
    node[path[-1]] = marker
    (directory / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False).replace(marker, value))
    result = cli("plan", "--pricing", directory, "-s", CATALOG_FILES[name], "--set", "users.mau=20000", "-f", "json")
    assert_clean_result(result)


@pytest.fixture(scope="module")
def plan_files(tmp_path_factory):
    from planner.capacity import load_profile
    from planner.catalog.loader import load_catalog
    from planner.optimize import plan
    from planner.report import plan_to_dict
    from planner.workload import load_workload

    data = plan_to_dict(plan(load_workload(None, ["users.mau=20000"]), load_profile(), load_catalog(TINY_DIR)))
    directory = tmp_path_factory.mktemp("plans")
    (directory / "base.json").write_text(json.dumps(data))
    return data, directory


def _json_slots(data, path=()):
    """Every key path of a plan JSON (containers too: replacing a whole object is a corruption as well)."""
    if path:
        yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _json_slots(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data[:3]):
            yield from _json_slots(value, path + (index,))


JSON_VALUES = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "null", "true", '"x"', "{}", "[]",
                               "-1", "1e300", "9" * 5000, '{"name": "public"}']) | st.integers().map(str)


@FUZZ
@given(data=st.data(), value=JSON_VALUES, baseline_first=st.booleans())
def test_any_value_in_any_plan_field_given_to_diff(cli, plan_files, data, value, baseline_first):
    plan, directory = plan_files
    path = data.draw(st.sampled_from(sorted(_json_slots(plan), key=str)))
    corrupted = copy.deepcopy(plan)
    node = corrupted
    for key in path[:-1]:
        node = node[key]
    marker = "FUZZED_VALUE_MARKER"
    node[path[-1]] = marker
    target = directory / "corrupted.json"
    target.write_text(json.dumps(corrupted).replace(f'"{marker}"', value))
    files = (target, directory / "base.json") if baseline_first else (directory / "base.json", target)
    assert_clean_result(cli("diff", *files, "-f", "json"))
