"""Small hand-made warehouses for sync tests that need no dbt build: the three sync models as plain tables
(same columns as the contract-enforced models) and person_id_history, in a real DuckDB file."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pandas as pd
import requests

from sync.config import load_syncs
from sync.destinations import make_destination
from sync.engine import run_sync
from sync.privacy import privacy_hash
from sync.sandbox import start_sandbox

COLUMNS = ["person_id", "email", "first_name", "last_name", "phone", "city", "country", "company", "job_title",
           "lifetime_value", "order_count", "email_consent", "segments", "churn_risk", "predicted_clv",
           "last_order_date", "marketing_opt_out", "journey_stage", "next_best_action"]
MODELS = ["sync_hubspot__contacts", "sync_salesforce__contacts", "sync_webhook__marketing_contacts"]


def person(i: int, **changes) -> dict:
    row = {"person_id": f"p{i:04d}", "email": f"person{i}@example.com", "first_name": f"First{i}",
           "last_name": f"Last{i}", "phone": f"+4420{i:07d}", "city": "London", "country": "GB", "company": "Acme",
           "job_title": "Buyer", "lifetime_value": 10.5 * i, "order_count": i, "email_consent": "subscribed",
           "segments": "active", "churn_risk": round(0.01 * (i % 100), 4), "predicted_clv": 20.25 * i,
           "last_order_date": f"2026-01-{1 + i % 28:02d}", "marketing_opt_out": "false", "journey_stage": "active",
           "next_best_action": "nurture"}
    row.update(changes)
    return row


@dataclass
class TinyWarehouse:
    db_path: Path

    def write(self, rows: list[dict], merges: list[tuple[str, str]] | None = None) -> None:
        """Replace the sync models with `rows` and person_id_history with `merges` (retired, survivor)."""
        with duckdb.connect(str(self.db_path)) as con:
            for model in MODELS:
                con.execute(f"create or replace table {model} (person_id varchar, email varchar, first_name varchar, "
                            "last_name varchar, phone varchar, city varchar, country varchar, company varchar, "
                            "job_title varchar, lifetime_value decimal(18, 2), order_count integer, "
                            "email_consent varchar, segments varchar, churn_risk double, "
                            "predicted_clv decimal(18, 2), last_order_date date, marketing_opt_out varchar, "
                            "journey_stage varchar, next_best_action varchar)")
                if rows:
                    frame = pd.DataFrame([[r[c] for c in COLUMNS] for r in rows], columns=COLUMNS, dtype=object)
                    con.register("tiny_rows", frame)
                    con.execute(f"insert into {model} select * from tiny_rows")
                    con.unregister("tiny_rows")
            con.execute("create or replace table person_id_history (person_id_change_id varchar, from_person_id varchar, "
                        "to_person_id varchar, changed_at timestamp, change_type varchar, records_moved integer, "
                        "reason varchar)")
            for i, (old, new) in enumerate(merges or []):
                con.execute("insert into person_id_history values (?, ?, ?, timestamp '2026-01-01' + to_days(?), "
                            "'merge', 1, 'test')", [f"c{i}", old, new, i])

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(query, params or []).fetchall()


def config(name: str, **changes):
    return replace(load_syncs()[name], **changes)


def sync(tw: TinyWarehouse, name: str = "hubspot_contacts", **cfg_changes):
    """One real run of a declared sync (with changes to its configuration) against the tiny warehouse."""
    return run_sync(config(name, **cfg_changes), tw.db_path, make_destination)


@contextmanager
def sandbox_for(monkeypatch):
    """A CRM sandbox of its own, with the environment pointing every destination at it."""
    sb = start_sandbox()
    for k, v in sb.client_env().items():
        monkeypatch.setenv(k, v)
    try:
        yield sb
    finally:
        sb.stop()


def by_person(url: str) -> dict[str, list[dict]]:
    """Live HubSpot contacts of the sandbox grouped by cdp_person_id."""
    out: dict[str, list[dict]] = {}
    for hs_id, c in hubspot_live(url).items():
        out.setdefault(c["properties"].get("cdp_person_id", ""), []).append({"id": hs_id, **c["properties"]})
    return out


def hubspot_live(url: str) -> dict[str, dict]:
    """Live HubSpot contacts of the sandbox by id."""
    return requests.get(f"{url}/_sandbox/hubspot", timeout=10).json()["contacts"]


EVENT_COLUMNS = ["event_id", "person_id", "email", "event_type", "event_name", "from_stage", "to_stage",
                 "segment_name", "occurred_at", "email_consent"]


def stage_event(i: int, person_i: int, to_stage: str, at: str, from_stage: str = "active") -> dict:
    return {"event_id": f"jt_{i:04d}", "person_id": f"p{person_i:04d}", "email": f"person{person_i}@example.com",
            "event_type": "stage_changed", "event_name": f"{from_stage} -> {to_stage}", "from_stage": from_stage,
            "to_stage": to_stage, "segment_name": None, "occurred_at": at, "email_consent": "subscribed"}


def write_events(w: TinyWarehouse, rows: list[dict]) -> None:
    """Replace the journey events model with `rows`."""
    with duckdb.connect(str(w.db_path)) as con:
        con.execute("create or replace table sync_webhook__journey_events (event_id varchar, person_id varchar, "
                    "email varchar, event_type varchar, event_name varchar, from_stage varchar, to_stage varchar, "
                    "segment_name varchar, occurred_at timestamp, email_consent varchar)")
        if rows:
            con.executemany(f"insert into sync_webhook__journey_events values ({', '.join('?' * 10)})",
                            [[r[c] for c in EVENT_COLUMNS] for r in rows])


def erase(w: TinyWarehouse, person_ids: list[str], request_id: str = "req-1") -> None:
    """Record an erasure as dbt's ledger does (person ids as salted hashes) and drop the persons from the
    sync models, as the post-hooks do."""
    with duckdb.connect(str(w.db_path)) as con:
        con.execute("create table if not exists privacy_erased_identifiers (request_id varchar, "
                    "identifier_type varchar, identifier_hash varchar)")
        con.executemany("insert into privacy_erased_identifiers values (?, 'person_id', ?)",
                        [[request_id, privacy_hash("person_id", p)] for p in person_ids])
        for model in MODELS:
            con.execute(f"delete from {model} where list_contains(?, person_id)", [person_ids])
        if con.execute("select count(*) from information_schema.tables where table_name = "
                       "'sync_webhook__journey_events'").fetchone()[0]:
            con.execute("delete from sync_webhook__journey_events where list_contains(?, person_id)", [person_ids])
