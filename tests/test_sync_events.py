"""Events syncs end to end (docs/profiles-segments-journeys.md): two dbt builds of the same raw files at two CDP_AS_OF
instants, with the first sync run between them (its events become the baseline, backfill false), then the
events of the second build delivered over real HTTP to the sandbox: exactly once per event id under
injected 5xx and lost responses and across a SIGKILL, never to an address that is not subscribed (the
receiver's full request log is checked, rejected requests included), and nothing on a second run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
import yaml

from datagen.sample_data import generate
from sync.config import load_syncs
from sync.destinations import make_destination
from sync.engine import RunSummary, run_sync
from sync.sandbox import Sandbox, start_sandbox
from tests.conftest import PROJECT_DIR, Warehouse, dbt

CDP = str(Path(sys.executable).with_name("cdp"))
FIRST, SECOND = "2025-06-30", "2026-03-31"
ROUTE_ALL = [{"name": "stage_changed", "event": "stage_changed"},
             {"name": "segment_entered", "event": "segment_entered", "segment": "any"},
             {"name": "segment_exited", "event": "segment_exited", "segment": "any"}]
MARKETING, ALL, HUBSPOT = "journey_events_webhook", "journey_events_all", "hubspot_journey_events"


def events_syncs_file(path: Path) -> Path:
    """The project's events syncs, routing every event, in small batches; plus an operational copy of the
    webhook sync (no consent rule) for volume."""
    config = yaml.safe_load((PROJECT_DIR / "sync" / "syncs.yml").read_text())
    syncs = {s["name"]: s for s in config["syncs"]}
    marketing = {**syncs[MARKETING], "journeys": ROUTE_ALL, "batch_size": 10}
    everything = {**marketing, "name": ALL, "purpose": "operational"}
    hubspot = {**syncs[HUBSPOT], "batch_size": 10}
    path.write_text(yaml.safe_dump({"syncs": [marketing, everything, hubspot]}))
    return path


@pytest.fixture(scope="module")
def journeys(tmp_path_factory):
    """(warehouse after the second build, module sandbox, syncs file): the first run of each events sync
    happened after the first build, against this sandbox (webhook URL and portal id stay the same)."""
    root = tmp_path_factory.mktemp("events")
    generate(400, 21, root / "raw")
    db = root / "warehouse.duckdb"
    cfg_file = events_syncs_file(root / "syncs.yml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CDP_SANDBOX_PORTAL_ID", "4242")
        sb = start_sandbox()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CDP_AS_OF", FIRST)
            dbt(root / "raw", db, "build")
            mp.setenv("CDP_SYNCS_FILE", str(cfg_file))
            syncs = load_syncs()
            for key, value in sb.client_env().items():
                mp.setenv(key, value)
            for name in (MARKETING, ALL, HUBSPOT):
                first = run_sync(syncs[name], db, make_destination)
                assert first.status == "success" and first.sent == 0, (name, first)
            mp.setenv("CDP_AS_OF", SECOND)
            dbt(root / "raw", db, "build")
        yield Warehouse(root / "raw", db), sb, cfg_file
    finally:
        sb.stop()


@pytest.fixture
def env(journeys, tmp_path, monkeypatch):
    """A private copy of the warehouse (with the baseline), a reset receiver, and the sync environment."""
    wh, sb, cfg_file = journeys
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(wh.db_path, db)
    sb.configure(reset=True)
    for key, value in sb.client_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CDP_SYNCS_FILE", str(cfg_file))
    monkeypatch.setenv("CDP_DUCKDB_PATH", str(db))
    return Warehouse(wh.raw_dir, db), sb


def pending(wh: Warehouse, name: str) -> dict[str, tuple[str, str, str]]:
    """Events of the model with no fate in the sync's state yet, after the baseline (the events of the
    second build): event id -> (person, email, consent)."""
    return {r[0]: r[1:] for r in wh.sql(
        "select event_id, person_id, email, email_consent from sync_webhook__journey_events "
        "where event_id not in (select record_key from cdp_sync.sync_state where sync_name = ?) "
        f"and occurred_at >= '{SECOND}'", [name])}


def log(sb: Sandbox) -> list[dict]:
    return requests.get(f"{sb.url}/_sandbox/webhook/log", timeout=10).json()["requests"]


def accepted(sb: Sandbox) -> Counter:
    return Counter(did for entry in log(sb) for did in entry["accepted"])


def run_until_settled(wh: Warehouse, name: str, rounds: int = 8) -> list[RunSummary]:
    cfg = load_syncs()[name]
    runs = []
    for _ in range(rounds):
        runs.append(run_sync(cfg, wh.db_path, make_destination))
        if not wh.sql("select 1 from cdp_sync.sync_failures where sync_name = ?", [name]):
            return runs
    raise AssertionError(f"{name}: events still failing after {rounds} runs: {runs[-1]}")


def test_the_first_run_took_a_baseline_and_sent_nothing(journeys, monkeypatch):
    wh, sb, cfg_file = journeys
    for key, value in sb.client_env().items():
        monkeypatch.setenv(key, value)
    fates = dict(wh.sql("select payload_hash, count(*) from cdp_sync.sync_state where sync_name = ? group by 1",
                        [MARKETING]))
    first_build = wh.scalar(f"select count(*) from sync_webhook__journey_events where occurred_at < '{SECOND}'")
    assert 0 < fates["baseline"] <= first_build and fates["baseline_marker"] == 1 and len(fates) == 2
    # first-build events that reach the model only now (a person got an email) count as baseline too
    late = first_build - fates["baseline"]
    plan = run_sync(load_syncs(cfg_file)[MARKETING], wh.db_path, make_destination, dry_run=True)
    assert plan.skipped == fates["baseline"] + late and plan.created + plan.excluded == len(pending(wh, MARKETING))
    assert len(pending(wh, MARKETING)) > 30, "the second build added events to deliver"


def test_faults_and_lost_responses_deliver_each_event_exactly_once(env):
    wh, sb = env
    expected = pending(wh, ALL)
    sb.configure(fail_rate=0.2, lost_rate=0.2, seed=5)
    runs = run_until_settled(wh, ALL)
    stats = sb.stats()
    assert stats["injected_failures"] > 0 and stats["lost_responses"] > 0
    assert stats["webhook_replays_dropped"] > 0, "a lost response made the sync send a batch again"
    counts = accepted(sb)
    assert set(counts) == set(expected), "every event of the second build, and nothing of the baseline"
    assert set(counts.values()) == {1}, "no event accepted twice"
    sent = {r["delivery_id"] for entry in log(sb) for r in entry["records"]}
    assert sent == set(expected), "a resend carries the same delivery id (the event id)"
    events = requests.get(f"{sb.url}/_sandbox/webhook/events", timeout=10).json()["events"]
    one = events[next(iter(expected))]
    assert one["event_id"] == one["delivery_id"] and one["journey"] and one["occurred_at"].endswith("Z")
    assert wh.sql("select payload_hash, count(*) from cdp_sync.sync_state where sync_name = ? "
                  "and payload_hash = 'delivered' group by 1", [ALL]) == [("delivered", len(expected))]
    assert sum(r.succeeded for r in runs) >= len(expected)

    requests_before = len(log(sb))
    again = run_sync(load_syncs()[ALL], wh.db_path, make_destination)
    assert again.status == "success" and again.planned == 0 and again.sent == 0
    assert len(log(sb)) == requests_before, "a second run sends nothing"


def test_a_run_killed_with_sigkill_then_rerun_delivers_each_event_exactly_once(env):
    wh, sb = env
    expected = pending(wh, ALL)
    sb.configure(latency_ms=60)
    # state flushes every 30 s in the killed run: its confirmations survive only in its journal
    e = dict(os.environ, CDP_SYNC_FLUSH_SECONDS="30")
    proc = subprocess.Popen([CDP, "sync", "run", ALL, "--quiet"], env=e, cwd=PROJECT_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while sum(accepted(sb).values()) < 60 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = sum(accepted(sb).values())
    assert 0 < killed_at < len(expected), "killed in the middle of the delivery"
    sb.configure(latency_ms=0)
    rerun = run_sync(load_syncs()[ALL], wh.db_path, make_destination)
    assert rerun.status == "success", rerun
    counts = accepted(sb)
    assert set(counts) == set(expected) and set(counts.values()) == {1}
    # what the killed run confirmed is in its journal and not sent again; a delivery in flight at the kill
    # is sent again with the same id, which the receiver drops
    assert sb.stats()["webhook_replays_dropped"] <= killed_at
    statuses = [r[0] for r in wh.sql("select status from cdp_sync.sync_runs where sync_name = ? order by started_at",
                                     [ALL])]
    assert statuses[-2:] == ["abandoned", "success"]
    status = subprocess.run([CDP, "sync", "status"], env=dict(os.environ), cwd=PROJECT_DIR, capture_output=True,
                            text=True, timeout=120)
    line = next(ln for ln in status.stdout.splitlines() if ln.startswith(ALL))
    assert "success" in line, status.stdout


def test_addresses_not_subscribed_never_receive_an_event(env, monkeypatch):
    wh, sb = env
    # someone subscribed with an event waiting unsubscribes before delivery; the warehouse is rebuilt at the
    # same instant (which adds no history): consent is read at delivery, so the event is skipped.
    # another asks for suppression: their events leave the model (privacy_suppressed_persons) and are never sent
    waiting = pending(wh, MARKETING)
    subscribed_people = sorted({v[:2] for v in waiting.values() if v[2] == "subscribed"})
    (person, email), (suppressed, suppressed_email) = subscribed_people[:2]
    with (wh.raw_dir / "email_consents.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{email},unsubscribed,preference_center,{SECOND}T12:00:00Z\n")
    (wh.raw_dir / "privacy_requests.csv").write_text("request_id,request_type,email,phone,received_at\n"
                                                     f"s1,suppression,{suppressed_email},,2026-03-30\n")
    monkeypatch.setenv("CDP_AS_OF", SECOND)
    dbt(wh.raw_dir, wh.db_path, "build")
    waiting_after = pending(wh, MARKETING)
    assert set(waiting_after) == {k for k, v in waiting.items() if v[0] != suppressed}, \
        "the rebuild at the same instant added no event, and the suppressed person's left the model"
    assert wh.scalar("select count(*) from sync_webhook__journey_events where person_id in "
                     "(select person_id from privacy_suppressed_persons)") == 0
    assert wh.scalar(f"select count(*) from privacy_suppressed_persons where person_id = '{suppressed}'") == 1
    assert {v[2] for v in waiting_after.values() if v[0] == person} == {"unsubscribed"}

    sb.configure(fail_rate=0.2, lost_rate=0.2, seed=9)
    run_until_settled(wh, MARKETING)
    subscribed = {k for k, v in waiting_after.items() if v[2] == "subscribed"}
    not_subscribed = {k: v for k, v in waiting_after.items() if v[2] != "subscribed"}
    assert subscribed and not_subscribed and person in {v[0] for v in not_subscribed.values()}
    requests_log = log(sb)
    assert any(entry["outcome"] != "applied" for entry in requests_log), "faults were injected"
    sent = [r for entry in requests_log for r in entry["records"]]
    blocked_people = {v[0] for v in not_subscribed.values()} - {v[0] for k, v in waiting_after.items()
                                                                 if k in subscribed}
    blocked_emails = {v[1] for v in not_subscribed.values()} - {v[1] for k, v in waiting_after.items()
                                                                 if k in subscribed}
    assert not {r["delivery_id"] for r in sent} & set(not_subscribed)
    assert not {r["person_id"] for r in sent} & blocked_people and not {r["email"] for r in sent} & blocked_emails
    assert suppressed not in {r["person_id"] for r in sent} and suppressed_email not in {r["email"] for r in sent}
    assert set(accepted(sb)) == subscribed
    skips = dict(wh.sql("select record_key, error_code from cdp_sync.sync_record_log where sync_name = ? "
                        "and action = 'skip'", [MARKETING]))
    assert set(skips) == set(not_subscribed), "each skip is recorded with its reason"
    assert {skips[k] for k, v in not_subscribed.items() if v[0] == person} == {"CONSENT_UNSUBSCRIBED"}
    assert set(skips.values()) <= {"CONSENT_UNSUBSCRIBED", "CONSENT_UNKNOWN"}
    # skipped events are final: a later run neither sends nor retries them
    before = len(log(sb))
    again = run_sync(load_syncs()[MARKETING], wh.db_path, make_destination)
    assert again.planned == 0 and again.excluded == 0 and len(log(sb)) == before


def test_hubspot_contacts_get_the_latest_journey_event_once(env):
    wh, sb = env
    expected = {r[0]: r[1:] for r in wh.sql(
        "select email, event_name, occurred_at from sync_webhook__journey_events where event_type = 'stage_changed' "
        "and event_id not in (select record_key from cdp_sync.sync_state where sync_name = ?) "
        f"and occurred_at >= '{SECOND}' "
        "qualify row_number() over (partition by email order by occurred_at desc, event_id desc) = 1", [HUBSPOT])}
    assert expected
    sb.configure(fail_rate=0.1, lost_rate=0.2, seed=3)
    run_until_settled(wh, HUBSPOT)
    contacts = requests.get(f"{sb.url}/_sandbox/hubspot", timeout=10).json()["contacts"]
    by_email = {c["properties"]["email"]: c["properties"] for c in contacts.values()}
    assert len(by_email) == len(contacts) == len(expected), "one contact per address, none twice"
    for email, (name, at) in expected.items():
        props = by_email[email.lower()]
        assert props["cdp_last_journey_event"] == name
        assert props["cdp_last_journey_event_at"] == at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    calls = sb.stats()["hubspot_upsert_calls"]
    again = run_sync(load_syncs()[HUBSPOT], wh.db_path, make_destination)
    assert again.planned == 0 and sb.stats()["hubspot_upsert_calls"] == calls, "a second run sends nothing"


DAGSTER_PROBE = """
import dagster as dg
from orchestration.sync_assets import sync_assets
asset = next(a for a in sync_assets if a.key.to_user_string() == "sync_journey_events_all")
def launch(**config):
    return dg.materialize([asset], raise_on_error=False,
                          run_config={"ops": {"sync_journey_events_all": {"config": config}}})
dry = launch(dry_run=True)
meta = dry.asset_materializations_for_node("sync_journey_events_all")[0].metadata
print("dry:", meta["status"].value, meta["created"].value, meta["sent"].value)
done = launch()
meta = done.asset_materializations_for_node("sync_journey_events_all")[0].metadata
print("run:", meta["status"].value, meta["sent"].value, meta["succeeded"].value)
bad = launch(full_resync=True)
failure = [e for e in bad.all_events if e.event_type_value == "STEP_FAILURE"][0]
print("failure:", failure.step_failure_data.user_failure_data.description)
print("attempts:", len([e for e in bad.all_events if e.event_type_value == "STEP_START"]))
"""


def test_the_events_sync_is_a_dagster_asset_with_the_launchpad_options(env, tmp_path):
    wh, sb = env
    events = set(pending(wh, ALL))
    expected = len(events)
    home = tmp_path / "dagster"
    home.mkdir()
    proc = subprocess.run([sys.executable, "-c", DAGSTER_PROBE], env=dict(os.environ, DAGSTER_HOME=str(home)),
                          capture_output=True, text=True, cwd=PROJECT_DIR, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"dry: dry_run {expected} 0" in proc.stdout, "a dry run plans the events and sends none"
    assert f"run: success {expected} {expected}" in proc.stdout
    assert "failure: sync journey_events_all failed: InputError: --full-resync does not apply to an events sync" \
        in proc.stdout
    assert "attempts: 1" in proc.stdout, "a configuration error is not retried"
    counts = accepted(sb)
    assert set(counts) == events and set(counts.values()) == {1}
