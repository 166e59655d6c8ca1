"""The sync over real HTTP against the CRM sandbox (a separate process on a loopback port)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from datagen.sample_data import generate
from sync.config import load_syncs
from sync.sandbox import Sandbox, start_sandbox
from tests.conftest import PROJECT_DIR, Warehouse, build_warehouse, dbt

CDP = str(Path(sys.executable).with_name("cdp"))
INVALID_EMAILS = ["zed.one@mail.invalid", "zed.two@shop.test"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("sync")
    raw = root / "raw"
    generate(1_500, 21, raw)
    with (raw / "crm_contacts.csv").open("a", encoding="utf-8") as fh:
        for i, email in enumerate(INVALID_EMAILS):
            fh.write(f"CBAD{i},{email},,Zed,Bad{i},,,,US,lead,2026-01-01,2026-01-01\n")
    return build_warehouse(raw, root / "warehouse.duckdb")


@pytest.fixture
def wh(built: Warehouse, tmp_path: Path) -> Warehouse:
    """A private copy of the built warehouse (and its raw folder) per test: sync state starts empty."""
    raw = tmp_path / "raw"
    shutil.copytree(built.raw_dir, raw)
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(built.db_path, db)
    return Warehouse(raw, db)


@pytest.fixture
def sandbox():
    sb = start_sandbox()
    yield sb
    sb.stop()


def run(sb: Sandbox, wh: Warehouse, name: str, *args: str, env: dict | None = None, check_rc: int | None = None):
    e = dict(os.environ, **sb.client_env(), CDP_DUCKDB_PATH=str(wh.db_path), **(env or {}))
    proc = subprocess.run([CDP, "sync", "run", name, "--quiet", *args], env=e, capture_output=True, text=True,
                          cwd=PROJECT_DIR, timeout=600)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stdout + proc.stderr
    return proc


def last_run(wh: Warehouse, name: str) -> dict:
    cur = wh.sql(f"select * from cdp_sync.sync_runs where sync_name = '{name}' order by started_at desc limit 1")
    cols = [r[0] for r in wh.sql("select column_name from information_schema.columns where table_schema = 'cdp_sync' "
                                 "and table_name = 'sync_runs' order by ordinal_position")]
    return dict(zip(cols, cur[0]))


def hubspot_contacts(sb: Sandbox) -> dict[str, dict]:
    out, after = {}, 0
    headers = {"Authorization": f"Bearer {sb.client_env()['HUBSPOT_ACCESS_TOKEN']}"}
    while True:
        body = requests.get(f"{sb.url}/crm/v3/objects/contacts", params={"limit": 100, "after": after},
                            headers=headers, timeout=10).json()
        for item in body["results"]:
            out[item["properties"]["email"]] = item["properties"]
        if "paging" not in body:
            return out
        after = int(body["paging"]["next"]["after"])


def expected_hubspot(wh: Warehouse) -> dict[str, dict]:
    rows = wh.sql("select email, person_id, first_name, lifetime_value, order_count, email_consent, segments "
                  "from sync_hubspot__contacts")
    return {r[0]: {"cdp_person_id": r[1], "firstname": r[2] or "", "cdp_lifetime_value": f"{r[3]:.2f}",
                   "cdp_order_count": str(r[4]), "cdp_email_consent": r[5], "cdp_segments": r[6]} for r in rows}


def assert_hubspot_matches(sb: Sandbox, wh: Warehouse) -> None:
    expected = expected_hubspot(wh)
    actual = hubspot_contacts(sb)
    valid = {e: v for e, v in expected.items() if e not in INVALID_EMAILS}
    assert set(actual) == set(valid)
    wrong = [e for e, props in valid.items() if any(actual[e].get(k) != v for k, v in props.items())]
    assert not wrong, [(e, valid[e], actual[e]) for e in wrong[:3]]


def test_first_sync_creates_everything_and_second_sends_nothing(sandbox, wh):
    proc = run(sandbox, wh, "hubspot_contacts", check_rc=1)  # rc 1: the planted invalid emails failed
    assert "VALIDATION_ERROR" in proc.stdout
    assert_hubspot_matches(sandbox, wh)
    stats = sandbox.stats()
    assert stats["hubspot_creates"] == stats["hubspot_contacts"] == len(expected_hubspot(wh)) - len(INVALID_EMAILS)
    assert stats["property_creates"] == len(load_syncs()["hubspot_contacts"].custom_properties)
    calls = stats["hubspot_upsert_calls"]

    run(sandbox, wh, "hubspot_contacts")
    second = last_run(wh, "hubspot_contacts")
    assert second["planned"] == len(INVALID_EMAILS), "only the failed records are tried again"
    assert second["succeeded"] == 0 and second["failed"] == len(INVALID_EMAILS)
    stats2 = sandbox.stats()
    assert stats2["hubspot_creates"] == stats["hubspot_creates"] and stats2["hubspot_updates"] == 0
    assert stats2["hubspot_upsert_calls"] - calls <= 2


def test_invalid_emails_are_recorded_as_failures_while_the_rest_arrive(sandbox, wh):
    run(sandbox, wh, "hubspot_contacts")
    failures = wh.sql("select s.email, f.error_code, f.attempts from cdp_sync.sync_failures f "
                      "join sync_hubspot__contacts s on s.person_id = f.record_key where f.sync_name = 'hubspot_contacts'")
    assert sorted(f[0] for f in failures) == sorted(INVALID_EMAILS)
    assert {f[1] for f in failures} == {"VALIDATION_ERROR"}
    run(sandbox, wh, "hubspot_contacts")
    assert {a for *_, a in wh.sql("select 0, 0, attempts from cdp_sync.sync_failures")} == {2}
    assert_hubspot_matches(sandbox, wh)


def test_changing_one_raw_record_sends_exactly_that_record(sandbox, wh):
    run(sandbox, wh, "hubspot_contacts")
    # a person with exactly one CRM contact row, joined by its email (a new first name cannot split it off) and
    # no shop account (whose first name could win the survivorship tie), with an email in the sync model
    contact_id, person_id = wh.sql("""
        select pr.source_record_id, pr.person_id from person_records pr
        join sync_hubspot__contacts s on s.person_id = pr.person_id
        join customer_profiles p on p.person_id = pr.person_id
        join stg_crm__contacts c on c.crm_contact_id = pr.source_record_id and c.email = s.email
        where pr.source_name = 'crm_contacts' and p.crm_contact_id_count = 1
            and p.sources not like '%shop_customers%'
        order by pr.source_record_id limit 1""")[0]
    path = wh.raw_dir / "crm_contacts.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith(f"{contact_id},"):  # every version of that contact gets a new first name
            parts = line.rstrip("\n").split(",")
            parts[3] = "Renamed"
            lines[i] = ",".join(parts) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    dbt(wh.raw_dir, wh.db_path, "build")
    before = sandbox.stats()
    run(sandbox, wh, "hubspot_contacts")
    summary = last_run(wh, "hubspot_contacts")
    assert summary["updated"] == 1
    assert summary["created"] == len(INVALID_EMAILS), "only the still-failing records are tried again"
    assert summary["succeeded"] == 1
    after = sandbox.stats()
    assert after["hubspot_updates"] - before["hubspot_updates"] == 1
    assert wh.sql("select record_key from cdp_sync.sync_state where payload like '%Renamed%'") == [(person_id,)]
    assert_hubspot_matches(sandbox, wh)


def test_faults_and_lost_responses_lose_nothing_and_duplicate_nothing(sandbox, wh):
    sandbox.configure(fail_rate=0.1, lost_rate=0.1, seed=7)
    for _ in range(3):
        run(sandbox, wh, "hubspot_contacts")
        open_failures = "select count(*) from cdp_sync.sync_failures where error_code <> 'VALIDATION_ERROR'"
        if wh.scalar(open_failures) == 0:
            break
    stats = sandbox.stats()
    assert stats["injected_failures"] > 0 and stats["lost_responses"] > 0
    assert last_run(wh, "hubspot_contacts")["retries"] >= 0
    sandbox.configure(fail_rate=0, lost_rate=0)
    assert_hubspot_matches(sandbox, wh)
    expected = len(expected_hubspot(wh)) - len(INVALID_EMAILS)
    assert stats["hubspot_contacts"] == stats["hubspot_creates"] == expected, "each record arrived once"


def test_sync_killed_mid_run_loses_and_duplicates_nothing(sandbox, wh, tmp_path):
    config = yaml.safe_load((PROJECT_DIR / "sync" / "syncs.yml").read_text())
    for s in config["syncs"]:
        if s["name"] == "hubspot_contacts":
            s["batch_size"] = 20
    cfg_file = tmp_path / "syncs.yml"
    cfg_file.write_text(yaml.safe_dump(config))
    sandbox.configure(latency_ms=40)
    e = dict(os.environ, **sandbox.client_env(), CDP_DUCKDB_PATH=str(wh.db_path), CDP_SYNCS_FILE=str(cfg_file))
    proc = subprocess.Popen([CDP, "sync", "run", "hubspot_contacts", "--quiet"], env=e, cwd=PROJECT_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while sandbox.stats()["hubspot_creates"] < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = sandbox.stats()["hubspot_creates"]
    expected = len(expected_hubspot(wh)) - len(INVALID_EMAILS)
    assert 0 < killed_at < expected, "killed in the middle"
    sandbox.configure(latency_ms=0)
    run(sandbox, wh, "hubspot_contacts", env={"CDP_SYNCS_FILE": str(cfg_file)})
    stats = sandbox.stats()
    assert stats["hubspot_contacts"] == stats["hubspot_creates"] == expected
    assert_hubspot_matches(sandbox, wh)
    statuses = [r[0] for r in wh.sql("select status from cdp_sync.sync_runs order by started_at")]
    assert statuses == ["abandoned", "partial"]


def test_opted_out_persons_never_reach_the_marketing_webhook(sandbox, wh):
    run(sandbox, wh, "marketing_webhook", check_rc=0)
    received = requests.get(f"{sandbox.url}/_sandbox/webhook", timeout=10).json()["records"]
    unsubscribed = {r[0] for r in wh.sql("select person_id from customer_profiles where email_consent = 'unsubscribed'")}
    assert unsubscribed and received
    assert not (set(received) & unsubscribed)
    assert all(r["email_consent"] != "unsubscribed" for r in received.values())
    assert len(received) == wh.scalar("select count(*) from sync_webhook__marketing_contacts")

    # someone unsubscribes: the mirror sync removes them from the marketing tool
    person_id, email = wh.sql("select person_id, email from sync_webhook__marketing_contacts order by person_id limit 1")[0]
    with (wh.raw_dir / "email_consents.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"{email},unsubscribed,preference_center,2026-10-01T00:00:00Z\n")
    dbt(wh.raw_dir, wh.db_path, "build")
    run(sandbox, wh, "marketing_webhook", check_rc=0)
    after = requests.get(f"{sandbox.url}/_sandbox/webhook", timeout=10).json()
    assert person_id not in after["records"] and person_id in after["deleted"]
    assert last_run(wh, "marketing_webhook")["cleared"] == 1


def test_salesforce_upsert_by_external_id(sandbox, wh):
    run(sandbox, wh, "salesforce_contacts", check_rc=1)  # the planted invalid emails fail
    records = requests.get(f"{sandbox.url}/_sandbox/salesforce", timeout=10).json()["records"]
    expected = wh.scalar("select count(*) from sync_salesforce__contacts")
    assert len(records) == expected - len(INVALID_EMAILS)
    codes = {r[0] for r in wh.sql("select error_code from cdp_sync.sync_failures where sync_name = 'salesforce_contacts'")}
    assert codes == {"INVALID_EMAIL_ADDRESS"}
    run(sandbox, wh, "salesforce_contacts")
    assert sandbox.stats()["salesforce_updates"] == 0


def test_dry_run_sends_nothing(sandbox, wh):
    files_before = sorted(p.name for p in wh.db_path.parent.iterdir())
    proc = run(sandbox, wh, "hubspot_contacts", "--dry-run", check_rc=0)
    assert "would create" in proc.stdout and "invalid 0" in proc.stdout
    assert sandbox.stats()["hubspot_upsert_calls"] == 0 and sandbox.stats()["property_creates"] == 0
    # a dry run changes nothing at all: no sync schema, no run or failure rows, no lock file
    assert wh.scalar("select count(*) from information_schema.schemata where schema_name = 'cdp_sync'") == 0
    assert sorted(p.name for p in wh.db_path.parent.iterdir()) == files_before


def test_sandbox_page_shows_enriched_fields_in_chromium(sandbox, wh, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make test` (Debian package chromium)"
    run(sandbox, wh, "hubspot_contacts")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", f"{sandbox.url}/"], capture_output=True, text=True,
                         timeout=120).stdout
    shot = tmp_path / "sandbox.png"
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1400,900", f"{sandbox.url}/"],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 5000
    # the page lists contacts in HubSpot id order: pick ones it shows and check the warehouse values
    buyers = [p for p in hubspot_contacts(sandbox).values() if p["cdp_lifetime_value"] != "0.00"][:5]
    assert buyers
    assert "cdp_lifetime_value" in dom and "cdp_segments" in dom
    for props in buyers:
        ltv = wh.scalar(f"select lifetime_value from customer_profiles where person_id = '{props['cdp_person_id']}'")
        assert props["cdp_person_id"] in dom and f"{ltv:.2f}" in dom
    assert "HubSpot contacts" in dom


def test_large_salesforce_runs_use_bulk_api_2(sandbox, wh, tmp_path):
    config = yaml.safe_load((PROJECT_DIR / "sync" / "syncs.yml").read_text())
    for s in config["syncs"]:
        if s["name"] == "salesforce_contacts":
            s["bulk_threshold"] = 100  # the test data is small: make it "large"
    cfg_file = tmp_path / "syncs.yml"
    cfg_file.write_text(yaml.safe_dump(config))
    run(sandbox, wh, "salesforce_contacts", env={"CDP_SYNCS_FILE": str(cfg_file)}, check_rc=1)
    stats = sandbox.stats()
    assert stats["salesforce_bulk_jobs"] == 1 and stats["salesforce_calls"] == 0, "one bulk job, no collections"
    records = requests.get(f"{sandbox.url}/_sandbox/salesforce", timeout=10).json()["records"]
    expected = dict(wh.sql("select person_id, email from sync_salesforce__contacts"))
    assert set(records) == {p for p, e in expected.items() if e not in INVALID_EMAILS}
    assert all(records[p].get("Email") == expected[p] for p in records)
    codes = {r[0] for r in wh.sql("select error_code from cdp_sync.sync_failures where sync_name = 'salesforce_contacts'")}
    assert codes == {"INVALID_EMAIL_ADDRESS"}
    state_ids = {r[0] for r in wh.sql(
        "select destination_id from cdp_sync.sync_state where sync_name = 'salesforce_contacts'")}
    assert state_ids == {r["Id"] for r in records.values()}, "state keeps the Salesforce ids from the bulk results"
    run(sandbox, wh, "salesforce_contacts", env={"CDP_SYNCS_FILE": str(cfg_file)})
    assert sandbox.stats()["salesforce_updates"] == 0


def live_by_person_hubspot(sb: Sandbox) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for hs_id, c in requests.get(f"{sb.url}/_sandbox/hubspot", timeout=10).json()["contacts"].items():
        out.setdefault(c["properties"].get("cdp_person_id", ""), []).append(hs_id)
    return out


def sync_until_settled(sb: Sandbox, wh: Warehouse, name: str, rounds: int = 6) -> None:
    """Faulty destinations: run again until only the planted invalid emails are still failing."""
    for _ in range(rounds):
        run(sb, wh, name)
        left = wh.scalar(f"select count(*) from cdp_sync.sync_failures where sync_name = '{name}' "
                         "and error_code not in ('VALIDATION_ERROR', 'INVALID_EMAIL_ADDRESS')")
        if left == 0:
            return
    raise AssertionError(f"{name}: {left} records still failing after {rounds} runs")


def test_holdout_identity_changes_under_faults(sandbox, wh):
    """Build, sync, then change one person's email, merge two persons through a new raw record and delete a
    person's raw rows; rebuild and sync again, with 15% injected 5xx and 10% lost responses throughout:
    exactly one live CRM object per current person, and none for a person id that is not current."""
    sandbox.configure(fail_rate=0.15, lost_rate=0.10, seed=11)
    for name in ("hubspot_contacts", "salesforce_contacts"):
        sync_until_settled(sandbox, wh, name)
    singles = [r[0] for r in wh.sql("""
        select pr.person_id from person_records pr
        join sync_hubspot__contacts h using (person_id) join sync_salesforce__contacts s using (person_id)
        group by pr.person_id having count(*) = 1 and min(pr.source_name) = 'crm_contacts'
        order by pr.person_id limit 3""")]
    changed, merged_a, deleted = singles
    contact = dict(wh.sql("select person_id, source_record_id from person_records where list_contains(?, person_id)",
                          [singles]))
    shop_person, shop_id = wh.sql("""
        select pr.person_id, pr.source_record_id from person_records pr
        join sync_hubspot__contacts using (person_id) join sync_salesforce__contacts using (person_id)
        where pr.source_name = 'shop_customers' and not list_contains(?, pr.person_id)
        order by pr.person_id limit 1""", [singles])[0]
    email_a = wh.scalar(f"select email from sync_hubspot__contacts where person_id = '{merged_a}'")
    hs_before = live_by_person_hubspot(sandbox)

    crm = wh.raw_dir / "crm_contacts.csv"
    lines = crm.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = []
    for line in lines:
        cid = line.split(",", 1)[0]
        if cid == contact[deleted]:
            continue  # the person's raw rows are deleted
        if cid == contact[changed]:
            parts = line.rstrip("\n").split(",")
            parts[1] = "holdout.changed@fastmail.com"
            line = ",".join(parts) + "\n"
        kept.append(line)
    crm.write_text("".join(kept), encoding="utf-8")
    with (wh.raw_dir / "shop_orders.csv").open("a", encoding="utf-8") as fh:  # one order joins two persons
        fh.write(f"OHOLDOUT1,{shop_id},{email_a},paid,USD,10.00,2026-06-01T10:00:00Z\n")
    dbt(wh.raw_dir, wh.db_path, "build")

    merge = wh.sql("select from_person_id, to_person_id from person_id_history where change_type = 'merge' "
                   "and list_contains(?, from_person_id)", [[merged_a, shop_person]])
    assert len(merge) == 1, "the new order merged the two persons"
    retired, survivor = merge[0]
    for name in ("hubspot_contacts", "salesforce_contacts"):
        sync_until_settled(sandbox, wh, name)
    stats = sandbox.stats()
    assert stats["injected_failures"] > 0 and stats["lost_responses"] > 0

    invalid = {r[0] for r in wh.sql("select person_id from sync_hubspot__contacts where list_contains(?, email)",
                                    [INVALID_EMAILS])}
    current_hs = {r[0] for r in wh.sql("select person_id from sync_hubspot__contacts")} - invalid
    live = live_by_person_hubspot(sandbox)
    assert set(live) == current_hs, (set(live) - current_hs, current_hs - set(live))
    assert all(len(ids) == 1 for ids in live.values()), {p: i for p, i in live.items() if len(i) > 1}
    assert live[changed] == hs_before[changed], "the email change updated the same contact"
    hs = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()
    assert hs["merged_into"].get(hs_before[retired][0]) == live[survivor][0]
    assert hs_before[deleted][0] in hs["archived"]
    assert hs["contacts"][live[changed][0]]["properties"]["email"] == "holdout.changed@fastmail.com"

    current_sf = {r[0] for r in wh.sql("select person_id from sync_salesforce__contacts where not list_contains(?, email) "
                                       "or email is null", [INVALID_EMAILS])}
    sf = requests.get(f"{sandbox.url}/_sandbox/salesforce", timeout=10).json()["records"]
    assert set(sf) == current_sf and retired not in sf and deleted not in sf
    runs = wh.sql("select sync_name, sum(merged), sum(archived) from cdp_sync.sync_runs group by 1 order by 1")
    assert [(n, m >= 1, a >= 1) for n, m, a in runs] == [("hubspot_contacts", True, True),
                                                        ("salesforce_contacts", True, True)]
