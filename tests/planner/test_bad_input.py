"""One test per kind of bad input: exit code 2, one line naming the file, the field path and what is expected,
no traceback. The CLI runs in-process with catch_exceptions=False, so an unhandled exception fails the test."""

from __future__ import annotations

import os
import shutil

import pytest

from planner_testlib import TINY_DIR, read_tiny, write_catalogs

FAST = ["--pricing", str(TINY_DIR), "-s", "public"]


def assert_one_line_error(result, *needles: str, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("implan: error: ")
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def _workload(tmp_path, text: str):
    path = tmp_path / "workload.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- workload file
def test_wrong_type(cli, tmp_path):
    path = _workload(tmp_path, "users:\n  mau: lots\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "users.mau", "valid integer", "got 'lots'",
                          "expected monthly active users")


def test_negative_number(cli, tmp_path):
    path = _workload(tmp_path, "messaging:\n  messages_per_dau_per_day: -3\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "messaging.messages_per_dau_per_day",
                          "greater than or equal to 0", "expected messages sent per daily active user per day")


def test_share_above_one(cli, tmp_path):
    path = _workload(tmp_path, "messaging:\n  group_share: 1.5\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "messaging.group_share", "less than or equal to 1")


@pytest.mark.parametrize("text, path, suggestion", [
    ("users:\n  maus: 5\n", "users.maus", "did you mean 'mau'?"),
    ("userz:\n  mau: 5\n", "userz", "did you mean 'users'?"),
    ("retention:\n  media_day: 5\n", "retention.media_day", "did you mean 'media_days'?"),
])
def test_unknown_key_with_did_you_mean(cli, tmp_path, text, path, suggestion):
    file = _workload(tmp_path, text)
    assert_one_line_error(cli("plan", file, *FAST), str(file), path, "unknown field", suggestion)


def test_missing_workload_file(cli, tmp_path):
    missing = tmp_path / "nope.yaml"
    assert_one_line_error(cli("plan", missing, *FAST), str(missing), "workload file not found")


def test_invalid_yaml(cli, tmp_path):
    path = _workload(tmp_path, "users: [1, 2\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "line 2", "invalid YAML")


def test_workload_not_a_mapping(cli, tmp_path):
    path = _workload(tmp_path, "- users\n- messaging\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "expected a YAML mapping")


def test_bad_hourly_weights(cli, tmp_path):
    path = _workload(tmp_path, "load_profile:\n  hourly_weights: [1, 2, 3]\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "load_profile", "24 non-negative numbers")


def test_workload_show_reports_the_same_error(cli, tmp_path):
    path = _workload(tmp_path, "users:\n  mau: -1\n")
    assert_one_line_error(cli("workload", "show", path), str(path), "users.mau")


# ---------------------------------------------------------------- --set, --strategy, --solver
@pytest.mark.parametrize("override, needles", [
    ("users.mau", ("--set users.mau", "expected path.to.field=value")),
    ("=5", ("--set =5", "empty field path")),
    ("users.mau.x=5", ("--set users.mau.x=5", "not a section")),
    ("users.mau=many", ("(with --set)", "users.mau", "valid integer", "got 'many'")),
    ("users.maux=5", ("(with --set)", "users.maux", "did you mean 'mau'?")),
    ("placement.hybrid_placements=[media-in-clouds]", ("placement", "unknown hybrid placement 'media-in-clouds'",
                                                        "did you mean 'media-in-cloud'?")),
    ("placement.hybrid_placements=[database-in-cloud]", ("placement", "colocate_database_and_message: false")),
])
def test_bad_set(cli, override, needles):
    assert_one_line_error(cli("plan", "--set", override, *FAST), *needles)


def test_unknown_strategy(cli):
    assert_one_line_error(cli("plan", "--pricing", TINY_DIR, "-s", "cheapest"), "--strategy cheapest",
                          "expected one of public, private, hybrid")


def test_unknown_solver(cli):
    assert_one_line_error(cli("compare", *FAST, "--solver", "gurobi"), "--solver gurobi", "expected one of highs, cbc")


# ---------------------------------------------------------------- catalogs (--pricing DIR)
@pytest.fixture
def catalog_copy(tmp_path):
    target = tmp_path / "pricing"
    shutil.copytree(TINY_DIR, target)
    return target


def _edit(path, old: str, new: str):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_catalog_dir_missing(cli, tmp_path):
    missing = tmp_path / "no-such-dir"
    assert_one_line_error(cli("plan", "--pricing", missing), str(missing), "pricing directory not found")


def test_catalog_dir_empty(cli, tmp_path):
    assert_one_line_error(cli("pricing", "list", "--pricing", tmp_path), str(tmp_path), "no catalog files")


def test_catalog_invalid_yaml(cli, catalog_copy):
    (catalog_copy / "cloudx.yaml").write_text("schema: [\n", encoding="utf-8")
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), str(catalog_copy / "cloudx.yaml"),
                          "invalid YAML")


def test_catalog_price_with_unknown_source(cli, catalog_copy):
    _edit(catalog_copy / "cloudx.yaml", "spot_per_hour: 0.03, source: test", "spot_per_hour: 0.03, source: nope")
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), str(catalog_copy / "cloudx.yaml"),
                          "compute[0].source", "unknown source key 'nope'", "known: test")


def test_catalog_missing_required_field(cli, catalog_copy):
    _edit(catalog_copy / "cloudx.yaml", "vcpu: 2, memory_gib: 4,", "memory_gib: 4,")
    assert_one_line_error(cli("pricing", "validate", "--pricing", catalog_copy), str(catalog_copy / "cloudx.yaml"),
                          "compute.0.vcpu", "Field required")


def test_catalog_wrong_type_and_negative_price(cli, catalog_copy):
    path = catalog_copy / "colox.yaml"
    _edit(path, "capex: 12000", "capex: -12000")
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), str(path), "servers.0.capex", "greater than 0")


def test_catalog_region_not_declared(cli, catalog_copy):
    _edit(catalog_copy / "cloudx.yaml", "region: r1, family: s", "region: r9, family: s")
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), "compute[0].region", "'r9' is not declared")


def test_catalog_currency_without_rate(cli, catalog_copy):
    _edit(catalog_copy / "cloudx.yaml", "kind: public", "kind: public\ncurrency: EUR")
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), str(catalog_copy / "cloudx.yaml"),
                          "prices in EUR", "fx.yaml has no USD rate")


# ---------------------------------------------------------------- capacity profile (--profile FILE)
def test_profile_missing(cli, tmp_path):
    assert_one_line_error(cli("plan", *FAST, "--profile", tmp_path / "none.yaml"), "capacity profile not found")


def test_profile_invalid_yaml(cli, tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_text("tiers: [\n", encoding="utf-8")
    assert_one_line_error(cli("plan", *FAST, "--profile", path), str(path), "invalid YAML")


def test_profile_not_utf8(cli, tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_bytes(b"\xff\xfe\x00bad")
    assert_one_line_error(cli("plan", *FAST, "--profile", path), str(path), "cannot read capacity profile")


PROFILE_HEAD = "schema: implan-capacity-profile/1\nname: mine\nas_of: 2026-11-01\nsource: bench\ntiers:\n"


@pytest.mark.parametrize("body, needles", [
    ("  gatewy: {}\n", ("tiers.gatewy", "unknown tier", "expected one of gateway")),
    ("  gateway:\n    connections_per_vcpu: 5\n", ("tiers.gateway.connections_per_vcpu",
                                                    "expected {value, unit, source, as_of, basis}")),
    ("  gateway:\n    target_cpu_utilization: 1.5\n", ("tiers.gateway.target_cpu_utilization",
                                                        "a number in (0, 1]")),
    ("  gateway:\n    conections_per_vcpu: {value: 1, unit: u, source: s, as_of: 2026-01-01, basis: measured}\n",
     ("tiers.gateway.conections_per_vcpu", "unknown coefficient")),
    ("  serverless:\n    history_reads_per_delivery: {value: 1, unit: u, source: s, as_of: 2026-01-01, basis: estimate}\n",
     ("tiers.serverless.history_reads_per_delivery", "moved to database.history_reads_per_delivery")),
])
def test_profile_bad_content(cli, tmp_path, body, needles):
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE_HEAD + body, encoding="utf-8")
    assert_one_line_error(cli("plan", *FAST, "--profile", path), str(path), *needles)


# ---------------------------------------------------------------- --out
def test_out_into_a_missing_directory_fails_cleanly(cli, tmp_path):
    target = tmp_path / "missing" / "plan.json"
    assert_one_line_error(cli("plan", *FAST, "--set", "users.mau=20000", "--format", "json", "--out", target),
                          str(target), "does not exist")
    assert not target.parent.exists()
    assert list(tmp_path.iterdir()) == []  # no partial or temporary file anywhere


def test_workload_init_refuses_to_overwrite(cli, tmp_path):
    path = _workload(tmp_path, "name: mine\n")
    assert_one_line_error(cli("workload", "init", path), str(path), "already exists", "--force")
    assert path.read_text() == "name: mine\n"


def test_out_naming_a_directory_fails_cleanly(cli, tmp_path):
    target = tmp_path / "reports"
    target.mkdir()
    assert_one_line_error(cli("plan", *FAST, "--set", "users.mau=20000", "--format", "json", "--out", target),
                          str(target), "is a directory")
    assert list(target.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_export_model_into_a_file_fails_cleanly(cli, tmp_path):
    target = tmp_path / "models"
    target.write_text("not a directory")
    assert_one_line_error(cli("plan", *FAST, "--set", "users.mau=20000", "--export-model", target),
                          str(target), "--export-model expects a directory")
    assert target.read_text() == "not a directory"


def test_catalog_saas_ladder_with_a_gap_after_its_last_step(cli, catalog_copy):
    # a bounded last step without max_units would price every user beyond it at 0
    path = catalog_copy / "chatco.yaml"
    _edit(path, "{per_unit: 0.01}", "{up_to: 50000, per_unit: 0.01}")
    assert_one_line_error(cli("compare", "--pricing", catalog_copy), str(path), "saas.0",
                          "make it unbounded (no up_to) or set max_units <= 50000")
    _edit(path, "storage_per_gb_month", "max_units: 50000, storage_per_gb_month")
    ok = cli("pricing", "validate", "--pricing", catalog_copy)
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("where", ["same file", "second file"])
def test_catalog_region_declared_twice(cli, catalog_copy, where):
    # the same provider/region twice (in one file, or split over two files) used to crash the model builder
    path = catalog_copy / "cloudx.yaml"
    if where == "same file":
        _edit(path, '  - {id: r1, name: "Region One", jurisdiction: US, failure_domains: 3}',
              '  - {id: r1, name: "Region One", jurisdiction: US, failure_domains: 3}\n'
              '  - {id: r1, name: "Region One again", jurisdiction: US, failure_domains: 3}')
    else:
        twin = catalog_copy / "cloudx2.yaml"
        twin.write_text(path.read_text().replace("type: small", "type: tiny").replace("type: big", "type: huge"))
    assert_one_line_error(cli("plan", "--pricing", catalog_copy, "-s", "public", "--set", "users.mau=20000"),
                          "region cloudx/r1 is declared twice", "declare each region or site once")


def test_fx_rate_must_be_positive(cli, catalog_copy):
    (catalog_copy / "fx.yaml").write_text(
        "schema: implan-fx/1\nas_of: 2026-11-01\nsource: {title: t, url: 'https://example.invalid', as_of: "
        "2026-11-01}\nusd_per_unit: {EUR: 0}\n", encoding="utf-8")
    assert_one_line_error(cli("pricing", "validate", "--pricing", catalog_copy), str(catalog_copy / "fx.yaml"),
                          "usd_per_unit.EUR", "greater than 0")


# ---------------------------------------------------------------- labour, cost of capital, colo products
@pytest.mark.parametrize("override, needles", [
    ("labour.automation=magic", ["labour.automation", "manual", "autonomous"]),
    ("labour.usd_per_fte_year=0", ["labour.usd_per_fte_year", "greater than 0"]),
    ("labour.minimum_fte=-1", ["labour.minimum_fte", "greater than or equal to 0"]),
    ("labour.nodes_per_fte=true", ["labour.nodes_per_fte"]),
    ("private.cost_of_capital_percent=150", ["private.cost_of_capital_percent", "less than or equal to 100"]),
    ("private.usd_per_fte_year=90000", ["private.usd_per_fte_year", "moved to labour.usd_per_fte_year"]),
    ("private.media_replication_factor=2", ["private.media_replication_factor", "erasure coding"]),
])
def test_bad_labour_and_capital_fields(cli, override, needles):
    assert_one_line_error(cli("plan", *FAST, "--set", override), *needles)


@pytest.mark.parametrize("old, new, needles", [
    ("kw_included: 1, per_month: 300,", "kw_included: 4, per_month: 300,", ["colo_products.0", "max_kw 3 is below"]),
    ("kind: partial,", "kind: quarter,", ["colo_products.0.kind", "per_u"]),
    ("per_month: 1000,", "per_month: 0,", ["colo_products.1.per_month", "greater than 0"]),
    ("extra_kw_per_month: 180, max_kw: 8,", "extra_kw_per_month: 180,", ["colo_products.1", "needs max_kw"]),
    ("per_month: 1000,", "per_month: 1000, included_mbps: -5,", ["colo_products.1.included_mbps", "greater than or equal to 0"]),
    ("per: cabinet,", "per: rack,", ["network_gear.0.per", "cabinet"]),
    ("percent_of_capex_per_year: 6,", "percent_of_capex_per_year: 160,", ["hardware_support.0",
                                                                         "less than or equal to 100"]),
    ("cross_connect_per_month: 150,", "", ["transit.0.cross_connect_per_month", "Field required"]),
])
def test_bad_colo_catalog_rows(cli, catalog_copy, old, new, needles):
    path = catalog_copy / "colox.yaml"
    _edit(path, old, new)
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), str(path), *needles)


def test_a_site_without_colo_products_is_a_catalog_error(cli, catalog_copy):
    path = catalog_copy / "colox.yaml"
    text = path.read_text(encoding="utf-8")
    start, end = text.index("colo_products:"), text.index("transit:")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), str(path), "site 's1' has no colo_products")


# ---------------------------------------------------------------- the boundary: numbers, duplicates, nesting
BIG = "9" * 5000  # Python refuses to convert integers of more than 4,300 digits


@pytest.mark.parametrize("override, needles", [
    ("users.mau=100000000000", ["users.mau", "less than or equal to 10000000000"]),
    ("users.mau=18446744073709551617", ["--set users.mau", "integer 18446744073709551617 is out of range"]),
    (f"users.mau={BIG}", ["--set users.mau", "(5000 characters) is out of range"]),
    ("users.mau=.inf", ["users.mau", "valid integer"]),
    ("messaging.group_share=.nan", ["messaging.group_share", "finite number"]),
    ("load_profile.hourly_weights=[.inf" + ", 1" * 23 + "]", ["load_profile.hourly_weights.0", "finite number"]),
    ("users.dau_per_mau=5.0e-7", ["users", "0.5 daily active users, expected at least 1"]),
    ("users.dau_per_mau=5.0e-324", ["users", "dau_per_mau: 4.94066e-324 is below the smallest figure"]),
    ("labour.nodes_per_fte=8.4e-225", ["labour", "nodes_per_fte: 8.4e-225 is below", "write 0 if none is meant"]),
    ("labour.usd_per_fte_year=1.0e+300", ["labour", "usd_per_fte_year: 1e+300 is beyond the 1e+15"]),
    ("private.amortization_years=.inf", ["private.amortization_years", "finite number"]),
    ("private.amortization_years=1000", ["private.amortization_years", "less than or equal to 30"]),
    ("solver.time_limit_s=.inf", ["solver.time_limit_s", "finite number"]),
    ("strategies=[public, public]", ["strategies", "lists public more than once"]),
    ("placement.residency=[US, EU, US]", ["placement.residency", "lists US more than once"]),
    ("users={mau: 5, mau: 6}", ["--set users", "duplicate key 'mau'"]),
    ("users.mau=" + "[" * 500 + "]" * 500, ["--set users.mau", "nested more than 64 levels deep"]),
    # each field within its range, together beyond anything the solver can hold
    ("retention.message_days=100000000000000", ["database_storage_gib", "beyond the 1e+15"]),
    ("messaging.typing_events_per_message=1.0e+14", ["typing_deliveries_per_s", "beyond the 1e+15"]),
])
def test_absurd_or_non_finite_override(cli, override, needles):
    message = assert_one_line_error(cli("plan", *FAST, "--set", override), *needles)
    assert len(message) < 400, message  # a 5,000-digit input is not echoed whole


def test_set_value_that_is_not_yaml_stays_a_string(cli):
    result = cli("workload", "show", "--set", "description=a: [b", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"description": "a: [b"' in result.stdout


def test_duplicate_key_in_workload_file(cli, tmp_path):
    path = _workload(tmp_path, "users:\n  mau: 5000\nmessaging: {}\nusers:\n  mau: 9000\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "line 4, column 1", "duplicate key 'users'",
                          "first at line 1")


def test_yaml_merge_keys_are_not_duplicates(cli, tmp_path):
    path = _workload(tmp_path, "users:\n  <<: {mau: 5000, dau_per_mau: 0.4}\n  mau: 6000\n")
    result = cli("workload", "show", path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"mau": 6000' in result.stdout and '"dau_per_mau": 0.4' in result.stdout


def test_deeply_nested_workload_file(cli, tmp_path):
    path = _workload(tmp_path, "users: " + "[" * 5000 + "]" * 5000 + "\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "nested more than 64 levels deep")


def test_workload_that_is_a_directory_or_fifo(cli, tmp_path):
    assert_one_line_error(cli("plan", tmp_path, *FAST), str(tmp_path), "is a directory, expected a workload file")
    fifo = tmp_path / "workload.fifo"
    os.mkfifo(fifo)  # reading it would block forever: refused before it is opened
    assert_one_line_error(cli("plan", fifo, *FAST), str(fifo), "not a regular file")
    assert_one_line_error(cli("plan", "/dev/zero", *FAST), "/dev/zero", "not a regular file")  # never ends


def test_profile_with_infinite_coefficient(cli, tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE_HEAD + "  gateway:\n    connections_per_vcpu: {value: .inf, unit: u, source: s, "
                                   "as_of: 2026-01-01, basis: measured}\n", encoding="utf-8")
    assert_one_line_error(cli("plan", *FAST, "--profile", path), str(path),
                          "tiers.gateway.connections_per_vcpu", "finite number")


@pytest.mark.parametrize("old, new, needles", [
    ("vcpu: 2, memory_gib: 4,", "vcpu: true, memory_gib: 4,", ["compute.0.vcpu", "valid integer", "got True"]),
    ("vcpu: 2, memory_gib: 4,", "vcpu: 2, memory_gib: .inf,", ["compute.0.memory_gib", "finite number"]),
    ("vcpu: 2, memory_gib: 4,", "vcpu: 2, memory_gib: '4',", ["compute.0.memory_gib", "valid number"]),
    ("vcpu: 2, memory_gib: 4,", "vcpu: 2, vcpu: 3, memory_gib: 4,", ["line 11", "duplicate key 'vcpu'"]),
    ("vcpu: 2, memory_gib: 4,", "vcpu: 2, memory_gib: 1.0e+300,", ["compute.0", "memory_gib: 1e+300 is beyond"]),
])
def test_catalog_numbers_are_strict_and_finite(cli, catalog_copy, old, new, needles):
    path = catalog_copy / "cloudx.yaml"
    _edit(path, old, new)
    assert_one_line_error(cli("plan", "--pricing", catalog_copy, "-s", "public"), str(path), *needles)


@pytest.mark.parametrize("rates, needles", [
    ("{USD: 2.0}", ["usd_per_unit", "rate of USD to itself must be 1"]),
    ("{EUR: .nan}", ["usd_per_unit.EUR", "finite number"]),
])
def test_fx_rates_checked(cli, catalog_copy, rates, needles):
    (catalog_copy / "fx.yaml").write_text(
        "schema: implan-fx/1\nas_of: 2026-11-01\nsource: {title: t, url: 'https://example.invalid', as_of: "
        f"2026-11-01}}\nusd_per_unit: {rates}\n", encoding="utf-8")
    assert_one_line_error(cli("pricing", "validate", "--pricing", catalog_copy), str(catalog_copy / "fx.yaml"),
                          *needles)


def test_catalog_dates_may_be_quoted(cli, catalog_copy):
    path = catalog_copy / "cloudx.yaml"
    text = path.read_text(encoding="utf-8")
    assert "as_of: 2026-11-01" in text
    path.write_text(text.replace("as_of: 2026-11-01", "as_of: '2026-11-01'"), encoding="utf-8")
    result = cli("pricing", "validate", "--pricing", catalog_copy)
    assert result.exit_code == 0, result.output


def test_catalog_server_sku_listed_twice(cli, catalog_copy):
    path = catalog_copy / "colox.yaml"
    _edit(path, "sku: st200, role: storage", "sku: c64, role: storage")
    assert_one_line_error(cli("plan", "--pricing", catalog_copy), str(path), "servers[1]: c64 is listed twice",
                          "also servers[0]")


def test_catalog_saas_offer_listed_twice(cli, catalog_copy):
    chatco = read_tiny("chatco")
    chatco["saas"].append(dict(chatco["saas"][0]))
    write_catalogs(catalog_copy, {"chatco": chatco})
    assert_one_line_error(cli("compare", "--pricing", catalog_copy), str(catalog_copy / "chatco.yaml"),
                          f"saas[{len(chatco['saas']) - 1}]: chatco/pro is listed twice")


# ---------------------------------------------------------------- rich markup in user-supplied text
@pytest.mark.parametrize("command, shown", [(("plan",), "[/bold]x"), (("compare",), "[/bold] [red]team"),
                                            (("pricing", "list"), "[/bold]x")])
def test_markup_in_names_prints_as_itself(cli, catalog_copy, command, shown):
    # names and instance types come from the user's files: "[/bold]" used to crash every table (MarkupError)
    _edit(catalog_copy / "cloudx.yaml", "type: small", 'type: "[/bold]x"')
    args = ["--pricing", catalog_copy]
    if command[0] != "pricing":
        args += ["-s", "public", "--set", "name='[/bold] [red]team'", "--set", "users.mau=20000"]
    result = cli(*command, *args)
    assert result.exit_code == 0, result.output
    assert shown in result.stdout


def test_pricing_show_prints_markup_in_a_title_as_itself(cli, catalog_copy):
    _edit(catalog_copy / "cloudx.yaml", 'title: "', 'title: "[/bold] ')
    result = cli("pricing", "show", "cloudx", "--pricing", catalog_copy)
    assert result.exit_code == 0, result.output
    assert "[/bold]" in result.stdout


# ---------------------------------------------------------------- --out: only new paths and regular files
def test_out_refuses_a_fifo(cli, tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    assert_one_line_error(cli("workload", "init", fifo, "--force"), str(fifo), "is not a regular file")
    assert fifo.is_fifo()  # not replaced by a plain file


def test_out_refuses_a_device(cli):
    assert_one_line_error(cli("workload", "init", "/dev/null", "--force"), "/dev/null", "is not a regular file")


def test_out_refuses_a_symlink_and_names_its_target(cli, tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert_one_line_error(cli("plan", *FAST, "--set", "users.mau=20000", "-f", "json", "--out", link), str(link),
                          "is a symbolic link", str(target))
    assert link.is_symlink() and target.read_text() == "old"


def test_out_replaces_a_regular_file(cli, tmp_path):
    path = _workload(tmp_path, "old\n")
    result = cli("workload", "init", path, "--force")
    assert result.exit_code == 0, result.output
    assert path.is_file() and "users:" in path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- usage errors and bugs: one line each
@pytest.mark.parametrize("args, needles", [
    (["plan", "--bogus"], ["No such option: --bogus", "(see `implan plan --help`)"]),
    (["plan", "--format", "xml"], ["'xml' is not one of", "(see `implan plan --help`)"]),
    (["pricing", "show"], ["Missing argument 'name'", "(see `implan pricing show --help`)"]),
])
def test_usage_errors_are_one_line(args, needles):
    import subprocess
    import sys

    from planner_testlib import ROOT

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-W", "ignore", "-m", "planner", *args], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 2, result
    message = result.stderr.strip()
    assert message.startswith("implan: error: ") and "\n" not in message and "╭" not in message, message
    for needle in needles:
        assert needle in message, (needle, message)


def test_a_bug_is_exit_3_with_one_line(cli, monkeypatch):
    import planner.workload

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    # the CLI imports it when it solves (load_workload is a thin wrapper over it)
    monkeypatch.setattr(planner.workload, "load_workload_with_distributions", broken)
    assert_one_line_error(cli("plan", *FAST), "internal error (a bug in implan", "ZeroDivisionError",
                          "float division by zero", "IMPLAN_DEBUG=1", code=3)
    monkeypatch.setenv("IMPLAN_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli("plan", *FAST)


def test_a_failed_gate_is_still_exit_1(cli):
    # typer.Exit raised inside a command is not a bug: `pricing validate --strict` with warnings exits 1
    result = cli("pricing", "validate", "--pricing", TINY_DIR, "--strict", "--max-age-days", "0")
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output


def test_empty_workload_file(cli, tmp_path):
    path = _workload(tmp_path, "# nothing here\n")
    assert_one_line_error(cli("plan", path, *FAST), str(path), "empty workload file", "write {} in it")
    explicit = _workload(tmp_path, "{}\n")
    assert cli("workload", "show", explicit).exit_code == 0


def test_saas_offer_listed_in_two_files(cli, catalog_copy):
    shutil.copy(catalog_copy / "chatco.yaml", catalog_copy / "chatco2.yaml")
    assert_one_line_error(cli("compare", "--pricing", catalog_copy), "SaaS offer chatco/pro is listed twice",
                          "also in chatco")


def test_fifo_in_the_pricing_directory_is_refused_not_read(cli, catalog_copy):
    fifo = catalog_copy / "stuck.yaml"
    os.mkfifo(fifo)  # reading it would block forever
    assert_one_line_error(cli("pricing", "validate", "--pricing", catalog_copy), str(fifo), "not a regular file",
                          "expected a catalog file")
