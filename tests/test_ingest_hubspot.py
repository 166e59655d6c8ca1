"""The CRM as a source: `cdp ingest hubspot` loads HubSpot contacts changed since its cursor (dlt, the CRM
search endpoint of the project's sandbox over loopback) into deliveries of the crm_contacts landing folder,
never reading back the properties the platform writes (cdp_*)."""

from __future__ import annotations

import csv
import gzip
import shutil
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from cdp.ingest_hubspot import (
    PLATFORM_PREFIX,
    IngestError,
    contract_row,
    delivered,
    ingest_hubspot_contacts,
    requested_properties,
)
from cdp.registry import load_registry
from cdp.settings import load_settings
from datagen.sample_data import generate
from orchestration.ingest_assets import hubspot_contacts_ingest
from sync.sandbox import Sandbox
from tests.conftest import dbt
from tests.sync_support import sandbox_for

COLUMNS = load_registry()["crm_contacts"].raw_columns


def _api(sb: Sandbox, method: str, path: str, body: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {sb.client_env()['HUBSPOT_ACCESS_TOKEN']}"}
    resp = requests.request(method, f"{sb.url}{path}", json=body, headers=headers, timeout=10)
    assert resp.status_code < 300, resp.text
    return resp.json() if resp.content else {}


def contact(i: int, **changes) -> dict:
    props = {"firstname": f"Ada{i}", "lastname": f"Lovelace{i}", "phone": f"+44 20 7946 {i:04d}", "city": "London",
             "country": "GB", "company": "Analytical Engines", "jobtitle": "Engineer", "lifecyclestage": "lead"}
    props.update(changes)
    return {"id": f"ada{i}@engines.co.uk", "idProperty": "email", "properties": props}


def upsert(sb: Sandbox, inputs: list[dict]) -> dict[str, str]:
    """email -> HubSpot id, through the real batch/upsert in batches of 100."""
    ids = {}
    for start in range(0, len(inputs), 100):
        body = _api(sb, "POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs[start:start + 100]})
        ids.update({r["properties"]["email"]: r["id"] for r in body["results"]})
    time.sleep(0.01)  # the next write is a later millisecond
    return ids


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def rows_of(paths: list[Path]) -> list[dict[str, str]]:
    out = []
    for path in paths:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == COLUMNS, path.name
            out += list(reader)
    return out


@pytest.fixture
def sandbox(monkeypatch):
    with sandbox_for(monkeypatch) as sb:
        yield sb


@pytest.fixture
def settings(tmp_path):
    return replace(load_settings(), raw_dir=tmp_path / "raw", state_dir=tmp_path / "state")


def test_contacts_changed_since_the_cursor_arrive_once(sandbox, settings):
    ids = upsert(sandbox, [contact(i) for i in range(450)])  # three search pages of 200
    first = ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)
    assert first.contacts == 450 and len(first.deliveries) == 1
    rows = rows_of(delivered(settings))
    assert sorted(r["contact_id"] for r in rows) == sorted(ids.values())
    ada7 = next(r for r in rows if r["email"] == "ada7@engines.co.uk")
    assert {k: ada7[k] for k in COLUMNS if k not in ("created_at", "updated_at")} == {
        "contact_id": ids["ada7@engines.co.uk"], "email": "ada7@engines.co.uk", "phone": "+44 20 7946 0007",
        "first_name": "Ada7", "last_name": "Lovelace7", "company": "Analytical Engines", "job_title": "Engineer",
        "city": "London", "country": "GB", "lifecycle_stage": "lead"}
    assert ada7["updated_at"].endswith("Z") and ada7["created_at"] <= ada7["updated_at"]
    # the delivery is the one copy: dlt's working folder keeps the cursor, not the contacts
    kept = [f for f in (settings.state_dir / "dlt").rglob("*") if f.is_file()]
    assert kept and not [f for f in kept if b"engines.co.uk" in _content(f)]

    again = ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)  # nothing changed: nothing delivered
    assert (again.contacts, again.deliveries, again.cursor) == (0, [], first.cursor)

    changed = [ids["ada3@engines.co.uk"], ids["ada444@engines.co.uk"]]
    _api(sandbox, "POST", "/crm/v3/objects/contacts/batch/update",
         {"inputs": [{"id": hs_id, "properties": {"city": "Manchester"}} for hs_id in changed]})
    new = upsert(sandbox, [contact(9000, city="Leeds")])
    third = ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)
    assert third.contacts == 3 and len(third.deliveries) == 1
    arrived = {r["contact_id"]: r["city"] for r in rows_of(third.deliveries)}
    assert arrived == {changed[0]: "Manchester", changed[1]: "Manchester", new["ada9000@engines.co.uk"]: "Leeds"}
    assert len(delivered(settings)) == 2 and third.cursor > first.cursor


def test_the_newest_seconds_wait_for_the_next_run(sandbox, settings):
    """HubSpot's search index shows a write after a few seconds: contacts modified within `settle_s` of the
    run are left for the next one, so the cursor never passes a contact the index did not show yet."""
    upsert(sandbox, [contact(i) for i in range(3)])
    assert ingest_hubspot_contacts(settings, settle_s=30, log=lambda _: None).contacts == 0
    assert ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None).contacts == 3


def test_a_run_at_the_search_cap_continues_from_its_cursor(sandbox, settings):
    """HubSpot's search stops at 10,000 results per query: a run reads at most that many, and the ingest
    runs again from the advanced cursor (here with a budget of one page per run)."""
    ids = upsert(sandbox, [contact(i) for i in range(300)])
    result = ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None, pages_per_run=1)
    assert result.runs == 2 and len(result.deliveries) == 2
    rows = rows_of(delivered(settings))
    assert sorted(r["contact_id"] for r in rows) == sorted(ids.values())  # each once


def test_properties_the_platform_writes_are_not_read_back(sandbox, settings):
    for name in ("cdp_person_id", "cdp_segments", "cdp_lifetime_value"):
        _api(sandbox, "POST", "/crm/v3/properties/contacts", {"name": name, "type": "string", "fieldType": "text"})
    # a contact as a sync leaves it: standard properties plus the CDP's enrichments
    upsert(sandbox, [contact(1, cdp_person_id="person-from-the-cdp", cdp_segments="vip_segment_marker",
                             cdp_lifetime_value="98765.43")])
    ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)
    (path,) = delivered(settings)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    for leaked in ("cdp_", "person-from-the-cdp", "vip_segment_marker", "98765.43"):
        assert leaked not in text
    assert not [p for p in requested_properties() if p.startswith(PLATFORM_PREFIX)]
    # and a cdp_ property that comes back anyway is dropped before the mapping reads anything
    item = {"id": "7", "properties": {"email": "x@y.org", "cdp_email": "z@y.org", "cdp_person_id": "p1"}}
    assert contract_row(item, COLUMNS)["email"] == "x@y.org"


def test_a_5xx_is_retried_and_a_failing_run_keeps_its_cursor(sandbox, settings):
    ids = upsert(sandbox, [contact(i) for i in range(250)])
    sandbox.configure(fail_rate=1.0)  # every search answers 503
    with pytest.raises(IngestError) as err:
        ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None, max_attempts=2, backoff_s=0.01)
    message = str(err.value)
    assert "HTTP 503 from /crm/v3/objects/contacts/search" in message and "the cursor is unchanged" in message
    assert sandbox.url not in message and sandbox.client_env()["HUBSPOT_ACCESS_TOKEN"] not in message
    assert delivered(settings) == []

    failed_before = sandbox.stats()["injected_failures"]
    sandbox.configure(fail_rate=0.5, seed=1)  # the first search answers 503 (this seed's draw), then some do
    result = ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None, max_attempts=10, backoff_s=0.01)
    assert sandbox.stats()["injected_failures"] > failed_before
    assert sorted(r["contact_id"] for r in rows_of(delivered(settings))) == sorted(ids.values())
    assert result.contacts == 250


def test_a_delivery_that_could_not_be_written_is_delivered_by_the_next_run(sandbox, settings):
    """A crash between reading and writing: the contacts read wait in dlt's pending package (the cursor has
    moved past them) and the next run writes them first, once."""
    ids = upsert(sandbox, [contact(i) for i in range(250)])
    settings.raw_dir.mkdir(parents=True)
    (settings.raw_dir / "crm_contacts").write_text("not a folder", encoding="utf-8")  # the write fails
    with pytest.raises(IngestError, match="pending load package: the next run delivers them first"):
        ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)
    (settings.raw_dir / "crm_contacts").unlink()
    resumed = ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)
    assert resumed.contacts == 250
    assert ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None).contacts == 0
    assert sorted(r["contact_id"] for r in rows_of(delivered(settings))) == sorted(ids.values())


def test_ingest_refuses_a_single_file_beside_its_folder_and_a_missing_token(sandbox, settings, monkeypatch):
    settings.raw_dir.mkdir(parents=True)
    (settings.raw_dir / "crm_contacts.csv").write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match="move it into crm_contacts/"):
        ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    with pytest.raises(IngestError, match="HUBSPOT_ACCESS_TOKEN is not set"):
        ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)


def test_a_build_reads_the_ingested_contacts(sandbox, settings, tmp_path):
    raw = settings.raw_dir
    generate(150, 7, raw)
    (raw / "crm_contacts").mkdir()
    shutil.move(raw / "crm_contacts.csv", raw / "crm_contacts" / "0000-initial.csv")
    ids = upsert(sandbox, [contact(i, lifecyclestage="customer") for i in range(3)])
    ingest_hubspot_contacts(settings, settle_s=0, log=lambda _: None)
    db = tmp_path / "ingest.duckdb"
    dbt(raw, db, "build", "--exclude-resource-type", "unit_test")
    with duckdb.connect(str(db), read_only=True) as con:
        staged = dict(con.execute("select crm_contact_id, email from stg_crm__contacts "
                                  "where list_contains(?, crm_contact_id)", [list(ids.values())]).fetchall())
        persons = con.execute("select count(distinct person_id) from person_records where source_name = "
                              "'crm_contacts' and list_contains(?, source_record_id)", [list(ids.values())]).fetchone()
    assert staged == {hs_id: email for email, hs_id in ids.items()}
    assert persons == (3,)


def test_the_dagster_asset_delivers_or_says_why_not(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setenv("CDP_STATE_DIR", str(tmp_path / "state"))
    load_settings.cache_clear()
    try:
        ids = upsert(sandbox, [contact(i) for i in range(5)])
        run_config = {"ops": {"hubspot_contacts_ingest": {"config": {"settle_seconds": 0}}}}
        monkeypatch.delenv("CDP_INGEST_HUBSPOT", raising=False)  # credentials alone do not make HubSpot a source
        result = dg.materialize([hubspot_contacts_ingest], run_config=run_config)
        (meta,) = [m.metadata for m in result.asset_materializations_for_node("hubspot_contacts_ingest")]
        assert "CDP_INGEST_HUBSPOT" in meta["skipped"].value and not (tmp_path / "raw" / "crm_contacts").exists()
        monkeypatch.setenv("CDP_INGEST_HUBSPOT", "true")
        result = dg.materialize([hubspot_contacts_ingest], run_config=run_config)
        (meta,) = [m.metadata for m in result.asset_materializations_for_node("hubspot_contacts_ingest")]
        assert meta["contacts"].value == 5 and len(meta["deliveries"].value) == 1
        rows = rows_of(sorted((tmp_path / "raw" / "crm_contacts").glob("hubspot-*.csv")))
        assert sorted(r["contact_id"] for r in rows) == sorted(ids.values())

        shutil.rmtree(tmp_path / "raw")
        (tmp_path / "raw").mkdir()
        (tmp_path / "raw" / "crm_contacts.csv").write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
        result = dg.materialize([hubspot_contacts_ingest], run_config=run_config)
        (meta,) = [m.metadata for m in result.asset_materializations_for_node("hubspot_contacts_ingest")]
        assert "crm_contacts.csv" in meta["skipped"].value and meta["contacts"].value == 0
    finally:
        load_settings.cache_clear()
