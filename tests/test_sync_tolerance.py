"""No churn in the CRM: field tolerances and rounding (sync/syncs.yml) over real HTTP to the CRM sandbox.

A refresh with no new data, one day later, on a warehouse built by dbt rewrites at most 5% of contacts; drift
is measured against the value last delivered, so it adds up and is sent once past the tolerance; a change
past the tolerance, a value that disappears, an unsubscribe and an erasure are sent at once; a tolerance
where it cannot apply is a one-line configuration error."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from datagen.sample_data import SPAN_END, generate
from sync.config import ConfigError, load_syncs, parse_syncs
from sync.destinations import make_destination
from sync.engine import run_sync
from sync.values import parse_tolerance
from tests.conftest import Warehouse, dbt
from tests.sync_support import TinyWarehouse, by_person, erase, person, sandbox_for, sync

SHARE = 0.05  # the most contacts a refresh without new data may rewrite
# two as-of instants a day apart, both after the generated data ends: the same raw rows at both
DAY_ONE = (SPAN_END + timedelta(days=1)).date().isoformat()
DAY_TWO = (SPAN_END + timedelta(days=2)).date().isoformat()


@pytest.fixture
def sandbox(monkeypatch):
    with sandbox_for(monkeypatch) as sb:
        yield sb


def build_as_of(wh: Warehouse, as_of: str, monkeypatch) -> None:
    monkeypatch.setenv("CDP_AS_OF", as_of)
    dbt(wh.raw_dir, wh.db_path, "build")


def sf_records(url: str) -> dict[str, dict]:
    return requests.get(f"{url}/_sandbox/salesforce", timeout=10).json()["records"]


def test_a_refresh_without_new_data_rewrites_at_most_five_percent_of_contacts(sandbox, tmp_path, monkeypatch):
    wh = Warehouse(tmp_path / "raw", tmp_path / "warehouse.duckdb")
    generate(800, 33, wh.raw_dir)
    build_as_of(wh, DAY_ONE, monkeypatch)
    syncs = load_syncs()
    first = {name: run_sync(syncs[name], wh.db_path, make_destination) for name in ("hubspot_contacts",
                                                                                    "salesforce_contacts")}
    assert {s.status for s in first.values()} <= {"success", "partial"}
    contacts = by_person(sandbox.url)
    # dates go as dates (YYYY-MM-DD, which HubSpot's date properties store as midnight UTC), not "days since"
    dated = wh.sql("select person_id, cast(last_order_date as varchar) from sync_hubspot__contacts "
                   "where last_order_date is not null")
    assert dated and all(contacts[p][0]["cdp_last_order_date"] == d for p, d in dated if p in contacts)
    assert {r.get("CDP_Last_Order_Date__c") for r in sf_records(sandbox.url).values()} & {d for _, d in dated}

    build_as_of(wh, DAY_TWO, monkeypatch)  # same raw files, a day later: predictions are refitted
    drift = wh.sql("select count(*) from sync_hubspot__contacts where churn_risk <> 0 and predicted_clv <> 0")[0][0]
    assert drift > 0
    for name in ("hubspot_contacts", "salesforce_contacts"):
        cfg = syncs[name]
        # without the tolerances (rounding kept) the refit's drift alone would rewrite many more contacts
        loose = run_sync(replace(cfg, tolerances={}), wh.db_path, make_destination, dry_run=True)
        assert loose.updated > SHARE * first[name].in_scope, (name, loose.updated)
        before = sandbox.stats()
        second = run_sync(cfg, wh.db_path, make_destination)
        after = sandbox.stats()
        assert second.status in ("success", "partial"), second.error
        assert second.created == 0 and second.updated <= SHARE * second.in_scope, (name, second.updated,
                                                                                  second.in_scope)
        if name == "hubspot_contacts":
            assert after["hubspot_updates"] - before["hubspot_updates"] <= SHARE * second.in_scope


def drifted(i: int, churn: float, clv: float, **changes) -> dict:
    return person(i, churn_risk=churn, predicted_clv=clv, **changes)


def props(url: str, key: str) -> dict:
    (contact,) = by_person(url)[key]
    return contact


def test_small_drifts_add_up_against_the_delivered_value_and_are_then_sent(sandbox, tmp_path):
    tw = TinyWarehouse(tmp_path / "warehouse.duckdb")
    others = [person(i) for i in range(2, 5)]
    tw.write([drifted(1, 0.40, 1000)] + others)
    assert sync(tw).created == 4
    steps = [(0.41, 1020), (0.42, 1040)]  # each step within tolerance of the previous row and of the delivered one
    for churn, clv in steps:
        tw.write([drifted(1, churn, clv)] + others)
        for _ in range(2):  # the same refresh twice: still nothing to send
            s = sync(tw)
            assert (s.status, s.updated, s.skipped) == ("success", 0, 4)
    assert (props(sandbox.url, "p0001")["cdp_churn_risk"], props(sandbox.url, "p0001")["cdp_predicted_clv"]) == \
        ("0.40", "1000")
    # one more small step: 0.01 from the last row, 0.03 from what the CRM holds, so it is sent
    tw.write([drifted(1, 0.43, 1040)] + others)
    s = sync(tw)
    assert (s.updated, s.plan_samples["update"]) == (1, ["p0001"])
    assert props(sandbox.url, "p0001")["cdp_churn_risk"] == "0.43"
    assert props(sandbox.url, "p0001")["cdp_predicted_clv"] == "1040"  # sent with it: the current value
    # CLV alone: 1040 -> 1080 (3.8%) held, -> 1100 (5.8% of the delivered 1040) sent
    tw.write([drifted(1, 0.43, 1080)] + others)
    assert sync(tw).updated == 0
    tw.write([drifted(1, 0.43, 1100)] + others)
    assert sync(tw).updated == 1 and props(sandbox.url, "p0001")["cdp_predicted_clv"] == "1100"


def test_a_change_past_the_tolerance_or_of_another_field_is_sent_at_once(sandbox, tmp_path):
    tw = TinyWarehouse(tmp_path / "warehouse.duckdb")
    tw.write([drifted(i, 0.40, 1000) for i in range(1, 6)])
    sync(tw)
    tw.write([drifted(1, 0.45, 1000), drifted(2, 0.40, 1100), drifted(3, None, 1000),
              drifted(4, 0.41, 1010, segments="vip"), drifted(5, 0.41, 1010)])
    s = sync(tw)
    assert s.updated == 4 and s.skipped == 1
    live = {k: v[0] for k, v in by_person(sandbox.url).items()}
    assert live["p0001"]["cdp_churn_risk"] == "0.45" and live["p0002"]["cdp_predicted_clv"] == "1100"
    assert live["p0003"]["cdp_churn_risk"] == ""  # a value that disappears is always sent
    # a record sent for another field carries the current drifted values; the held one keeps the delivered
    assert (live["p0004"]["cdp_segments"], live["p0004"]["cdp_churn_risk"]) == ("vip", "0.41")
    assert (live["p0005"]["cdp_churn_risk"], live["p0005"]["cdp_predicted_clv"]) == ("0.40", "1000")


def test_an_unsubscribe_or_an_erasure_is_never_held_back_by_a_tolerance(sandbox, tmp_path):
    tw = TinyWarehouse(tmp_path / "warehouse.duckdb")
    tw.write([drifted(i, 0.40, 1000) for i in range(1, 5)])
    for name in ("hubspot_contacts", "marketing_webhook"):
        assert sync(tw, name).status == "success"
    # p1 unsubscribes while its predictions drift within tolerance; p2 is erased; p3 only drifts
    tw.write([drifted(1, 0.41, 1010, email_consent="unsubscribed", marketing_opt_out="true")]
             + [drifted(i, 0.41, 1010) for i in range(2, 5)])
    erase(tw, ["p0002"])
    hub = sync(tw, "hubspot_contacts")
    assert (hub.updated, hub.deleted, hub.skipped) == (1, 1, 2)
    live = {k: v[0] for k, v in by_person(sandbox.url).items()}
    assert "p0002" not in live
    assert (live["p0001"]["cdp_email_consent"], live["p0001"]["cdp_marketing_opt_out"]) == ("unsubscribed", "true")
    assert live["p0001"]["cdp_churn_risk"] == "0.41"
    hook = sync(tw, "marketing_webhook")
    assert hook.deleted == 1 and hook.cleared == 1 and hook.excluded == 1


SYNC = """syncs:
  - name: s
    model: sync_hubspot__contacts
    destination: hubspot
    object: contacts
    key: person_id
    match_key: email
    fields:
      email: email
      cdp_churn_risk: {column: churn_risk, tolerance: 0.02}
{extra}"""


@pytest.mark.parametrize(("fields", "extra", "expected"), [
    ("", "    property_types: {cdp_churn_risk: string}",
     "cfg.yml:10:44: field cdp_churn_risk: tolerance applies to number fields only (property_types gives "
     "cdp_churn_risk type string"),
    ("", "", "cfg.yml:10:44: field cdp_churn_risk: tolerance applies to number fields only"),
    ("      cdp_segments: {column: segments, round: 0}\n", "    property_types: {cdp_churn_risk: number}",
     "cfg.yml:10:40: field cdp_segments: round applies to number fields only"),
    ("      cdp_clv: {column: predicted_clv, tolerance: -1}\n", "    property_types: {cdp_churn_risk: number, "
     "cdp_clv: number}", "cfg.yml:10:51: tolerance = -1 is negative (it must be at least 0)"),
    ("      cdp_clv: {column: predicted_clv, tolerance: five percent}\n", "    property_types: {cdp_churn_risk: "
     "number, cdp_clv: number}", "cfg.yml:10:51: tolerance 'five percent' is neither a number (absolute) nor a "
     "percentage such as '5%'"),
    ("      cdp_clv: {column: predicted_clv, tolerence: 5%}\n", "    property_types: {cdp_churn_risk: number}",
     "cfg.yml:10:40: unknown key 'tolerence'"),
    ("      cdp_clv: 7\n", "    property_types: {cdp_churn_risk: number}",
     "cfg.yml:10:16: field cdp_clv: 7 is neither a model column nor a field object"),
    ("", "    mode: events\n    property_types: {cdp_churn_risk: number}\n    journeys: [{name: j, event: "
     "stage_changed}]", "cfg.yml:10:44: field cdp_churn_risk: tolerance applies to record syncs only"),
])
def test_a_tolerance_where_it_cannot_apply_is_a_one_line_config_error(fields, extra, expected):
    text = SYNC.replace("{extra}", extra).replace("      cdp_churn_risk:", fields + "      cdp_churn_risk:")
    with pytest.raises(ConfigError) as err:
        parse_syncs(text, Path("cfg.yml"))
    message = str(err.value)
    assert len(message.splitlines()) == 1 and message.startswith(expected), message


def test_the_declared_defaults_and_tolerance_arithmetic():
    syncs = load_syncs()
    for name, churn, clv in (("hubspot_contacts", "cdp_churn_risk", "cdp_predicted_clv"),
                             ("salesforce_contacts", "CDP_Churn_Risk__c", "CDP_Predicted_CLV__c")):
        cfg = syncs[name]
        assert (cfg.fields[churn], cfg.rounding[churn], cfg.tolerances[churn]) == \
            ("churn_risk", 2, parse_tolerance(0.02))
        assert (cfg.fields[clv], cfg.rounding[clv], cfg.tolerances[clv]) == ("predicted_clv", 0, parse_tolerance("5%"))
    relative = parse_tolerance("5%")
    assert relative.amount == Decimal("0.05") and relative.holds("105", "100") and not relative.holds("106", "100")
    assert not relative.holds("1", "0")  # nothing is within a share of zero
    assert parse_tolerance(0.02).holds("0.42", "0.40") and not parse_tolerance(0.02).holds("0.43", "0.40")
    assert not parse_tolerance(0.02).holds("", "0.40") and not parse_tolerance(0.02).holds("n/a", "0.40")


def test_a_malformed_property_types_beside_a_tolerance_is_reported_not_a_crash():
    with pytest.raises(ConfigError) as err:
        parse_syncs(SYNC.replace("{extra}", "    property_types: [cdp_churn_risk]"), Path("cfg.yml"))
    assert "cfg.yml:11:21: ['cdp_churn_risk'] is not of type 'object'" in str(err.value).splitlines()
