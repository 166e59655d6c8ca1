"""Sync state, failures, the run log and a per-record action log, kept in the warehouse (schema cdp_sync)
next to the data.

State is bound to its destination: every row carries `destination_key` (HubSpot portal id, Salesforce org
id, webhook URL without its query; the local sandbox's keys start with `sandbox:`), so a run against
another portal or org starts its own state instead of reusing or resetting another's.

An events sync (mode: events, sync/events.py) keeps one row per event id in the same `sync_state` table:
`payload_hash` holds the event's fate (delivered, skipped, superseded, not_routed, baseline) and `payload`
only the journey and reason, never the event's personal data; the row `__baseline__` marks its first run.

The warehouse is never held during HTTP: a run reads everything it needs in one short read at the start
(`load`), and what the destination confirmed is written about once a second in one short transaction
(`settle`) on a connection opened for it and closed at once, so dbt and the data checks can read and
write beside a long sync. DuckDB allows one writing process at a time, so opening waits (with backoff)
while another process holds the file."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from sync.privacy_ledger import erasure_log_rows
from sync.redact import redact

SCHEMA = "cdp_sync"
RUN_COUNTS = ["planned", "created", "updated", "cleared", "archived", "merged", "deleted", "sent", "succeeded", "failed",
              "invalid", "skipped", "excluded", "requests", "retries", "rate_limited", "duration_s", "error"]

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.sync_state (
    sync_name varchar not null,
    destination_key varchar not null,
    record_key varchar not null,
    payload_hash varchar not null,
    payload json,
    destination_id varchar,
    last_synced_at timestamp not null,
    primary key (sync_name, destination_key, record_key)
);
create table if not exists {SCHEMA}.sync_failures (
    sync_name varchar not null,
    destination_key varchar not null,
    record_key varchar not null,
    action varchar,
    error_code varchar,
    error_message varchar,
    attempts integer not null,
    first_failed_at timestamp not null,
    last_failed_at timestamp not null,
    run_id varchar,
    primary key (sync_name, destination_key, record_key)
);
create table if not exists {SCHEMA}.sync_runs (
    run_id varchar primary key,
    sync_name varchar not null,
    status varchar not null,
    dry_run boolean not null,
    started_at timestamp not null,
    finished_at timestamp,
    planned integer, created integer, updated integer, cleared integer, sent integer,
    succeeded integer, failed integer, skipped integer, excluded integer,
    requests integer, retries integer, rate_limited integer, duration_s double, error varchar
);
alter table {SCHEMA}.sync_runs add column if not exists destination_key varchar;
alter table {SCHEMA}.sync_runs add column if not exists archived integer;
alter table {SCHEMA}.sync_runs add column if not exists merged integer;
alter table {SCHEMA}.sync_runs add column if not exists invalid integer;
alter table {SCHEMA}.sync_runs add column if not exists deleted integer;
alter table {SCHEMA}.sync_state add column if not exists delivery_id varchar;
alter table {SCHEMA}.sync_failures add column if not exists payload_hash varchar;
alter table {SCHEMA}.sync_failures add column if not exists delivery_id varchar;
alter table {SCHEMA}.sync_failures add column if not exists destination_id varchar;
create table if not exists {SCHEMA}.sync_record_log (
    run_id varchar not null,
    sync_name varchar not null,
    destination_key varchar not null,
    record_key varchar not null,
    action varchar not null,
    ok boolean not null,
    destination_id varchar,
    error_code varchar,
    logged_at timestamp not null
);
create table if not exists {SCHEMA}.sync_journal_applied (sync_name varchar not null, entry_id varchar not null,
                                                           applied_at timestamp not null);
"""

STATE_COLUMNS = ["sync_name", "destination_key", "record_key", "payload_hash", "payload", "destination_id",
                 "last_synced_at", "delivery_id"]
FAILURE_COLUMNS = ["sync_name", "destination_key", "record_key", "action", "error_code", "error_message", "attempts",
                   "first_failed_at", "last_failed_at", "run_id", "payload_hash", "delivery_id", "destination_id"]

CHUNK_ROWS = 2000  # model rows read at once while planning

# state of a release without destination binding is kept aside (renamed), never reused for a destination
LEGACY = ["sync_state", "sync_failures"]
_READY: set[str] = set()


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class StateRow:
    payload_hash: str
    destination_id: str | None
    payload: dict[str, str]
    delivery_id: str | None = None  # the last confirmed delivery: the next delivery's id is chained from it


@dataclass(frozen=True)
class Attempt:
    """A write that was sent but not confirmed (failed, or its outcome is unknown): the next delivery of the
    same state re-uses its delivery id, a delivery of another state chains from it."""
    payload_hash: str | None
    delivery_id: str | None
    destination_id: str | None = None


@dataclass
class Snapshot:
    """Everything a run needs from the warehouse, read once at its start."""
    rows: list[dict]
    state: dict[str, StateRow]
    failures: dict[str, tuple[str, int]]           # record_key -> (error_code, attempts)
    merges: dict[str, str] = field(default_factory=dict)  # retired person id -> the id it merged into
    attempts: dict[str, Attempt] = field(default_factory=dict)  # record_key -> its last unconfirmed write


@dataclass
class Settlement:
    """What one confirmed batch changes, written in one transaction."""
    # key, hash, payload, dest id, delivery id
    confirmed: list[tuple[str, str, dict, str | None, str | None]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    # key, action, code, message, the attempt (payload hash, delivery id, destination id) when one was sent
    failures: list[tuple[str, str, str, str, Attempt | None]] = field(default_factory=list)
    log: list[tuple[str, str, bool, str | None, str | None]] = field(default_factory=list)  # key, action, ok, id, code
    erased: dict[str, str] = field(default_factory=dict)  # erased person's key -> its hash (privacy requests)
    entries: list[str] = field(default_factory=list)  # the journal lines this outcome came from


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text


def is_lock_error(exc: BaseException) -> bool:
    """Another process holds the warehouse (DuckDB allows one writing process)."""
    return isinstance(exc, duckdb.Error) and _is_lock_error(exc)


class StateStore:
    def __init__(self, db_path: Path, lock_wait_s: float | None = None):
        self.db_path = Path(db_path)
        # how long a write waits for another process's lock before giving up (CDP_SYNC_LOCK_WAIT_SECONDS)
        self.lock_wait_s = float(os.environ.get("CDP_SYNC_LOCK_WAIT_SECONDS", "120")) if lock_wait_s is None \
            else lock_wait_s

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; waits while another process holds the warehouse."""
        deadline = time.monotonic() + self.lock_wait_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.db_path), read_only=read_only)
                break
            except duckdb.Error as exc:
                if not _is_lock_error(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(1.0, delay * 2)
        try:
            if not read_only and str(self.db_path) not in _READY:
                _migrate(con)
                con.execute(DDL)
                _READY.add(str(self.db_path))
            yield con
        finally:
            con.close()

    def close(self) -> None:  # kept for callers of the older API: nothing is held open
        return None

    # --- reading ----------------------------------------------------------------------------------
    def load(self, sync_name: str, destination_key: str, model: str, columns: list[str],
             read_only: bool = False) -> Snapshot:
        """The model's rows, this destination's state and open failures, and the person-id merge map."""
        with self.connect(read_only=read_only) as con:
            return read_snapshot(con, sync_name, destination_key, model, columns)

    def open_failures(self, sync_name: str, destination_key: str | None = None) -> dict[str, int]:
        with self.connect() as con:
            q = f"select record_key, attempts from {SCHEMA}.sync_failures where sync_name = ?"
            args = [sync_name]
            if destination_key is not None:
                q += " and destination_key = ?"
                args.append(destination_key)
            return dict(con.execute(q, args).fetchall())

    # --- writing ----------------------------------------------------------------------------------
    def settle(self, sync_name: str, destination_key: str, run_id: str, s: Settlement) -> None:
        """Advance state for confirmed records, drop forgotten ones, record failures and the action log:
        one transaction, so a crash leaves either all of a batch's outcome or none of it."""
        if not (s.confirmed or s.forgotten or s.failures or s.log or s.erased):
            return
        ts = now()
        with self.connect() as con:
            con.execute("begin")
            try:
                if s.confirmed:
                    df = pd.DataFrame([(sync_name, destination_key, k, h, p if isinstance(p, str) else
                                        json.dumps(p, default=str), d, ts, did)
                                       for k, h, p, d, did in s.confirmed], columns=STATE_COLUMNS)
                    con.register("confirmed_batch", df)
                    con.execute(f"insert or replace into {SCHEMA}.sync_state ({', '.join(STATE_COLUMNS)}) "
                                f"select * from confirmed_batch")
                    con.execute(f"delete from {SCHEMA}.sync_failures where sync_name = ? and destination_key = ? "
                                f"and record_key in (select record_key from confirmed_batch)",
                                [sync_name, destination_key])
                if s.forgotten:
                    con.execute(f"delete from {SCHEMA}.sync_state where sync_name = ? and destination_key = ? "
                                f"and list_contains(?, record_key)", [sync_name, destination_key, s.forgotten])
                    con.execute(f"delete from {SCHEMA}.sync_failures where sync_name = ? and destination_key = ? "
                                f"and list_contains(?, record_key)", [sync_name, destination_key, s.forgotten])
                if s.failures:
                    df = pd.DataFrame([(sync_name, destination_key, k, a, c, redact(m)[:500], 1, ts, ts, run_id,
                                        t.payload_hash if t else None, t.delivery_id if t else None,
                                        t.destination_id if t else None)
                                       for k, a, c, m, t in s.failures], columns=FAILURE_COLUMNS)
                    con.register("failed_batch", df)
                    # an attempt is kept until a later one replaces it: a failure without one (bad input)
                    # leaves the last delivery id in place
                    con.execute(f"""
                        insert into {SCHEMA}.sync_failures ({', '.join(FAILURE_COLUMNS)}) select * from failed_batch
                        on conflict (sync_name, destination_key, record_key) do update set
                            action = excluded.action, error_code = excluded.error_code,
                            error_message = excluded.error_message, attempts = sync_failures.attempts + 1,
                            last_failed_at = excluded.last_failed_at, run_id = excluded.run_id,
                            payload_hash = coalesce(excluded.payload_hash, sync_failures.payload_hash),
                            delivery_id = coalesce(excluded.delivery_id, sync_failures.delivery_id),
                            destination_id = coalesce(excluded.destination_id, sync_failures.destination_id)
                    """)
                if s.erased:  # the audit and the re-keyed log land with the state change they record
                    erasure_log_rows(con, sync_name, destination_key, run_id, s.erased, s.log, ts)
                if s.entries:  # with the outcome, so a replay of the same journal lines skips them
                    con.executemany(f"insert into {SCHEMA}.sync_journal_applied values (?, ?, ?)",
                                    [[sync_name, e, ts] for e in s.entries])
                if s.log:
                    hashed = s.erased
                    df = pd.DataFrame([(run_id, sync_name, destination_key,
                                        f"erased:{hashed[k]}" if k in hashed else k, a, ok,
                                        None if k in hashed else d, c, ts) for k, a, ok, d, c in s.log],
                                      columns=["run_id", "sync_name", "destination_key", "record_key", "action",
                                               "ok", "destination_id", "error_code", "logged_at"])
                    con.register("log_batch", df)
                    con.execute(f"insert into {SCHEMA}.sync_record_log select * from log_batch")
                con.execute("commit")
            except Exception:
                con.execute("rollback")
                raise

    def set_destination_id(self, sync_name: str, destination_key: str, record_key: str, destination_id: str) -> None:
        with self.connect() as con:
            con.execute(f"update {SCHEMA}.sync_state set destination_id = ? where sync_name = ? and destination_key = ? "
                        f"and record_key = ?", [destination_id, sync_name, destination_key, record_key])

    def reset(self, sync_name: str, destination_key: str | None = None) -> None:
        """Forget what was sent. Without a destination key only sandbox destinations are forgotten (a new
        sandbox is an empty CRM); the state of a real portal or org is reset only when named."""
        with self.connect() as con:
            if destination_key is None:
                con.execute(f"delete from {SCHEMA}.sync_state where sync_name = ? and destination_key like 'sandbox:%'",
                            [sync_name])
            else:
                con.execute(f"delete from {SCHEMA}.sync_state where sync_name = ? and destination_key = ?",
                            [sync_name, destination_key])

    def start_run(self, sync_name: str, dry_run: bool, destination_key: str | None = None) -> str:
        run_id = uuid.uuid4().hex
        with self.connect() as con:
            # the caller holds the sync's lock: a run still marked running was killed, not left "running"
            con.execute(f"update {SCHEMA}.sync_runs set status = 'abandoned', finished_at = ?, "
                        f"error = coalesce(error, 'the process ended without finishing the run') "
                        f"where sync_name = ? and status = 'running'", [now(), sync_name])
            con.execute(f"insert into {SCHEMA}.sync_runs (run_id, sync_name, status, dry_run, started_at, "
                        f"destination_key) values (?, ?, 'running', ?, ?, ?)",
                        [run_id, sync_name, dry_run, now(), destination_key])
        return run_id

    def set_run_destination(self, run_id: str, destination_key: str) -> None:
        with self.connect() as con:
            con.execute(f"update {SCHEMA}.sync_runs set destination_key = ? where run_id = ?", [destination_key, run_id])

    def applied_entries(self, sync_name: str) -> set[str]:
        """The journal lines whose outcome the warehouse already has (written before the journal was rewritten)."""
        with self.connect() as con:
            return {r[0] for r in con.execute(f"select entry_id from {SCHEMA}.sync_journal_applied where sync_name = ?",
                                              [sync_name]).fetchall()}

    def finish_run(self, run_id: str, status: str, counts: dict[str, object]) -> None:
        """End the run row. Its journal was rewritten at the last flush, so the lines it applied cannot come back."""
        sets = ", ".join(f"{c} = ?" for c in RUN_COUNTS)
        with self.connect() as con:
            con.execute(f"delete from {SCHEMA}.sync_journal_applied where sync_name = "
                        f"(select sync_name from {SCHEMA}.sync_runs where run_id = ?)", [run_id])
            con.execute(f"update {SCHEMA}.sync_runs set status = ?, finished_at = ?, {sets} where run_id = ?",
                        [status, now(), *[redact(counts.get(c)) if c == "error" else counts.get(c) for c in RUN_COUNTS],
                         run_id])


def read_snapshot(con: duckdb.DuckDBPyConnection, sync_name: str, destination_key: str, model: str,
                  columns: list[str], rows: bool = True, match_key: str | None = None,
                  keep: Collection[str] = ()) -> Snapshot:
    """Everything a run plans from, in one read. `rows=False` leaves the model's rows to `model_chunks`; a
    `match_key` keeps only that field of each state payload (what removals and merges need) and the fields
    in `keep` (delivered values tolerances compare with), so state costs a few values per record."""
    tables = {(s, t) for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()}
    if not any(t == model and s != SCHEMA for s, t in tables):
        raise LookupError(f"model {model} is not in the warehouse: run `make build` first")
    have = {c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_name = ? and table_schema <> ?",
        [model, SCHEMA]).fetchall()}
    missing = [c for c in columns if c not in have]
    if missing:
        raise LookupError(f"model {model} has no column {', '.join(missing)} (syncs.yml maps it)")
    data = [row for chunk in model_chunks(con, model, columns) for row in chunk] if rows else []
    state: dict[str, StateRow] = {}
    failures: dict[str, tuple[str, int]] = {}
    attempts: dict[str, Attempt] = {}
    if (SCHEMA, "sync_state") in tables:
        did_col = "delivery_id" if _has_column(con, "sync_state", "delivery_id") else "null"
        kept = [] if match_key is None else list(dict.fromkeys([match_key, *keep]))
        pairs = ", ".join(["?, json_extract_string(payload, ?)"] * len(kept))
        payload = "payload" if match_key is None else f"json_object({pairs})"
        params = [arg for f in kept for arg in (f, f'$."{f}"')]
        for k, h, d, p, did in con.execute(
                f"select record_key, payload_hash, destination_id, {payload}, {did_col} from {SCHEMA}.sync_state "
                f"where sync_name = ? and destination_key = ?", [*params, sync_name, destination_key]).fetchall():
            state[k] = StateRow(h, d, {a: b for a, b in json.loads(p).items() if b is not None} if p else {}, did)
    if (SCHEMA, "sync_failures") in tables and _has_column(con, "sync_failures", "destination_key"):
        tried = ("payload_hash, delivery_id, destination_id" if _has_column(con, "sync_failures", "delivery_id")
                 else "null, null, null")
        for k, c, a, h, did, d in con.execute(
                f"select record_key, error_code, attempts, {tried} from {SCHEMA}.sync_failures "
                f"where sync_name = ? and destination_key = ?", [sync_name, destination_key]).fetchall():
            failures[k] = (c, a)
            if did or d:
                attempts[k] = Attempt(h, did, d)
    merges: dict[str, str] = {}
    if any(t == "person_id_history" and s != SCHEMA for s, t in tables):
        for old, new in con.execute("select from_person_id, to_person_id from person_id_history "
                                    "where change_type = 'merge' order by changed_at").fetchall():
            merges[old] = new
    return Snapshot(data, state, failures, merges, attempts)


def model_chunks(con: duckdb.DuckDBPyConnection, model: str, columns: list[str],
                 size: int = CHUNK_ROWS) -> Iterator[list[dict]]:
    """The model's rows as dicts, `size` at a time."""
    cur = con.execute(f'select {", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)} from "{model}"')
    names = [d[0] for d in cur.description]
    while chunk := cur.fetchmany(size):
        yield [dict(zip(names, row)) for row in chunk]


def duplicate_keys(con: duckdb.DuckDBPyConnection, model: str, key: str) -> dict[str, int]:
    """Keys more than one row of the model has, with their count (as text, as planning reads keys)."""
    return dict(con.execute(f'select cast("{key}" as varchar), count(*) from "{model}" where "{key}" is not null '
                            f'group by 1 having count(*) > 1').fetchall())


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return con.execute("select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
                       "and column_name = ?", [SCHEMA, table, column]).fetchone()[0] > 0


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Tables from a release without destination binding are renamed to <name>_unbound (kept, not used)."""
    for table in LEGACY:
        exists = con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                             [SCHEMA, table]).fetchone()[0]
        if exists and not _has_column(con, table, "destination_key"):
            con.execute(f"drop table if exists {SCHEMA}.{table}_unbound")
            con.execute(f"alter table {SCHEMA}.{table} rename to {table}_unbound")
