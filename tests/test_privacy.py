"""Privacy requests end to end: a real dbt build into a real DuckDB file, syncs over real HTTP to the CRM
sandbox, `cdp privacy request`, rebuild, sync again; then the CRMs, the webhook, every text column of every
table of the warehouse file, a re-delivered raw row and the audit log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
import requests

from cdp.privacy_cli import append_request
from datagen.sample_data import generate
from sync.privacy import privacy_hash
from sync.sandbox import Sandbox, start_sandbox
from tests.conftest import PROJECT_DIR, Warehouse, build_warehouse, dbt

CDP = str(Path(sys.executable).with_name("cdp"))
SYNCS = ["hubspot_contacts", "salesforce_contacts", "marketing_webhook"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("privacy")
    generate(600, 33, root / "raw")
    return build_warehouse(root / "raw", root / "warehouse.duckdb")


@pytest.fixture
def wh(built: Warehouse, tmp_path: Path) -> Warehouse:
    raw = tmp_path / "raw"
    shutil.copytree(built.raw_dir, raw)
    shutil.copy(built.db_path, tmp_path / "warehouse.duckdb")
    return Warehouse(raw, tmp_path / "warehouse.duckdb")


@pytest.fixture
def sandbox():
    sb = start_sandbox()
    yield sb
    sb.stop()


def cdp(wh: Warehouse, *args: str, sb: Sandbox | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, CDP_DUCKDB_PATH=str(wh.db_path), CDP_RAW_DIR=str(wh.raw_dir), **(sb.client_env() if sb else {}))
    return subprocess.run([CDP, *args], env=env, capture_output=True, text=True, cwd=PROJECT_DIR, timeout=600)


def sync_all(sb: Sandbox, wh: Warehouse) -> None:
    for name in SYNCS:
        proc = cdp(wh, "sync", "run", name, "--quiet", sb=sb)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: a record the CRM refused (partial)


def scan(db_path: Path, needles: list[str]) -> list[tuple]:
    """Every text column of every table in the file: a cell equal to a needle, or containing it (quoted, for
    short ids, so `S19` does not match `S190`)."""
    hits = []
    with duckdb.connect(str(db_path), read_only=True) as con:
        for schema, table in con.execute("select schema_name, table_name from duckdb_tables()").fetchall():
            cols = [c for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                "and data_type in ('VARCHAR', 'JSON')", [schema, table]).fetchall()]
            for col in cols:
                for n in needles:
                    probe = n.lower() if len(n) >= 8 else f'"{n.lower()}"'
                    k = con.execute(f'select count(*) from "{schema}"."{table}" where lower(cast("{col}" as varchar)) = ? '
                                    f'or contains(lower(cast("{col}" as varchar)), ?)', [n.lower(), probe]).fetchone()[0]
                    if k:
                        hits.append((schema, table, col, k))
    return hits


def pick_person(wh: Warehouse) -> tuple[str, dict[str, list[str]]]:
    """A person with two emails and a phone, present in all three sync models."""
    pid = wh.scalar(
        "select g.person_id from identity_graph g "
        "join sync_webhook__marketing_contacts w on w.person_id = g.person_id "
        "join sync_salesforce__contacts s on s.person_id = g.person_id "
        "join sync_hubspot__contacts h on h.person_id = g.person_id "
        "group by g.person_id having count(distinct case when g.identifier_type = 'email' then g.identifier_value end) = 2 "
        "and count(distinct case when g.identifier_type = 'phone' then g.identifier_value end) >= 1 "
        "order by g.person_id limit 1")
    assert pid, "the generated data has a person with two emails and a phone in every sync model"
    ids: dict[str, list[str]] = {}
    for t, v in wh.sql("select identifier_type, identifier_value from identity_graph where person_id = ?", [pid]):
        ids.setdefault(t, []).append(v)
    return pid, ids


def test_erasure_end_to_end(sandbox, wh):
    sync_all(sandbox, wh)
    pid, ids = pick_person(wh)
    emails, phones = sorted(ids["email"]), ids["phone"]
    hs_id = wh.scalar(f"select destination_id from cdp_sync.sync_state where sync_name = 'hubspot_contacts' "
                      f"and record_key = '{pid}'")
    assert hs_id and hs_id in requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()["contacts"]
    records = [r for (r,) in wh.sql("select source_record_id from person_records where person_id = ?", [pid])]
    needles = [pid, *emails, *phones, *records, *(v for t, vs in ids.items() if t not in ("email", "phone") for v in vs)]
    assert scan(wh.db_path, needles), "the scan finds the person before the erasure"

    # one request naming one email, in a national-looking case and with spaces: the person's every record goes
    proc = cdp(wh, "privacy", "request", "--erase", "--email", f"  {emails[0].upper()} ", "--id", "req-1")
    assert proc.returncode == 0, proc.stderr
    assert emails[0] not in proc.stdout
    dbt(wh.raw_dir, wh.db_path, "build")
    sync_all(sandbox, wh)

    hubspot = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()
    assert hs_id not in hubspot["contacts"] and hs_id not in hubspot["archived"]
    assert not [c for c in hubspot["contacts"].values() if c["properties"].get("email") in emails]
    sf = requests.get(f"{sandbox.url}/_sandbox/salesforce", timeout=10).json()["records"]
    assert not [r for r in sf.values() if r.get("CDP_Person_Id__c") == pid]
    webhook = requests.get(f"{sandbox.url}/_sandbox/webhook", timeout=10).json()
    assert pid not in webhook["records"] and pid in webhook["deleted"]
    assert sandbox.stats()["hubspot_gdpr_deletes"] == 1
    for name in SYNCS:
        deleted = wh.scalar(f"select deleted from cdp_sync.sync_runs where sync_name = '{name}' "
                            "order by started_at desc limit 1")
        assert deleted == 1, name

    assert scan(wh.db_path, needles) == []
    log = wh.sql("select status, persons_matched, records_matched from privacy_request_log where request_id = 'req-1'")
    assert log == [("erased", 1, len(records))]
    confirmed = wh.sql("select sync_name, count(*) from cdp_sync.privacy_destination_log where request_id = 'req-1' "
                       "and person_hash = ? group by sync_name order by sync_name", [privacy_hash("person_id", pid)])
    assert confirmed == [(name, 1) for name in sorted(SYNCS)]
    shown = cdp(wh, "privacy", "log")
    assert shown.returncode == 0 and shown.stdout.count("req-1 | erasure") == 3

    # the client re-delivers an old CRM row with the erased email, and a new one with the erased phone
    with (wh.raw_dir / "crm_contacts.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"CREDELIVER1,{emails[1]},,Again,Back,,,,US,lead,2026-01-01,2026-01-01\n")
        fh.write(f"CREDELIVER2,,{phones[0]},Again,Back,,,,US,lead,2026-01-01,2026-01-01\n")
    dbt(wh.raw_dir, wh.db_path, "build")
    assert scan(wh.db_path, [*needles, "CREDELIVER1", "CREDELIVER2"]) == []
    sync_all(sandbox, wh)
    assert not [c for c in requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()["contacts"].values()
                if c["properties"].get("email") in emails]
    assert scan(wh.db_path, needles) == []

    # erasing twice is harmless; a request that matches nobody is logged, not an error
    append_request(wh.raw_dir, "erasure", emails[1], None, "req-2")
    append_request(wh.raw_dir, "erasure", "someone.else.entirely@nowhere-known.org", None, "req-3")
    dbt(wh.raw_dir, wh.db_path, "build")
    assert dict(wh.sql("select request_id, status from privacy_request_log")) == {
        "req-1": "erased", "req-2": "already_erased", "req-3": "no_match"}


def test_suppression_removes_from_destinations_and_keeps_data(sandbox, wh):
    sync_all(sandbox, wh)
    pid, ids = pick_person(wh)
    append_request(wh.raw_dir, "suppression", None, ids["phone"][0], "sup-1")
    dbt(wh.raw_dir, wh.db_path, "build")
    assert wh.scalar(f"select count(*) from customer_profiles where person_id = '{pid}'") == 1
    for model in ("sync_hubspot__contacts", "sync_salesforce__contacts", "sync_webhook__marketing_contacts"):
        assert wh.scalar(f"select count(*) from {model} where person_id = '{pid}'") == 0, model
    sync_all(sandbox, wh)
    sf = requests.get(f"{sandbox.url}/_sandbox/salesforce", timeout=10).json()["records"]
    assert not [r for r in sf.values() if r.get("CDP_Person_Id__c") == pid]
    webhook = requests.get(f"{sandbox.url}/_sandbox/webhook", timeout=10).json()
    assert pid not in webhook["records"] and pid in webhook["deleted"]
    hubspot = requests.get(f"{sandbox.url}/_sandbox/hubspot", timeout=10).json()
    assert not [c for c in hubspot["contacts"].values() if c["properties"].get("cdp_person_id") == pid]
    log = wh.sql("select status, persons_matched from privacy_request_log where request_id = 'sup-1'")
    assert log == [("suppressed", 1)]


def test_malformed_requests_are_quarantined_and_consent_is_per_address(tmp_path):
    raw = tmp_path / "raw"
    generate(50, 3, raw)
    # one person, two addresses: the CRM's (golden: crm_contacts comes first) opted out, the shop's later opted in
    with (raw / "crm_contacts.csv").open("a", encoding="utf-8") as fh:
        fh.write("C9001,golden.addr@consent.io,,Mira,Voss,,,,DE,lead,2026-01-01,2026-01-01\n")
    with (raw / "shop_customers.csv").open("a", encoding="utf-8") as fh:
        fh.write("S9001,other.addr@consent.io,,Mira,Voss,,DE,true,2026-01-01,2026-01-01\n")
    with (raw / "shop_orders.csv").open("a", encoding="utf-8") as fh:
        fh.write("O9001,S9001,golden.addr@consent.io,paid,EUR,10.00,2026-01-02\n")
    with (raw / "email_consents.csv").open("a", encoding="utf-8") as fh:
        fh.write("golden.addr@consent.io,unsubscribed,form,2026-01-05\n")
        fh.write("other.addr@consent.io,subscribed,checkout,2026-02-01\n")
    (raw / "privacy_requests.csv").write_text(
        "request_id,request_type,email,phone,received_at\n"
        "q1,erasure,not-an-email,,2026-01-01\n"
        "q2,forget,ann@mail.com,,2026-01-01\n"
        "q3,erasure,,020 7946 0958,2026-01-01\n"
        "q4,erasure,,,2026-01-01\n"
        ",erasure,ann@mail.com,,2026-01-01\n"
        "q6,suppression,ann@mail.com,,yesterday\n", encoding="utf-8")
    wh = build_warehouse(raw, tmp_path / "warehouse.duckdb")
    got = dict(wh.sql("select coalesce(source_record_id, '?'), quarantine_reason from quarantine "
                      "where source_name = 'privacy_requests'"))
    assert got == {"q1": "unusable_email", "q2": "unknown_request_type", "q3": "phone_not_international",
                   "q4": "missing_email_and_phone", "?": "missing_key", "q6": "unparseable_received_at"}
    assert not wh.sql("select * from quarantine where raw_row like '%ann@mail.com%' or raw_row like '%7946%'")
    [(pid, email, consent)] = wh.sql("select person_id, email, email_consent from customer_profiles "
                                     "where email in ('golden.addr@consent.io', 'other.addr@consent.io')")
    assert (email, consent) == ("golden.addr@consent.io", "unsubscribed")
    assert wh.scalar(f"select count(*) from identity_graph where person_id = '{pid}' and identifier_type = 'email'") == 2
    assert wh.scalar(f"select count(*) from sync_webhook__marketing_contacts where person_id = '{pid}'") == 0
    assert wh.sql(f"select marketing_opt_out from sync_hubspot__contacts where person_id = '{pid}'") == [("true",)]
    assert wh.scalar("select count(*) from sync_webhook__marketing_contacts where email_consent <> 'subscribed'") == 0


def test_sandbox_webhook_receiver_refuses_old_timestamps_and_drops_seen_delivery_ids(sandbox):
    import json
    import time

    from sync.destinations.webhook import sign

    secret = sandbox.client_env()["CDP_WEBHOOK_SECRET"]
    url = sandbox.client_env()["CDP_WEBHOOK_URL"]

    def post(ts: int, delivery_id: str, key: str) -> requests.Response:
        body = json.dumps({"sync": "t", "action": "upsert", "records": [{"key": key, "delivery_id": delivery_id}]})
        return requests.post(url, data=body.encode(), timeout=10, headers={
            "X-CDP-Timestamp": str(ts), "X-CDP-Signature": sign(secret, str(ts), body.encode())})

    assert post(946684800, "d-old", "p-old").status_code == 401  # 2000-01-01, correctly signed
    assert post(int(time.time()) - 301, "d-late", "p-late").status_code == 401
    assert post(int(time.time()), "d-1", "p-1").status_code == 200
    assert post(int(time.time()), "d-1", "p-1-replayed").status_code == 200  # acknowledged, not applied
    records = requests.get(f"{sandbox.url}/_sandbox/webhook", timeout=10).json()["records"]
    assert set(records) == {"p-1"}
    stats = sandbox.stats()
    assert stats["webhook_stale_timestamps"] == 2 and stats["webhook_replays_dropped"] == 1


def test_mirror_guard_never_holds_back_consent_or_privacy_removals(sandbox, tmp_path, monkeypatch):
    """A small hand-made warehouse (no dbt): 3 of 5 persons leave the models, two by a suppression request
    and one by an opt-out; only the one left for no such reason counts against max_clear_share."""
    from sync.destinations import make_destination
    from sync.engine import run_sync
    from tests.sync_support import TinyWarehouse, config, person

    for k, v in sandbox.client_env().items():
        monkeypatch.setenv(k, v)
    tw = TinyWarehouse(tmp_path / "warehouse.duckdb")
    tw.write([person(i) for i in range(1, 6)])
    with duckdb.connect(str(tw.db_path)) as con:
        con.execute("create table privacy_suppressed_persons as select 'p0001' as person_id, 'r1' as request_id "
                    "union all select 'p0002', 'r1'")
        con.execute("create table customer_profiles as select 'p0003' as person_id, 'unsubscribed' as email_consent")
    cfg = config("hubspot_contacts", max_clear_share=0.1)
    assert run_sync(cfg, tw.db_path, make_destination).status == "success"
    tw.write([person(i) for i in range(4, 6)])
    s = run_sync(cfg, tw.db_path, make_destination)
    assert (s.status, s.archived) == ("success", 3), s.error

    tw.write([person(i) for i in range(1, 6)])
    assert run_sync(cfg, tw.db_path, make_destination).status == "success"
    tw.write([person(5)])  # p0004 leaves too, for no consent or privacy reason: 1 of 5 > 0.1 is not allowed
    s = run_sync(cfg, tw.db_path, make_destination)
    assert s.status == "failed" and "3 more removals are consent or privacy driven" in s.error, s.error


def test_gx_privacy_check_fails_on_erased_suppressed_or_unconsented_rows(tmp_path):
    """The GX suite behind the blocking check gx_privacy, on a small hand-made warehouse (no dbt)."""
    from cdp.privacy_suite import privacy_suite
    from tests.sync_support import TinyWarehouse, person

    tw = TinyWarehouse(tmp_path / "warehouse.duckdb")
    tw.write([person(i) for i in range(1, 6)])
    assert privacy_suite(tw.db_path).success
    with duckdb.connect(str(tw.db_path)) as con:
        con.execute("create table privacy_erased_identifiers (request_id varchar, identifier_type varchar, "
                    "identifier_hash varchar, person_hash varchar, erased_at timestamp)")
        con.execute("insert into privacy_erased_identifiers values ('r1', 'email', ?, null, now())",
                    [privacy_hash("email", "person2@example.com")])
    failed = {(o.expectation, o.column): o.unexpected_count for o in privacy_suite(tw.db_path).outcomes if not o.success}
    assert failed == {("expect_column_values_to_not_be_in_set", "email_hash"): 3}  # in all three sync models
    with duckdb.connect(str(tw.db_path)) as con:
        con.execute("delete from privacy_erased_identifiers")
        con.execute("create table privacy_suppressed_persons as select 'p0003' as person_id, 's1' as request_id")
        con.execute("update sync_webhook__marketing_contacts set email_consent = 'unknown' where person_id = 'p0004'")
    failed = {(o.expectation, o.column): o.unexpected_count for o in privacy_suite(tw.db_path).outcomes if not o.success}
    assert failed == {("expect_column_values_to_not_be_in_set", "person_id"): 3,
                      ("expect_column_values_to_be_in_set", "email_consent"): 1}


def test_requests_received_after_the_as_of_instant_apply_to_a_build_of_the_past(wh, monkeypatch):
    """CDP_AS_OF cuts events, not privacy requests: a request filed today erases or suppresses in a build as
    of last month, is in privacy_request_log, and its person leaves every sync model."""
    as_of = wh.scalar("select max(as_of_at) from customer_profiles") - timedelta(days=30)
    monkeypatch.setenv("CDP_AS_OF", as_of.strftime("%Y-%m-%dT%H:%M:%S"))
    dbt(wh.raw_dir, wh.db_path, "build")
    erased, erased_ids = pick_person(wh)
    suppressed = wh.scalar("select person_id from sync_webhook__marketing_contacts h "
                           "join sync_hubspot__contacts s using (person_id) where person_id <> ? and s.email is not null "
                           "order by person_id limit 1".replace("?", f"'{erased}'"))
    suppressed_email = wh.scalar(f"select email from sync_hubspot__contacts where person_id = '{suppressed}'")
    filed = as_of + timedelta(days=10)
    append_request(wh.raw_dir, "erasure", erased_ids["email"][0], None, "late-erase", received_at=filed)
    append_request(wh.raw_dir, "suppression", suppressed_email, None, "late-suppress", received_at=filed)
    dbt(wh.raw_dir, wh.db_path, "build")
    assert dict(wh.sql("select request_id, status from privacy_request_log")) == {
        "late-erase": "erased", "late-suppress": "suppressed"}
    assert wh.scalar("select rows_after_as_of from source_row_counts where source_name = 'privacy_requests'") == 0
    for model in ("sync_hubspot__contacts", "sync_salesforce__contacts", "sync_webhook__marketing_contacts"):
        assert wh.sql(f"select person_id from {model} where person_id in ('{erased}', '{suppressed}')") == [], model
    assert wh.scalar(f"select count(*) from customer_profiles where person_id = '{erased}'") == 0
    assert wh.scalar(f"select count(*) from customer_profiles where person_id = '{suppressed}'") == 1


def byte_hits(db_path: Path, needles: list[str]) -> list[str]:
    """Needles found anywhere in the warehouse file or its WAL, read as bytes (freed blocks included)."""
    found = []
    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
        if path.exists():
            data = path.read_bytes().lower()
            found += [f"{path.name}: {n}" for n in needles if n.lower().encode() in data]
    return found


def test_erased_bytes_leave_the_warehouse_file(wh):
    """Deleted rows leave their bytes in freed blocks: a build that erased someone rewrites the file, also
    after a rewrite a crash cut short, and a build with no new erasure leaves the file alone."""
    _pid, ids = pick_person(wh)
    needles = [*ids["email"], *ids["phone"]]
    append_request(wh.raw_dir, "erasure", ids["email"][0], None, "bytes-1")
    dbt(wh.raw_dir, wh.db_path, "build")
    assert byte_hits(wh.db_path, needles), "a plain build deletes the rows but leaves their bytes in the file"
    partial = wh.db_path.with_name(wh.db_path.name + ".rewrite")
    partial.write_bytes(b"a rewrite cut short between the copy and the swap")
    proc = cdp(wh, "build")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "warehouse file rewritten after erasure" in proc.stdout
    assert byte_hits(wh.db_path, needles) == []
    assert not partial.exists()
    assert wh.scalar("select count(*) from customer_profiles") > 300
    assert wh.scalar("select status from privacy_request_log where request_id = 'bytes-1'") == "erased"
    again = cdp(wh, "build")
    assert again.returncode == 0 and "rewritten" not in again.stdout
