"""Adding a source is its declaration and its staging models, nothing else: a seventh source (POS sales)
is added to a temporary copy of the project exactly as the README's "Extending" section says, and the
copy builds with the new file registered, staged with its fates, counted, quarantined, observed as
identifiers, resolved into persons and checked by the GX staging suite, with no other file edited."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from cdp.dbt_args import dbt_command
from cdp.governance_suites import staging_suite
from cdp.registry import load_registry
from datagen.sample_data import generate
from tests.conftest import PROJECT_DIR

PROJECT_PARTS = ["dbt_project.yml", "profiles.yml", "selectors.yml", "models", "macros", "seeds", "data-tests", "docs"]

# 1. the declaration: one entry in vars.raw_sources (dbt_project.yml) ...
POS_ENTRY = """    - {source_name: pos_sales, source: pos, base: base_pos__sales, model: stg_pos__sales,
       raw_columns: [sale_id, email, store, amount, sold_at],
       raw_key: sale_id, record_id: pos_sale_id, latest_by: [sold_at], quality: [email],
       observed_at: sold_at, identifiers: {email: email}, attributes: {email: email}}
"""

# ... and its documented columns (models/staging/pos/_pos__sources.yml)
POS_SOURCES_YML = """version: 2
sources:
  - name: pos
    description: '{{ doc("raw_source_folder") }}'
    schema: raw
    tables:
      - name: pos_sales
        description: "`pos_sales.csv`: one row per till receipt that names a customer."
        columns:
          - name: sale_id
            description: Receipt id, the record key.
          - name: email
            description: '{{ doc("raw_email") }}'
          - name: store
            description: Store code.
          - name: amount
            description: Receipt total as a decimal string.
          - name: sold_at
            description: '{{ doc("raw_timestamp") }}'
"""

# 2. its staging models: base_ (types, normalises, gives every raw row a fate) and stg_ (current rows)
POS_BASE_SQL = """{#- POS receipts: typed and normalised, every raw row with its fate (the registry entry pos_sales). -#}
{%- set raw_columns = raw_source('pos_sales').raw_columns -%}
{{ incremental_staging_config('pos_sales') }}
with source as (
    select * from {{ source('pos', 'pos_sales') }} as source
    {{ raw_rows_to_stage() }}
),

emails as (
    select
        *,
        {{ email_candidate('email') }} as _email_candidate
    from source
),

checked_emails as (
    select
        *,
        {{ email_quality('email', '_email_candidate') }} as _email_quality
    from emails
),

typed as (
    select
        {{ clean_text('source.sale_id') }} as pos_sale_id,
        {{ normalised_email('source._email_quality', 'source._email_candidate') }} as email,
        source._email_quality as email_quality,
        {{ clean_text('source.store') }} as store,
        {{ cdp_try_cast('trim(source.amount)', cdp_type_amount()) }} as amount,
        {{ cdp_parse_timestamp('source.sold_at') }} as sold_at,
        {{ raw_row_columns(raw_columns) }}
    from checked_emails as source
),

checked as (
    select
        *,
        {{ first_failing_reason([
            ('pos_sale_id is null', 'missing_key'),
            ('sold_at is null', 'unparseable_sold_at'),
        ]) }} as _quarantine_reason
    from typed
),

final as (
    select
        *,
        {{ row_fate_for('pos_sales') }} as _row_fate,
        {{ staged_as_of() }} as _staged_as_of,
        {{ staged_at() }} as _staged_at
    from checked
)

select * from final
"""

POS_STG_SQL = """{#- Current POS receipts, one row per sale_id. -#}
with sales as (
    select * from {{ ref('base_pos__sales') }}
),

final as (
    select pos_sale_id, email, store, amount, sold_at
    from sales
    where _row_fate = 'staged'
)

select * from final
"""


def copy_project(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for part in PROJECT_PARTS:
        src = PROJECT_DIR / part
        if src.is_dir():
            shutil.copytree(src, dst / part)
        elif src.exists():
            shutil.copy2(src, dst / part)
    return dst


def add_pos_source(project: Path) -> None:
    """Exactly the files README "Extending" lists for a new source."""
    path = project / "dbt_project.yml"
    text = path.read_text(encoding="utf-8")
    assert "\n  raw_sources:\n" in text
    path.write_text(text.replace("\n  raw_sources:\n", "\n  raw_sources:\n" + POS_ENTRY, 1), encoding="utf-8")
    folder = project / "models" / "staging" / "pos"
    (folder / "base").mkdir(parents=True)
    (folder / "_pos__sources.yml").write_text(POS_SOURCES_YML, encoding="utf-8")
    (folder / "base" / "base_pos__sales.sql").write_text(POS_BASE_SQL, encoding="utf-8")
    (folder / "stg_pos__sales.sql").write_text(POS_STG_SQL, encoding="utf-8")


def first_crm_email(raw: Path) -> str:
    """A CRM contact's email that staging keeps (plain, no placeholder)."""
    with (raw / "crm_contacts.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            email = row["email"].strip().lower()
            if row["contact_id"] and email.count("@") == 1 and email.endswith((".com", ".net")) and " " not in email \
                    and not email.startswith(("test", "noreply", "none", "unknown")) and "example" not in email:
                return email
    raise AssertionError("no usable CRM email in the sample")


def test_a_seventh_source_is_its_declaration_plus_its_staging_models(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    add_pos_source(project)
    raw = tmp_path / "raw"
    generate(300, 21, raw)
    known = first_crm_email(raw)
    rows = [
        ["S1", known, "LDN-1", "12.50", "2026-03-01T10:00:00Z"],
        ["S2", f"  {known.upper()} ", "LDN-1", "8.00", "2026-03-02 11:00:00"],
        ["S3", "pos.only.buyer@shopmail.net", "MAN-2", "30.00", "2026-03-03"],
        ["S1", known, "LDN-1", "12.50", "2026-03-01T10:00:00Z"],  # delivered twice
        ["", known, "LDN-1", "5.00", "2026-03-04"],  # no key
        ["S6", known, "LDN-1", "5.00", "yesterday"],  # unparseable time
    ]
    with (raw / "pos_sales.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sale_id", "email", "store", "amount", "sold_at"])
        writer.writerows(rows)

    db = tmp_path / "w.duckdb"
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_DUCKDB_PATH=str(db), DBT_PROFILES_DIR=str(project),
               CDP_TARGET="duckdb", CDP_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.run([str(Path(sys.executable).with_name("dbt")), *dbt_command("build", project_dir=str(project))],
                          cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]

    registry = load_registry(project)
    assert list(registry)[0] == "pos_sales" and len(registry) == 8  # six sources, privacy_requests, pos_sales
    with duckdb.connect(str(db), read_only=True) as con:
        counts = con.execute("""select rows_loaded, rows_staged, rows_duplicate, rows_quarantined, emails_normalised
                                from source_row_counts where source_name = 'pos_sales'""").fetchall()
        assert counts == [(6, 3, 1, 2, 6)]
        reasons = con.execute("select quarantine_reason from quarantine where source_name = 'pos_sales' "
                              "order by 1").fetchall()
        assert reasons == [("missing_key",), ("unparseable_sold_at",)]
        persons = dict(con.execute("""select source_record_id, person_id from person_records
                                      where source_name = 'pos_sales'""").fetchall())
        assert set(persons) == {"S1", "S2", "S3"}
        crm_people = {p for (p,) in con.execute(
            "select person_id from person_records r join stg_crm__contacts c on r.source_name = 'crm_contacts' "
            "and r.source_record_id = c.crm_contact_id where c.email = ?", [known]).fetchall()}
        assert persons["S1"] == persons["S2"] and persons["S1"] in crm_people  # joined through the email
        assert persons["S3"] not in crm_people
        sources = con.execute("select sources from identity_graph where identifier_type = 'email' "
                              "and identifier_value = ?", [known]).fetchone()[0]
        assert "pos_sales" in sources.split(",") and "crm_contacts" in sources.split(",")
    outcome = staging_suite(db, project_dir=project)
    assert outcome.row_counts["pos_sales"] == 6 and set(outcome.row_counts) == set(registry)

    # nothing else changed: the copy differs from the project only by the declaration and the models
    original = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    copied = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8"))
    copied["vars"]["raw_sources"] = copied["vars"]["raw_sources"][1:]
    assert copied == original


# A new destination: a module (here outside the package, named `module:Class` in syncs.yml; inside it would
# be sync/destinations/<name>.py with DESTINATION), its syncs.yml entry and its sync model. It posts each
# batch as NDJSON to a receiver on loopback.
NDJSON_DESTINATION = '''
"""Newline-delimited JSON over HTTP: one POST per batch, a line per record."""
import json
import os

from sync.destinations.base import RecordResult, destination_key
from sync.http import HttpClient


class NdjsonPost:
    name = "ndjson"

    def __init__(self, cfg, url):
        self.cfg, self.url = cfg, url
        self.client = HttpClient(url, rate=cfg.rate_limit)

    @classmethod
    def from_env(cls, cfg):
        return cls(cfg, os.environ["NDJSON_URL"])

    def identify(self):
        return destination_key("ndjson", "receiver", self.url)

    def prepare(self, values=None):
        return None

    def _post(self, action, records):
        body = "\\n".join(json.dumps({"action": action, "key": r.key, **r.properties}) for r in records)
        resp = self.client.request("POST", self.url, data=body.encode(), headers={"Content-Type": "application/x-ndjson"})
        return [RecordResult(r.key, resp.status_code == 200, r.key) for r in records]

    def upsert(self, records):
        return self._post("upsert", records)

    def clear(self, records):
        return self._post("clear", records)

    def archive(self, records):
        return self._post("archive", records)

    def merge(self, pairs):
        return self._post("archive", [retired for retired, _ in pairs])

    def close(self):
        self.client.close()
'''


def test_a_new_destination_is_a_module_a_syncs_entry_and_a_model(tmp_path: Path, monkeypatch):
    import http.server
    import json
    import threading

    from sync.config import ConfigError, load_syncs
    from sync.destinations import make_destination
    from sync.engine import run_sync

    received: list[dict] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.extend(json.loads(line) for line in body.splitlines())
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # 1. the module
    (tmp_path / "ndjson_destination.py").write_text(NDJSON_DESTINATION)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("NDJSON_URL", f"http://127.0.0.1:{server.server_port}/ingest")
    # 2. its syncs.yml entry (the project's models are known, so the model must be one of them)
    syncs = tmp_path / "syncs.yml"
    syncs.write_text("syncs:\n  - name: ndjson_contacts\n    model: sync_webhook__marketing_contacts\n"
                     "    destination: ndjson_destination:NdjsonPost\n    object: contacts\n    key: person_id\n"
                     "    match_key: person_id\n    mode: upsert\n    batch_size: 2\n    rate_limit: 100\n"
                     "    fields: {email: email, country: country}\n")
    # 3. its sync model: here the table the dbt model would build, in a real DuckDB file
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table sync_webhook__marketing_contacts as select * from (values "
                    "('p1', 'a@example.com', 'GB'), ('p2', 'b@example.com', 'FR'), ('p3', 'c@example.com', 'DE')) "
                    "as t(person_id, email, country)")
    try:
        cfg = load_syncs(syncs)["ndjson_contacts"]
        summary = run_sync(cfg, db, make_destination)
        assert summary.status == "success", summary
        assert sorted((r["key"], r["email"], r["country"]) for r in received) == [
            ("p1", "a@example.com", "GB"), ("p2", "b@example.com", "FR"), ("p3", "c@example.com", "DE")]
        assert {r["action"] for r in received} == {"upsert"}
        received.clear()
        assert run_sync(cfg, db, make_destination).status == "success" and received == []  # nothing changed
    finally:
        server.shutdown()
    # an unknown destination is named with its line, not found at run time
    syncs.write_text(syncs.read_text().replace("ndjson_destination:NdjsonPost", "ndjson_destinaton:NdjsonPost"))
    with pytest.raises(ConfigError, match=r"syncs.yml:4:\d+: unknown destination 'ndjson_destinaton:NdjsonPost'"):
        load_syncs(syncs)
