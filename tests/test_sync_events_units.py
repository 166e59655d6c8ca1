"""Fast tests of events syncs without dbt: journey matching, planning each event's fate (baseline, routing,
consent at delivery, superseded, retries), payload formatting, the syncs.yml checks with their lines, and
the HubSpot event properties over real HTTP to the sandbox (strict about undefined properties)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from sync.config import ConfigError, Journey, parse_syncs
from sync.destinations.base import OutRecord
from sync.destinations.hubspot import HubSpotContacts
from sync.errors import TerminalError
from sync.events import BASELINE_KEY, iso_utc, plan_events
from sync.http import HttpClient
from sync.sandbox import start_sandbox
from sync.state import Snapshot, StateRow

VOCABULARY = ({"prospect", "new_customer", "active", "at_risk", "lapsed", "won_back", "unclassified"},
              {"high_value", "at_risk"})
T1, T2 = datetime(2025, 6, 30, 23, 59, 59, 999999), datetime(2026, 3, 31, 23, 59, 59, 999999)

EVENTS_YML = """syncs:
  - name: journeys
    model: sync_webhook__journey_events
    destination: webhook
    object: journey_events
    key: event_id
    match_key: person_id
    mode: events
    purpose: {purpose}
    fields:
      event_id: event_id
      journey: journey
      person_id: person_id
      email: email
      to_stage: to_stage
      occurred_at: occurred_at
    property_types: {{occurred_at: datetime}}
    journeys:
      - name: became_at_risk
        event: stage_changed
        to_stage: at_risk
      - name: came_back
        event: stage_changed
        from_stage: lapsed
        to_stage: won_back
        fields: [event_id, journey, person_id]
      - name: entered_high_value
        event: segment_entered
        segment: high_value
"""


def cfg(purpose: str = "operational", **changes):
    parsed = parse_syncs(EVENTS_YML.format(purpose=purpose), Path("syncs.yml"), None, VOCABULARY)["journeys"]
    return replace(parsed, **changes)


def event(i: int, event_type: str = "stage_changed", frm: str | None = "active", to: str | None = "at_risk",
          segment: str | None = None, at: datetime = T2, consent: str = "subscribed", person: str | None = None) -> dict:
    return {"event_id": f"e{i:03d}", "person_id": person or f"p{i:03d}", "email": f"p{i}@example.com",
            "event_type": event_type, "from_stage": frm, "to_stage": to, "segment_name": segment,
            "occurred_at": at, "email_consent": consent}


def marker(through: datetime | None = T1) -> StateRow:
    return StateRow("baseline_marker", None,
                    {"status": "baseline_marker", "through": through.isoformat() if through else ""})


def fates(plan) -> dict[str, str]:
    return {k: f for k, f, _ in plan.decided}


def test_journeys_match_stage_changes_and_segments_with_any():
    j = Journey("x", "stage_changed", to_stage="at_risk")
    assert j.matches("stage_changed", "active", "at_risk", None)
    assert j.matches("stage_changed", None, "at_risk", None), "any from-stage includes a first-seen person"
    assert not j.matches("stage_changed", "active", "lapsed", None)
    assert not Journey("y", "stage_changed", from_stage="active").matches("stage_changed", None, "active", None)
    seg = Journey("z", "segment_entered", segment="high_value")
    assert seg.matches("segment_entered", None, None, "high_value")
    assert not seg.matches("segment_exited", None, None, "high_value")
    assert Journey("w", "segment_exited").matches("segment_exited", None, None, "anything")


def test_first_run_without_backfill_takes_a_baseline_and_sends_nothing():
    rows = [event(1, at=T1), event(2, at=T2)]
    plan = plan_events(cfg(), Snapshot(rows, {}, {}))
    assert plan.first_run and plan.deliver == []
    assert fates(plan) == {"e001": "baseline", "e002": "baseline", BASELINE_KEY: "baseline_marker"}
    assert dict((k, m) for k, _, m in plan.decided)[BASELINE_KEY]["through"] == T2.isoformat()
    backfill = plan_events(cfg(backfill=True), Snapshot(rows, {}, {}))
    assert [r.key for r in backfill.deliver] == ["e001", "e002"], "backfill: true sends history, oldest first"


def test_later_runs_deliver_new_events_once_and_late_old_events_join_the_baseline():
    state = {BASELINE_KEY: marker(T1), "e001": StateRow("baseline", None, {}), "e002": StateRow("delivered", None, {})}
    rows = [event(3, at=T2), event(1, at=T1), event(2, at=T2), event(4, at=T1),
            event(5, frm="active", to="lapsed"), event(6, "segment_entered", None, None, "high_value")]
    plan = plan_events(cfg(), Snapshot(rows, state, {}))
    assert not plan.first_run and plan.known == 2
    assert [r.key for r in plan.deliver] == ["e003", "e006"]
    assert fates(plan) == {"e004": "baseline", "e005": "not_routed"}
    rec = plan.deliver[0]
    assert rec.delivery_id == rec.key == "e003", "the event id is the delivery (idempotency) id"
    assert rec.properties == {"event_id": "e003", "journey": "became_at_risk", "person_id": "p003",
                              "email": "p3@example.com", "to_stage": "at_risk", "occurred_at": "2026-03-31T23:59:59.999Z"}
    assert plan.journeys == {"e003": "became_at_risk", "e006": "entered_high_value"}


def test_a_journey_sends_only_its_fields():
    plan = plan_events(cfg(), Snapshot([event(7, frm="lapsed", to="won_back")], {BASELINE_KEY: marker(None)}, {}))
    assert plan.deliver[0].properties == {"event_id": "e007", "journey": "came_back", "person_id": "p007"}


def test_marketing_sends_only_to_subscribed_addresses_checked_at_delivery():
    state = {BASELINE_KEY: marker(T1)}
    rows = [event(1), event(2, consent="unsubscribed"), event(3, consent=None), event(4, consent="unknown")]
    # e002 failed last run while subscribed; its address unsubscribed since: consent at delivery wins
    plan = plan_events(cfg("marketing"), Snapshot(rows, state, {"e002": ("TRANSIENT_503", 1)}))
    assert [r.key for r in plan.deliver] == ["e001"]
    assert plan.skipped == [("e002", "CONSENT_UNSUBSCRIBED"), ("e003", "CONSENT_UNKNOWN"), ("e004", "CONSENT_UNKNOWN")]
    assert fates(plan) == {"e002": "skipped", "e003": "skipped", "e004": "skipped"}
    # an operational sync (CRM record keeping) sends them all
    assert len(plan_events(cfg("operational"), Snapshot(rows, state, {})).deliver) == 4


def test_failed_events_are_retried_and_stale_failures_forgotten():
    state = {BASELINE_KEY: marker(T1)}
    plan = plan_events(cfg(), Snapshot([event(1)], state, {"e001": ("TRANSIENT_503", 2), "gone": ("HTTP_400", 1)}))
    assert [r.key for r in plan.deliver] == ["e001"] and plan.stale_failures == ["gone"]


def test_latest_only_destinations_never_send_an_older_event_than_one_delivered():
    state = {BASELINE_KEY: marker(None), "e002": StateRow("delivered", None, {})}
    rows = [event(1, at=T1, person="p"), event(2, at=T2, person="p"), event(3, at=T1, person="q")]
    plan = plan_events(cfg(), Snapshot(rows, state, {}), keeps_latest=True)
    assert fates(plan) == {"e001": "superseded"} and [r.key for r in plan.deliver] == ["e003"]
    assert [r.key for r in plan_events(cfg(), Snapshot(rows, state, {})).deliver] == ["e001", "e003"]


def test_bad_event_rows_become_failures_with_codes():
    state = {BASELINE_KEY: marker(None)}
    rows = [event(1), event(1), {**event(2), "event_id": None}]
    plan = plan_events(cfg(), Snapshot(rows, state, {}))
    assert sorted((k, c) for k, c, _ in plan.invalid) == [("(null key, row 3)", "NULL_KEY"), ("e001", "DUPLICATE_KEY"),
                                                          ("e001", "DUPLICATE_KEY")]
    assert plan.deliver == []


def test_iso_utc():
    assert iso_utc(T2) == "2026-03-31T23:59:59.999Z" and iso_utc(None) == ""


@pytest.mark.parametrize("change, message", [
    ("        to_stage: at_risk\n", "        to_stage: at_riks\n"),
    ("        segment: high_value\n", "        segment: big_spenders\n"),
])
def test_unknown_stage_or_segment_names_fail_with_their_line(change, message):
    text = EVENTS_YML.format(purpose="marketing").replace(change, message, 1)
    with pytest.raises(ConfigError) as err:
        parse_syncs(text, Path("syncs.yml"), None, VOCABULARY)
    line = text.splitlines().index(message.rstrip("\n")) + 1
    assert f"syncs.yml:{line}:" in str(err.value)
    assert ("unknown journey stage 'at_riks'" if "stage" in message else "unknown segment 'big_spenders'") in str(err.value)


def test_events_configuration_mistakes_are_reported_with_lines():
    text = EVENTS_YML.format(purpose="sometimes").replace("fields: [event_id, journey, person_id]",
                                                           "fields: [event_id, colour]")
    text = text.replace("        segment: high_value\n", "        segment: high_value\n        from_stage: active\n")
    text = text.replace("      - name: came_back", "      - name: became_at_risk")
    with pytest.raises(ConfigError) as err:
        parse_syncs(text, Path("syncs.yml"), None, VOCABULARY)
    msg = str(err.value)
    assert "'sometimes' is not one of operational, marketing" in msg
    assert "payload field 'colour' is not among the sync's fields" in msg
    assert "'from_stage' does not apply to event segment_entered" in msg
    assert "journey became_at_risk declared twice" in msg
    assert all(line.startswith("syncs.yml:") for line in msg.splitlines())
    upsert = "syncs:\n  - name: a\n    model: m\n    destination: webhook\n    object: o\n    key: k\n    match_key: k\n" \
             "    fields: {k: k}\n    backfill: true\n"
    with pytest.raises(ConfigError, match=r"syncs.yml:9:5: 'backfill' applies to mode: events only"):
        parse_syncs(upsert, Path("syncs.yml"), None, VOCABULARY)
    with pytest.raises(ConfigError, match=r"syncs.yml:\d+:\d+: mode events needs `journeys`"):
        parse_syncs(upsert.replace("    backfill: true\n", "    mode: events\n"), Path("syncs.yml"), None, VOCABULARY)
    salesforce = EVENTS_YML.format(purpose="marketing").replace("destination: webhook", "destination: salesforce")
    with pytest.raises(ConfigError, match=r"syncs.yml:4:18: destination 'salesforce' cannot receive events"):
        parse_syncs(salesforce, Path("syncs.yml"), None, VOCABULARY)


def test_the_project_syncs_file_is_valid_with_its_events_syncs():
    from sync.config import load_syncs

    syncs = load_syncs()
    assert syncs["journey_events_webhook"].purpose == "marketing" and not syncs["journey_events_webhook"].backfill
    assert syncs["hubspot_journey_events"].columns[0] == "event_id"


def test_an_event_at_the_same_instant_as_a_delivered_one_is_not_superseded():
    # two changes of one person at one as-of instant (a rule changed and the build rerun): the order between
    # them is unknown, so the later-found one is still written rather than dropped as older
    state = {BASELINE_KEY: marker(None), "e004": StateRow("delivered", None, {})}
    rows = [event(2, at=T2, person="p"), event(4, at=T2, person="p")]
    plan = plan_events(cfg(), Snapshot(rows, state, {}), keeps_latest=True)
    assert fates(plan) == {} and [r.key for r in plan.deliver] == ["e002"]


def test_hubspot_event_properties_must_be_defined_and_one_write_per_contact():
    sb = start_sandbox()
    try:
        hs = cfg(destination="hubspot", object="contacts", match_key="email",
                 fields={"cdp_last_journey_event": "event_name", "cdp_last_journey_event_at": "occurred_at"},
                 custom_properties=["cdp_last_journey_event", "cdp_last_journey_event_at"],
                 property_types={"cdp_last_journey_event_at": "datetime"})
        client = HttpClient(sb.url, {"Authorization": f"Bearer {sb.client_env()['HUBSPOT_ACCESS_TOKEN']}"}, rate=0)
        dest = HubSpotContacts(hs, client, sb.url)
        older = OutRecord("e1", "ann@example.com", {"cdp_last_journey_event": "active -> at_risk",
                                                     "cdp_last_journey_event_at": "2025-06-30T23:59:59.999Z"}, None, "e1")
        newer = OutRecord("e2", "Ann@example.com", {"cdp_last_journey_event": "at_risk -> lapsed",
                                                     "cdp_last_journey_event_at": "2026-03-31T23:59:59.999Z"}, None, "e2")
        with pytest.raises(TerminalError) as err:  # the real API: 400 PROPERTY_DOESNT_EXIST until created
            dest.send_events([older])
        assert err.value.status == 400 and err.value.batch_wide
        dest.prepare({})
        results = dest.send_events([older, newer])
        assert [r.ok for r in results] == [True, True] and results[0].destination_id == results[1].destination_id
        contact = next(iter(sb_contacts(sb).values()))["properties"]
        assert contact["cdp_last_journey_event"] == "at_risk -> lapsed"
        assert sb.stats()["hubspot_creates"] == 1 and sb.stats()["hubspot_updates"] == 0, "one write, not two"
        bad = OutRecord("e3", "bob@example.com", {"cdp_last_journey_event_at": "31/03/2026"}, None, "e3")
        assert dest.send_events([bad])[0].error_code == "VALIDATION_ERROR", "datetime values are checked"
        dest.close()
    finally:
        sb.stop()


def sb_contacts(sb) -> dict:
    import requests

    return requests.get(f"{sb.url}/_sandbox/hubspot", timeout=10).json()["contacts"]
