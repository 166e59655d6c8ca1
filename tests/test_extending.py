"""The recipes of docs/extending.md, followed in temporary copies of the project. A new source is what
`cdp new-source` writes, nothing else: a point-of-sale source builds with its file registered, staged with
its fates, counted, quarantined, observed as identifiers, resolved into persons, checked by the GX staging
suite, and its receipts counted as orders and lifetime value. A new trait is the recipe's three edits: it
reaches every stored profile without --full-refresh, and a change of a consent row alone reaches it on the
next incremental run, as a full build would. Segment conditions see the columns journey rules see. A new
destination is a module, a syncs.yml entry and a model."""

from __future__ import annotations

import csv
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from cdp import cli
from cdp.dbt_args import dbt_command
from cdp.governance_suites import staging_suite
from cdp.registry import load_registry
from datagen.sample_data import generate
from sync.config import ConfigError, load_syncs
from sync.destinations import make_destination
from sync.engine import run_sync
from tests.compare import comparable, differences, person_keys_view
from tests.conftest import PROJECT_DIR

PROJECT_PARTS = ["dbt_project.yml", "profiles.yml", "selectors.yml", "models", "macros", "seeds", "data-tests", "docs"]

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
    """The new-source recipe: one command (docs/extending.md, "New source")."""
    rc = cli.main(["new-source", "pos_sales", "--columns", "sale_id,email,store,amount,sold_at", "--key", "sale_id",
                   "--timestamp", "sold_at", "--email", "email", "--order-amount", "amount",
                   "--project-dir", str(project)])
    assert rc == 0


def dbt_build(project: Path, raw: Path, db: Path, *extra: str) -> None:
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_DUCKDB_PATH=str(db), DBT_PROFILES_DIR=str(project),
               CDP_TARGET="duckdb", CDP_STATE_DIR=str(db.parent / "state"))
    db.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([str(Path(sys.executable).with_name("dbt")),
                           *dbt_command("build", project_dir=str(project)), "--exclude-resource-type", "unit_test",
                           *extra], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, "\n".join(line for line in proc.stdout.splitlines() if "ERROR" in line or "Error" in line
                                          or "FAIL" in line)[-6000:] or proc.stdout[-6000:]


def first_crm_email(raw: Path) -> str:
    """A CRM contact's email that staging keeps (plain, no placeholder)."""
    with (raw / "crm_contacts.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            email = row["email"].strip().lower()
            if row["contact_id"] and email.count("@") == 1 and email.endswith((".com", ".net")) and " " not in email \
                    and not email.startswith(("test", "noreply", "none", "unknown")) and "example" not in email:
                return email
    raise AssertionError("no usable CRM email in the sample")


def test_a_new_source_is_what_cdp_new_source_writes_and_its_receipts_are_orders(tmp_path: Path):
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
    dbt_build(project, raw, db)

    registry = load_registry(project)
    assert list(registry)[-1] == "pos_sales" and len(registry) == 8  # six sources, privacy_requests, pos_sales
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
        # the receipts are orders: the POS-only buyer is a customer with lifetime value, not a prospect with 0
        profiles = {p: (n, v, stage) for p, n, v, stage in con.execute(
            "select person_id, order_count, lifetime_value, journey_stage from customer_profiles").fetchall()}
        assert profiles[persons["S3"]][:2] == (1, Decimal("30.00")) and profiles[persons["S3"]][2] != "prospect"
        pos_orders = dict(con.execute("""select person_id, sum(amount_reporting) from int_profile_orders
                                         where source_name = 'pos_sales' group by person_id""").fetchall())
        assert pos_orders == {persons["S1"]: Decimal("20.50"), persons["S3"]: Decimal("30.00")}
        assert profiles[persons["S1"]][0] >= 2 and profiles[persons["S1"]][1] >= Decimal("20.50")
    outcome = staging_suite(db, project_dir=project)
    assert outcome.row_counts["pos_sales"] == 6 and set(outcome.row_counts) == set(registry)

    # nothing else changed: the copy differs from the project only by the declaration and the models
    original = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    copied = yaml.safe_load((project / "dbt_project.yml").read_text(encoding="utf-8"))
    copied["vars"]["raw_sources"] = copied["vars"]["raw_sources"][:-1]
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


def recipe_blocks(name: str) -> dict[str, str]:
    """The code blocks of docs/extending.md that follow `<!-- name: part -->`, by part."""
    text = (PROJECT_DIR / "docs" / "extending.md").read_text(encoding="utf-8")
    return {m.group(1): m.group(2) for m in re.finditer(
        rf"<!-- {name}: (\w+) -->\n```\w*\n(.*?)```", text, flags=re.S)}


def add_trait_by_the_recipe(project: Path) -> None:
    """docs/extending.md "New trait": the CTEs, the column and its join, the contract entry; nothing else."""
    blocks = recipe_blocks("new-trait")
    assert set(blocks) == {"ctes", "column", "join", "contract"}
    model = project / "models" / "intermediate" / "profiles" / "int_profile_traits_summarised.sql"
    sql = model.read_text(encoding="utf-8")
    sql = sql.replace("\nfinal as (\n", "\n" + blocks["ctes"] + "final as (\n", 1)
    sql = sql.replace("        persons.person_id,\n", "        persons.person_id,\n" + blocks["column"], 1)
    last_join = sql.rindex("    left join ")
    end_of_line = sql.index("\n", last_join) + 1
    sql = sql[:end_of_line] + blocks["join"] + sql[end_of_line:]
    model.write_text(sql, encoding="utf-8")
    contract = project / "models" / "marts" / "profiles" / "_profiles__models.yml"
    text = contract.read_text(encoding="utf-8")
    anchor = "  - name: customer_profiles\n"
    columns_at = text.index("    columns:\n", text.index(anchor)) + len("    columns:\n")
    contract.write_text(text[:columns_at] + blocks["contract"] + text[columns_at:], encoding="utf-8")


# A segment over a column journey rules read (the order gaps) and over the new trait.
STEADY_SEGMENT = """    - name: steady_buyers
      description: Repeat buyers who order at least twice a year and read their consent emails.
      condition: "avg_order_gap_days <= 180 and consent_event_count >= 0"
"""


def test_a_new_trait_reaches_every_profile_and_stays_current_on_incremental_runs(tmp_path: Path):
    project = copy_project(tmp_path / "project")
    raw = tmp_path / "raw"
    generate(150, 8, raw)
    inc, full = tmp_path / "inc" / "w.duckdb", tmp_path / "full" / "w.duckdb"
    dbt_build(project, raw, inc)

    # the recipe, on a warehouse built without the trait: no --full-refresh
    add_trait_by_the_recipe(project)
    path = project / "dbt_project.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("\n  segments:\n", "\n  segments:\n" + STEADY_SEGMENT, 1),
                    encoding="utf-8")
    dbt_build(project, raw, inc)
    with duckdb.connect(str(inc), read_only=True) as con:
        email, person, before = con.execute("""
            select graph.identifier_value, graph.person_id, profiles.consent_event_count
            from identity_graph as graph
            inner join customer_profiles as profiles using (person_id)
            where graph.identifier_type = 'email' and profiles.consent_event_count > 0
            order by graph.identifier_value limit 1""").fetchone()
        assert con.execute("select count(*) from customer_profiles where consent_event_count is null").fetchone() == (0,)
        updated = con.execute("select max(updated_at) from stg_email__consents").fetchone()[0]

    # day 2: one consent event more for that address, nothing else changes
    with (raw / "email_consents.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow([email, "unsubscribed", "preference_center",
                                                      updated.strftime("%Y-%m-%d %H:%M:%S")])
    dbt_build(project, raw, inc)
    dbt_build(project, raw, full)
    with duckdb.connect(str(inc), read_only=True) as con:
        assert con.execute("select consent_event_count from customer_profiles where person_id = ?",
                           [person]).fetchone() == (before + 1,)
        scope = [p for (p,) in con.execute("select person_id from int_profile_scope_persons").fetchall()]
        assert person in scope and len(scope) < 10, scope
    with duckdb.connect() as con:
        con.execute(f"attach '{inc}' as inc (read_only)")
        con.execute(f"attach '{full}' as full_build (read_only)")
        for prefix, db in (("inc", "inc"), ("full", "full_build")):
            for table in ("person_records", "customer_profiles", "int_profile_traits_summarised", "segment_memberships"):
                con.execute(f"create view {prefix}_{table} as select * from {db}.main.{table}")
            person_keys_view(con, prefix)
        for table in ("customer_profiles", "int_profile_traits_summarised", "segment_memberships"):
            inc_rows, full_rows = (comparable(con, f"{p}_{table}", person_column="person_id", prefix=p,
                                              exclude=("segment_membership_id",)) for p in ("inc", "full"))
            assert differences(con, inc_rows, full_rows) == [], table

        # segment conditions see the columns journey rules see: the order gaps, and the new trait
        members = {k for (k,) in con.execute("""select k.person_key from inc_segment_memberships m
            join inc_person_keys k using (person_id) where m.segment_name = 'steady_buyers'""").fetchall()}
        expected = {k for (k,) in con.execute("""select k.person_key from inc_customer_profiles p
            join inc_person_keys k using (person_id) where p.avg_order_gap_days <= 180""").fetchall()}
        assert members == expected and members
