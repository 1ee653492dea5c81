"""The SaaS catalog fields (jurisdictions, caps, retention, usage fees, unpriced fees): the loader's one-line error
for bad values, what the shipped catalog says about the offers issue 8 names, and what compare prints."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from planner_testlib import ROOT, TINY_DIR

from planner.capacity import load_profile
from planner.catalog.loader import load_catalog
from planner.demand import compute_demand
from planner.saas import saas_quote
from planner.workload import Workload

ROW_END = "source: test}"


@pytest.fixture
def catalog_copy(tmp_path):
    target = tmp_path / "pricing"
    shutil.copytree(TINY_DIR, target)
    return target


def _edit_row(directory, extra: str):
    path = directory / "chatco.yaml"
    text = path.read_text(encoding="utf-8")
    assert ROW_END in text
    path.write_text(text.replace(ROW_END, f"{extra}, {ROW_END}", 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("extra, where, expected", [
    ("jurisdictions: []", "saas.0.jurisdictions", "at least 1 item"),
    ("jurisdictions: ['']", "saas.0.jurisdictions.0", "at least 1 character"),
    ("caps: {mau: 0}", "saas.0.caps.mau", "greater than 0"),
    ("caps: {users: 5}", "saas.0.caps.users", "Extra inputs are not permitted"),
    ("included_retention_days: 0", "saas.0.included_retention_days", "whole number of days (>= 1) or 'unlimited'"),
    ("included_retention_days: forever", "saas.0.included_retention_days", "unlimited"),
    ("retention_extra_per_gb_month: 0.1", "saas.0", "give included_retention_days as a number of days"),
    ("included_retention_days: 7, retention_extra_per_gb_month: -1", "saas.0.retention_extra_per_gb_month",
     "greater than or equal to 0"),
    ("per_million_deliveries: -1", "saas.0.per_million_deliveries", "greater than or equal to 0"),
    ("included_deliveries_per_month: -5", "saas.0.included_deliveries_per_month", "greater than or equal to 0"),
    ("message_storage_per_gb_month: -1", "saas.0.message_storage_per_gb_month", "greater than or equal to 0"),
    ("included_message_storage_gb: -1", "saas.0.included_message_storage_gb", "greater than or equal to 0"),
    ("stored_message_tiers: [{up_to_millions: 5, per_million: 1}]", "saas.0",
     "stored_message_tiers must be in ascending up_to_millions order, the last one unbounded"),
    ("stored_message_tiers: [{per_million: -1}]", "saas.0.stored_message_tiers.0.per_million",
     "greater than or equal to 0"),
    ("included_stored_messages: -1", "saas.0.included_stored_messages", "greater than or equal to 0"),
    ("events_as_messages: maybe", "saas.0.events_as_messages", "valid boolean"),
    ("unpriced: [plan fee]", "saas.0.unpriced", "valid dictionary"),
])
def test_bad_saas_field_gets_one_line_error(cli, catalog_copy, extra, where, expected):
    path = _edit_row(catalog_copy, extra)
    result = cli("compare", "--pricing", catalog_copy)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("implan: error: ") and "\n" not in message, message
    assert f"{path}: {where}" in message and expected in message, message


# ---------------------------------------------------------------- the shipped catalog
@pytest.fixture(scope="module")
def shipped():
    return load_catalog(ROOT / "pricing")


def _quotes(catalog, **workload):
    w = Workload.model_validate(workload)
    demand = compute_demand(w, load_profile(None))
    return {f"{o.provider}/{o.plan}": saas_quote(o, demand, w) for o in catalog.saas}


def test_china_priced_offers_say_so_and_rongcloud_is_a_quote_above_its_cap(shipped):
    offers = {f"{o.provider}/{o.plan}": o for o in shipped.saas}
    for name in ("easemob/professional", "easemob/flagship", "rongcloud/chat-premium", "rongcloud/chat-ultimate"):
        assert offers[name].jurisdictions == ("CN",), name
    quotes = _quotes(shipped)  # the default workload delivers ~43M messages a day
    for name in ("rongcloud/chat-premium", "rongcloud/chat-ultimate"):
        assert quotes[name].status == "quote" and "above the published cap of 5,000,000" in quotes[name].note
    small = _quotes(shipped, users={"mau": 100000})  # 4.3M deliveries a day: inside the cap, priced
    assert small["rongcloud/chat-premium"].status == "priced"


def test_residency_eu_leaves_no_china_only_price(shipped):
    quotes = _quotes(shipped, placement={"residency": ["EU"]})
    for o in shipped.saas:
        if o.jurisdictions is not None and "EU" not in o.jurisdictions:
            assert quotes[f"{o.provider}/{o.plan}"].status == "excluded"
    assert all(q.monthly_cost_usd is None for n, q in quotes.items() if n.startswith(("easemob", "rongcloud")))


def test_the_offers_issue_8_names_are_in_the_catalog_with_source_and_date(shipped):
    names = {f"{o.provider}/{o.plan}" for o in shipped.saas}
    for wanted in ("agora/chat-pro", "zegocloud/in-app-chat-pro", "cometchat/overage-rates", "stream/band-1-overage",
                   "pubnub/transactions", "ably/overage-rates", "rongcloud/im-premium-intl"):
        assert wanted in names
    for o in shipped.saas:
        assert o.ref.url.startswith("https://") and o.ref.title and o.ref.as_of.year >= 2024, o.plan


def test_rongcloud_singapore_ladder_in_cny(shipped):
    # 20,000 peak DAU (40k MAU at 0.5; 1.7M deliveries a day, inside the 2M cap): 6,000 CNY + one further block
    # of 10k DAU * 3,000 CNY = 9,000 CNY; at 60k MAU (2.6M deliveries a day) it is a quote
    (offer,) = [o for o in shipped.saas if o.plan == "im-premium-intl"]
    fx = yaml.safe_load((ROOT / "pricing" / "fx.yaml").read_text(encoding="utf-8"))["usd_per_unit"]["CNY"]
    quote = _quotes(shipped, users={"mau": 40000})["rongcloud/im-premium-intl"]
    assert quote.status == "priced" and quote.monthly_cost_usd == pytest.approx(9000 * fx)
    assert _quotes(shipped, users={"mau": 60000})["rongcloud/im-premium-intl"].status == "quote"
    assert offer.jurisdictions == ("SG", "US")


# ---------------------------------------------------------------- what compare prints
def test_compare_excludes_by_residency_and_claims_use_only_allowed_priced_offers(cli, catalog_copy):
    path = catalog_copy / "chatco.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["saas"][0]["jurisdictions"] = ["US"]
    data["saas"].append({**data["saas"][0], "plan": "china", "jurisdictions": ["CN"], "base_per_month": 1})
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    args = ("compare", "--pricing", catalog_copy, "--set", "users.mau=20000", "--set", "placement.residency=[US]",
            "--strategy", "public")
    plan = json.loads(cli(*args, "--format", "json").stdout)
    by_plan = {q["plan"]: q for q in plan["saas"]}
    assert by_plan["china"]["status"] == "excluded" and by_plan["china"]["monthly_cost_usd"] is None
    assert "data centres in CN only" in by_plan["china"]["note"]
    pro = by_plan["pro"]
    assert pro["status"] == "priced" and pro["jurisdictions"] == ["US"]
    assert pro["fees_usd"]["per_user"] > 0 and pro["fees_usd"]["media"] > 0
    assert sum(pro["fees_usd"].values()) == pytest.approx(pro["monthly_cost_usd"], abs=0.05)
    (claim,) = plan["claims"]
    assert claim["saas_offers"] == 1 and claim["offers_excluded"] == 1
    assert [r["saas"] for r in plan["ratios"]] == ["chatco/pro"]
    table = cli(*args).stdout
    assert "chatco/china: excluded: data centres in CN only" in table
    assert "per user" in table and "media" in table and "1 excluded by residency" in table
    markdown = cli(*args, "--format", "markdown").stdout
    assert "| per user |" in markdown and "- chatco/china: excluded" in markdown


def test_html_report_saas_table_has_fee_columns_and_reasons(cli, catalog_copy):
    from planner.html_report import render_report
    path = catalog_copy / "chatco.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["saas"].append({**data["saas"][0], "plan": "china", "jurisdictions": ["CN"]})
    data["saas"][0]["jurisdictions"] = ["US"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    plan = json.loads(cli("compare", "--pricing", catalog_copy, "--set", "users.mau=20000", "--set",
                          "placement.residency=[US]", "--strategy", "public", "--format", "json").stdout)
    html = render_report(plan, None)
    for head in ("<th>data centres</th>", "<th>per user</th>", "<th>media</th>", "<th>base</th>"):
        assert head in html
    assert "data centres in CN only, outside placement.residency [US]" in html
    assert "<td>US</td>" in html and "<td class=\"n\">excluded</td>" in html
