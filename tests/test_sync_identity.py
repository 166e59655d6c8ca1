"""Identity changes, in-doubt writes, destination binding, bad input and concurrency, over real HTTP to the
CRM sandbox with a small hand-made warehouse (no dbt build: these run in seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sync.destinations import make_destination
from sync.engine import run_sync
from sync.lock import SyncLock
from sync.sandbox import Sandbox, start_sandbox
from sync.state import StateStore
from tests.sync_support import TinyWarehouse, by_person, config, sandbox_for, sync, hubspot_live, person


@pytest.fixture
def sandbox(monkeypatch):
    with sandbox_for(monkeypatch) as sb:
        yield sb


@pytest.fixture
def tw(tmp_path: Path) -> TinyWarehouse:
    w = TinyWarehouse(tmp_path / "warehouse.duckdb")
    w.write([person(i) for i in range(1, 6)])
    return w


def sf_records(sb: Sandbox) -> dict[str, dict]:
    return requests.get(f"{sb.url}/_sandbox/salesforce", timeout=10).json()["records"]


def test_email_change_updates_the_same_contact(sandbox, tw):
    assert sync(tw).status == "success"
    before = by_person(sandbox.url)
    tw.write([person(1, email="new.address@example.com")] + [person(i) for i in range(2, 6)])
    s = sync(tw)
    assert (s.status, s.updated, s.created) == ("success", 1, 0)
    after = by_person(sandbox.url)
    assert len(after["p0001"]) == 1 and after["p0001"][0]["id"] == before["p0001"][0]["id"]
    assert after["p0001"][0]["email"] == "new.address@example.com"
    assert len(hubspot_live(sandbox.url)) == 5


def test_first_sync_enriches_a_contact_made_in_the_crm(sandbox, tw):
    token = sandbox.client_env()["HUBSPOT_ACCESS_TOKEN"]
    made = requests.post(f"{sandbox.url}/crm/v3/objects/contacts/batch/upsert", timeout=10,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"inputs": [{"idProperty": "email", "id": "person3@example.com",
                                           "properties": {"firstname": "Typed by sales"}}]}).json()
    sync(tw)
    contacts = by_person(sandbox.url)
    assert contacts["p0003"][0]["id"] == made["results"][0]["id"] and len(hubspot_live(sandbox.url)) == 5


def test_merge_and_deletion_follow_the_identity_graph(sandbox, tw):
    sync(tw)
    sync(tw, "salesforce_contacts")
    ids = {p: c[0]["id"] for p, c in by_person(sandbox.url).items()}
    # p0002 merged into p0001; p0005's records were deleted upstream; p0006 split off p0003 with its own email
    tw.write([person(1), person(3), person(4), person(6)], merges=[("p0002", "p0001")])
    s = sync(tw)
    assert (s.status, s.merged, s.archived, s.created) == ("success", 1, 1, 1), s
    live = by_person(sandbox.url)
    assert set(live) == {"p0001", "p0003", "p0004", "p0006"} and all(len(v) == 1 for v in live.values())
    assert live["p0006"][0]["id"] != ids["p0003"], "a split gets its own object"
    hs = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()
    assert hs["merged_into"] == {ids["p0002"]: ids["p0001"]} and ids["p0005"] in hs["archived"]
    sf = sync(tw, "salesforce_contacts")
    assert (sf.status, sf.merged, sf.archived) == ("success", 1, 1)
    assert set(sf_records(sandbox)) == {"p0001", "p0003", "p0004", "p0006"}, "Salesforce deletes the retired Contact"
    runs = tw.sql("select sync_name, merged, archived from cdp_sync.sync_runs where merged > 0 order by sync_name")
    assert runs == [("hubspot_contacts", 1, 1), ("salesforce_contacts", 1, 1)]
    log = tw.sql("select record_key, action, ok from cdp_sync.sync_record_log where sync_name = 'hubspot_contacts' "
                 "and action in ('merge', 'archive') order by record_key")
    assert log == [("p0002", "merge", True), ("p0005", "archive", True)]
    assert {k for (k,) in tw.sql("select record_key from cdp_sync.sync_state where sync_name = 'hubspot_contacts'")} == {
        "p0001", "p0003", "p0004", "p0006"}
    again = sync(tw)
    assert (again.planned, again.status) == (0, "success")


def test_a_lost_write_is_sent_again_even_when_the_value_returns(sandbox, tw):
    sync(tw)
    tw.write([person(1, first_name="Changed")] + [person(i) for i in range(2, 6)])
    sandbox.configure(lost_rate=1.0)
    lost = sync(tw)
    assert lost.failed == 1 and lost.status == "failed"
    assert by_person(sandbox.url)["p0001"][0]["firstname"] == "Changed", "the write was applied, its answer lost"
    sandbox.configure(lost_rate=0.0)
    tw.write([person(i) for i in range(1, 6)])  # back to the value state still holds
    s = sync(tw)
    assert s.updated == 1 and s.succeeded == 1
    assert by_person(sandbox.url)["p0001"][0]["firstname"] == "First1"


def test_state_is_bound_to_its_destination(sandbox, tw, monkeypatch):
    first = sync(tw)
    other = start_sandbox()
    try:
        monkeypatch.setenv("HUBSPOT_BASE_URL", other.url)
        s = sync(tw)
        assert s.created == 5 and s.destination_key != first.destination_key
        assert len(hubspot_live(other.url)) == 5, "another portal starts its own state and gets every record"
    finally:
        other.stop()
    keys = tw.sql("select destination_key, count(*) from cdp_sync.sync_state group by 1 order by 1")
    assert len(keys) == 2 and all(k.startswith("sandbox:hubspot:portal-") and n == 5 for k, n in keys)
    # a real portal's state survives a sandbox reset (what `make run` does when it starts a new sandbox)
    store = StateStore(tw.db_path)
    with store.connect() as con:
        con.execute("insert into cdp_sync.sync_state (sync_name, destination_key, record_key, payload_hash, payload, "
                    "destination_id, last_synced_at) values ('hubspot_contacts', 'hubspot:portal-42', 'p0001', 'h', "
                    "'{}', '7', now()::timestamp)")
    store.reset("hubspot_contacts")
    assert tw.sql("select destination_key from cdp_sync.sync_state") == [("hubspot:portal-42",)]


def test_bulk_path_clears_fields_with_na(sandbox, tw):
    sync(tw, "salesforce_contacts", bulk_threshold=1)
    assert sf_records(sandbox)["p0001"]["Phone"] == person(1)["phone"]
    tw.write([person(1, phone=None)] + [person(i) for i in range(2, 6)])
    s = sync(tw, "salesforce_contacts", bulk_threshold=1)
    assert s.status == "success" and s.updated == 1
    assert sandbox.stats()["salesforce_bulk_jobs"] == 2
    assert sf_records(sandbox)["p0001"]["Phone"] is None, "a blank CSV cell would have left the old phone"


def test_webhook_resend_after_a_lost_answer_is_dropped_as_a_replay(sandbox, tw):
    sandbox.configure(lost_rate=1.0)
    assert sync(tw, "marketing_webhook").failed == 5
    sandbox.configure(lost_rate=0.0)
    assert sync(tw, "marketing_webhook").status == "success"
    stats = sandbox.stats()
    # every retry of the first run and the resend of the second carry the ids of changes already applied
    assert stats["webhook_replays_dropped"] >= 5 and stats["webhook_contacts"] == 5


def test_bad_input_is_reported_not_sent(sandbox, tw):
    tw.write([person(1), person(2), person(2, email="twin@example.com"), person(3, person_id=None)])
    s = sync(tw)
    assert s.invalid == 3 and s.failures_by_code == {"DUPLICATE_KEY": 2, "NULL_KEY": 1}
    assert set(by_person(sandbox.url)) == {"p0001"}
    codes = tw.sql("select record_key, error_code, action from cdp_sync.sync_failures order by 1, 2")
    assert codes == [("(null key, row 4)", "NULL_KEY", "input"), ("p0002", "DUPLICATE_KEY", "input")]
    tw.write([person(1), person(2), person(3)])  # the model is fixed: the input failures close
    fixed = sync(tw)
    assert (fixed.status, fixed.created) == ("success", 2)
    assert tw.sql("select count(*) from cdp_sync.sync_failures") == [(0,)]


def test_every_abort_finishes_its_run_row(sandbox, tw):
    s = sync(tw, key="no_such_column")
    assert s.status == "failed" and "has no column no_such_column" in s.error
    s2 = sync(tw, model="no_such_model")
    assert s2.status == "failed" and "is not in the warehouse" in s2.error
    rows = tw.sql("select status, error from cdp_sync.sync_runs order by started_at")
    assert [r[0] for r in rows] == ["failed", "failed"] and "no_such_column" in rows[0][1]


def test_one_run_per_sync_at_a_time(sandbox, tw):
    lock = SyncLock.acquire(tw.db_path, "hubspot_contacts", "abcdef1234")
    try:
        s = sync(tw)
        assert s.status == "locked" and "already running (run abcdef12" in s.error
        assert sync(tw, "salesforce_contacts").status == "success", "other syncs are not blocked"
    finally:
        lock.release()
    assert sync(tw).status == "success"
    assert [r[0] for r in tw.sql("select sync_name from cdp_sync.sync_runs where sync_name = 'hubspot_contacts'")] == [
        "hubspot_contacts"], "the locked attempt did not start (or abandon) a run"


def test_warehouse_is_free_while_http_waits(sandbox, tw):
    """A writer (like dbt) can use the warehouse while a sync is waiting on slow HTTP."""
    import threading

    import duckdb

    sandbox.configure(latency_ms=300)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("s", sync(tw, batch_size=1)))
    t.start()
    import time

    time.sleep(1.0)
    writes = 0
    while t.is_alive() and writes < 3:
        with duckdb.connect(str(tw.db_path)) as con:  # would fail with a lock error if the sync held the file
            con.execute("create or replace table side_write as select 1 as x")
        writes += 1
        time.sleep(0.2)
    t.join()
    assert writes >= 1 and result["s"].status == "success"


def test_status_and_failures_commands(sandbox, tw):
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import PROJECT_DIR

    cdp = str(Path(sys.executable).with_name("cdp"))
    env = dict(os.environ, CDP_DUCKDB_PATH=str(tw.db_path))
    before = subprocess.run([cdp, "sync", "status"], env=env, capture_output=True, text=True, cwd=PROJECT_DIR)
    assert before.returncode == 0 and "hubspot_contacts" in before.stdout and "never" in before.stdout
    assert not (tw.db_path.parent / "cdp_sync").exists()
    tw.write([person(1), person(2), person(2, email="twin@example.com")])
    sync(tw)
    status = subprocess.run([cdp, "sync", "status"], env=env, capture_output=True, text=True, cwd=PROJECT_DIR)
    line = next(ln for ln in status.stdout.splitlines() if ln.startswith("hubspot_contacts"))
    assert "partial" not in line and "failed" in line and "DUPLICATE_KEY 1" in line, status.stdout
    out = subprocess.run([cdp, "sync", "failures", "hubspot_contacts", "--json"], env=env, capture_output=True,
                         text=True, cwd=PROJECT_DIR)
    rows = json.loads(out.stdout)
    assert [(r["record_key"], r["error_code"], r["attempts"]) for r in rows] == [("p0002", "DUPLICATE_KEY", 1)]
    text = subprocess.run([cdp, "sync", "failures", "hubspot_contacts"], env=env, capture_output=True, text=True,
                          cwd=PROJECT_DIR).stdout
    assert "1 open failures" in text and "p0002" in text


def test_custom_properties_are_typed(sandbox, tw):
    tw.write([person(1, segments="high_value;at_risk"), person(2, segments=""), person(3)])
    assert sync(tw).status == "success"
    token = sandbox.client_env()["HUBSPOT_ACCESS_TOKEN"]

    def prop(name: str) -> dict:
        return requests.get(f"{sandbox.url}/crm/v3/properties/contacts/{name}", timeout=10,
                            headers={"Authorization": f"Bearer {token}"}).json()

    assert (prop("cdp_lifetime_value")["type"], prop("cdp_order_count")["type"]) == ("number", "number")
    seg = prop("cdp_segments")
    assert (seg["type"], seg["fieldType"]) == ("enumeration", "checkbox")
    assert sorted(o["value"] for o in seg["options"]) == ["active", "at_risk", "high_value"]
    assert prop("cdp_person_id")["type"] == "string"
    # a segment that did not exist yet: its option is added before the value is sent
    tw.write([person(1, segments="high_value;at_risk"), person(2, segments="new_customers"), person(3)])
    assert sync(tw).status == "success"
    assert "new_customers" in [o["value"] for o in prop("cdp_segments")["options"]]
    contacts = {c["properties"]["cdp_person_id"]: c["properties"] for c in hubspot_live(sandbox.url).values()}
    assert contacts["p0002"]["cdp_segments"] == "new_customers"
    assert contacts["p0001"]["cdp_lifetime_value"] == "10.50"


def test_sandbox_page_lists_open_failures(sandbox, tw):
    tw.write([person(1), person(2, email="broken@mail.invalid")])
    sync(tw)
    sync(tw, "salesforce_contacts")
    page = requests.get(f"{sandbox.url}/", timeout=10).text
    failures = page.split('<table id="failures">')[1]
    assert "broken@mail.invalid" in failures and "VALIDATION_ERROR" in failures  # in the message
    assert "p0002" in failures and "INVALID_EMAIL_ADDRESS" in failures, "the Salesforce rejection, by external id"
    assert "person1@example.com" not in failures
    tw.write([person(1), person(2, email="fixed@example.com")])
    sync(tw)
    sync(tw, "salesforce_contacts")
    page = requests.get(f"{sandbox.url}/", timeout=10).text
    assert "<tbody></tbody></table></body>" in page, "written since: no longer open"


def test_privacy_delete_action_removes_records_past_the_guard(sandbox, tw):
    """The hook for privacy erasure: keys to erase are deleted where they were sent (HubSpot gdpr-delete,
    Salesforce Collections DELETE, a webhook `delete` event), never sent again, and not blocked by
    max_clear_share even when they are most of the synced records."""
    for name in ("hubspot_contacts", "salesforce_contacts", "marketing_webhook"):
        assert sync(tw, name).status == "success"
    erase = {"p0001", "p0002", "p0003"}
    for name in ("hubspot_contacts", "salesforce_contacts", "marketing_webhook"):
        s = run_sync(config(name), tw.db_path, make_destination, erase_keys=erase)
        assert (s.status, s.deleted, s.created, s.updated) == ("success", 3, 0, 0), (name, s)
    hs = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()
    people = {c["properties"]["cdp_person_id"] for c in list(hs["contacts"].values()) + list(hs["archived"].values())}
    assert people == {"p0004", "p0005"}, "deleted permanently, not archived"
    assert set(sf_records(sandbox)) == {"p0004", "p0005"}
    hook = requests.get(f"{sandbox.url}/_sandbox/webhook", timeout=10).json()
    assert set(hook["records"]) == {"p0004", "p0005"} and erase <= set(hook["deleted"])
    assert tw.sql("select count(*) from cdp_sync.sync_state where list_contains(?, record_key)", [sorted(erase)]) == [(0,)]
    assert tw.sql("select sum(deleted) from cdp_sync.sync_runs") == [(9,)]
    again = run_sync(config("hubspot_contacts"), tw.db_path, make_destination, erase_keys=erase)
    assert (again.planned, again.created) == (0, 0), "erased people stay out while the request stands"
