"""The erasure ledger as the sync side reads it, and the audit it writes (docs/privacy.md).

The warehouse keeps erased persons only as salted hashes (`main.privacy_erased_identifiers`, built by dbt).
A sync's state still knows the person ids it sent; a state key whose salted hash is in that ledger is an
erased person: `run_sync` deletes it where it was sent (HubSpot GDPR delete, Salesforce Collections DELETE,
a signed webhook `delete`), retried like any record until confirmed. Each confirmation lands in
`cdp_sync.privacy_destination_log` (request id, person hash, sync, destination, when), and the person id
in `cdp_sync.sync_record_log` is replaced by its hash (its destination id blanked), so no table keeps the
erased person's id."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import duckdb

SCHEMA = "cdp_sync"
LEDGER = "privacy_erased_identifiers"
SUPPRESSED = "privacy_suppressed_persons"
# the sandbox default of dbt's var privacy_salt (dbt_project.yml): the two must hash alike
DEFAULT_SALT = "cdp-sandbox-only-salt"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.privacy_destination_log (
    request_id varchar,
    person_hash varchar not null,
    sync_name varchar not null,
    destination_key varchar not null,
    action varchar not null,
    run_id varchar not null,
    confirmed_at timestamp not null
);
"""


def privacy_hash(identifier_type: str, value: str, salt: str | None = None) -> str:
    """sha256(salt|type|value) in hex: the same as dbt's privacy_hash macro."""
    salt = os.environ.get("CDP_PRIVACY_SALT", DEFAULT_SALT) if salt is None else salt
    return hashlib.sha256(f"{salt}|{identifier_type}|{value}".encode()).hexdigest()


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                            [schema, table]).fetchone()[0])


def erased_keys(con: duckdb.DuckDBPyConnection, keys: Iterable[str]) -> dict[str, str]:
    """The keys (person ids) that belong to erased persons, with their person hash."""
    if not _has_table(con, "main", LEDGER):
        return {}
    erased = {h for (h,) in con.execute(
        f"select distinct identifier_hash from main.{LEDGER} where identifier_type = 'person_id'").fetchall()}
    if not erased:
        return {}
    hashed = {k: privacy_hash("person_id", k) for k in keys}
    return {k: h for k, h in hashed.items() if h in erased}


def suppressed_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Person ids under a suppression request (they leave every sync model; their removal is privacy driven)."""
    if not _has_table(con, "main", SUPPRESSED):
        return set()
    return {k for (k,) in con.execute(f"select distinct person_id from main.{SUPPRESSED}").fetchall()}


def consent_or_privacy_driven(con: duckdb.DuckDBPyConnection, removal_keys: list[str],
                              opted_out: Iterable[str] = ()) -> set[str]:
    """The removals the mirror guard must not hold back: persons under a suppression request, persons still in
    the model but opted out (`opted_out`: the engine excludes them), and persons whose profile says
    unsubscribed."""
    if not removal_keys:
        return set()
    keys = set(removal_keys)
    driven = keys & suppressed_keys(con)
    driven |= keys & set(opted_out)
    if _has_table(con, "main", "customer_profiles"):
        rest = sorted(keys - driven)
        for i in range(0, len(rest), 5000):
            chunk = rest[i:i + 5000]
            driven |= {k for (k,) in con.execute(
                "select person_id from main.customer_profiles where email_consent = 'unsubscribed' "
                "and person_id in (select unnest(?))", [chunk]).fetchall()}
    return driven


def erasure_log_rows(con: duckdb.DuckDBPyConnection, sync_name: str, destination_key: str, run_id: str,
                     erased: dict[str, str], log: list[tuple], ts: datetime) -> None:
    """Inside a settlement's transaction: each confirmed delete of an erased person becomes an audit row in
    privacy_destination_log (one per request that erased them), and every earlier record-log row of the
    person is re-keyed to `erased:<hash>` with its destination id blanked. So the audit is written with the
    state change it records, whatever the run does next."""
    con.execute(DDL)
    confirmed = {k for k, action, ok, _, _ in log if ok and action == "delete" and k in erased}
    rows = []
    for key in sorted(confirmed):
        person_hash = erased[key]
        requests = [r for (r,) in con.execute(
            f"select distinct request_id from main.{LEDGER} where identifier_type = 'person_id' "
            f"and identifier_hash = ?", [person_hash]).fetchall()] if _has_table(con, "main", LEDGER) else []
        rows += [(req, person_hash, sync_name, destination_key, "delete", run_id, ts) for req in requests or [None]]
    if rows:
        con.executemany(f"insert into {SCHEMA}.privacy_destination_log values (?, ?, ?, ?, ?, ?, ?)", rows)
    for key, person_hash in erased.items():
        con.execute(f"update {SCHEMA}.sync_record_log set record_key = ?, destination_id = null "
                    f"where record_key = ? and sync_name = ?", [f"erased:{person_hash}", key, sync_name])


def purge_erased_state(con: duckdb.DuckDBPyConnection, sync_name: str, destination_key: str) -> int:
    """State this sync keeps for other destinations (a former portal or org, which this run cannot reach) and
    the state kept aside from a release without destination binding lose every erased person: their rows
    (payloads hold emails) go, events keep no person id, and the record log of every destination is
    re-keyed to the person's hash. Matched in SQL by the same salted hash as the ledger. Returns rows gone."""
    if not _has_table(con, "main", LEDGER) or not _has_table(con, SCHEMA, "sync_state"):
        return 0
    salt = os.environ.get("CDP_PRIVACY_SALT", DEFAULT_SALT)
    erased = (f"(select identifier_hash from main.{LEDGER} where identifier_type = 'person_id')")

    def hashed(column: str) -> str:
        return f"sha256(?::varchar || '|person_id|' || {column})"

    gone = 0
    for table, scoped in (("sync_state", True), ("sync_failures", True), ("sync_state_unbound", False)):
        if not _has_table(con, SCHEMA, table):
            continue
        where = "sync_name = ? and destination_key <> ? and " if scoped else "sync_name = ? and "
        params = [sync_name, destination_key] if scoped else [sync_name]
        person = ("coalesce(json_extract_string(payload, '$.person'), record_key)"
                  if table != "sync_failures" else "record_key")
        gone += con.execute(f"delete from {SCHEMA}.{table} where {where}{hashed(person)} in {erased}",
                            [*params, salt]).fetchone()[0]
    if _has_table(con, SCHEMA, "sync_record_log"):
        con.execute(f"update {SCHEMA}.sync_record_log set record_key = 'erased:' || {hashed('record_key')}, "
                    f"destination_id = null where sync_name = ? and {hashed('record_key')} in {erased}",
                    [salt, sync_name, salt])
    return gone


def destination_log(db_path: Path) -> list[tuple]:
    """The audit: each request with its status and its per-destination confirmations (no PII)."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        if not _has_table(con, "main", "privacy_request_log"):
            return []
        has_dest = _has_table(con, SCHEMA, "privacy_destination_log")
        dest = (f"left join (select request_id, sync_name, destination_key, min(confirmed_at) as confirmed_at "
                f"from {SCHEMA}.privacy_destination_log group by all) d on d.request_id = l.request_id"
                if has_dest else "left join (select null as request_id, null as sync_name, null as destination_key, "
                                 "null as confirmed_at) d on false")
        return con.execute(
            "select l.request_id, l.request_type, l.received_at, l.status, l.persons_matched, l.records_matched, "
            f"d.sync_name, d.destination_key, d.confirmed_at from main.privacy_request_log l {dest} "
            "order by l.received_at, l.request_id, d.sync_name").fetchall()
