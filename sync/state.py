"""Sync state, failures and run log, kept in the warehouse (schema cdp_sync) next to the data.

State is advanced only for records the destination confirmed, one transaction per batch, so a crash at
any point loses nothing (unconfirmed records are sent again) and, because every destination call is an
idempotent upsert keyed by the match key, duplicates nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

SCHEMA = "cdp_sync"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.sync_state (
    sync_name varchar not null,
    record_key varchar not null,
    payload_hash varchar not null,
    payload json,
    destination_id varchar,
    last_synced_at timestamp not null,
    primary key (sync_name, record_key)
);
create table if not exists {SCHEMA}.sync_failures (
    sync_name varchar not null,
    record_key varchar not null,
    error_code varchar,
    error_message varchar,
    attempts integer not null,
    first_failed_at timestamp not null,
    last_failed_at timestamp not null,
    run_id varchar,
    primary key (sync_name, record_key)
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
"""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class StateStore:
    def __init__(self, db_path: Path):
        self.con = duckdb.connect(str(db_path))
        self.con.execute(DDL)

    def close(self) -> None:
        self.con.close()

    # --- reading the model and the state ---------------------------------------------------
    def relation_exists(self, name: str) -> bool:
        return self.con.execute(
            "select count(*) from information_schema.tables where table_name = ? and table_schema <> ?",
            [name, SCHEMA]).fetchone()[0] > 0

    def read_model(self, model: str, columns: list[str]) -> list[dict]:
        if not self.relation_exists(model):
            raise LookupError(f"model {model} is not in the warehouse: run `make build` first")
        cols = ", ".join(f'"{c}"' for c in columns)
        cur = self.con.execute(f'select {cols} from "{model}"')
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def state(self, sync_name: str) -> dict[str, tuple[str, str | None, str | None]]:
        rows = self.con.execute(
            f"select record_key, payload_hash, destination_id, payload from {SCHEMA}.sync_state where sync_name = ?",
            [sync_name]).fetchall()
        return {k: (h, d, p) for k, h, d, p in rows}

    def open_failures(self, sync_name: str) -> dict[str, int]:
        return dict(self.con.execute(
            f"select record_key, attempts from {SCHEMA}.sync_failures where sync_name = ?", [sync_name]).fetchall())

    # --- writing ------------------------------------------------------------------------------
    def confirm(self, sync_name: str, confirmed: Iterable[tuple[str, str, dict, str | None]]) -> None:
        """Advance state for confirmed records and close their failures, in one transaction."""
        rows = [(sync_name, k, h, json.dumps(p, default=str), d, now()) for k, h, p, d in confirmed]
        if not rows:
            return
        batch = pd.DataFrame(rows, columns=["sync_name", "record_key", "payload_hash", "payload",
                                            "destination_id", "last_synced_at"])
        self.con.register("confirmed_batch", batch)
        try:
            self.con.execute("begin")
            self.con.execute(f"insert or replace into {SCHEMA}.sync_state select * from confirmed_batch")
            self.con.execute(f"delete from {SCHEMA}.sync_failures where sync_name = ? and record_key in "
                             f"(select record_key from confirmed_batch)", [sync_name])
            self.con.execute("commit")
        finally:
            self.con.unregister("confirmed_batch")

    def forget(self, sync_name: str, keys: Iterable[str]) -> None:
        """Mirror mode: records cleared at the destination leave the state."""
        keys = list(keys)
        if keys:
            self.con.execute(f"delete from {SCHEMA}.sync_state where sync_name = ? and list_contains(?, record_key)",
                             [sync_name, keys])

    def fail(self, sync_name: str, run_id: str, failures: Iterable[tuple[str, str, str]]) -> None:
        ts = now()
        rows = list(failures)
        if not rows:
            return
        batch = pd.DataFrame([(sync_name, k, c, m[:500], 1, ts, ts, run_id) for k, c, m in rows],
                             columns=["sync_name", "record_key", "error_code", "error_message", "attempts",
                                      "first_failed_at", "last_failed_at", "run_id"])
        self.con.register("failed_batch", batch)
        try:
            self.con.execute(f"""
                insert into {SCHEMA}.sync_failures select * from failed_batch
                on conflict (sync_name, record_key) do update set
                    error_code = excluded.error_code, error_message = excluded.error_message,
                    attempts = sync_failures.attempts + 1, last_failed_at = excluded.last_failed_at,
                    run_id = excluded.run_id
            """)
        finally:
            self.con.unregister("failed_batch")

    def reset(self, sync_name: str) -> None:
        self.con.execute(f"delete from {SCHEMA}.sync_state where sync_name = ?", [sync_name])

    def start_run(self, sync_name: str, dry_run: bool) -> str:
        # a run that never finished (killed) is marked so, not left "running" forever
        self.con.execute(f"update {SCHEMA}.sync_runs set status = 'abandoned' "
                         f"where sync_name = ? and status = 'running'", [sync_name])
        run_id = uuid.uuid4().hex
        self.con.execute(f"insert into {SCHEMA}.sync_runs (run_id, sync_name, status, dry_run, started_at) "
                         f"values (?, ?, 'running', ?, ?)", [run_id, sync_name, dry_run, now()])
        return run_id

    def finish_run(self, run_id: str, status: str, counts: dict[str, object]) -> None:
        cols = ["planned", "created", "updated", "cleared", "sent", "succeeded", "failed", "skipped",
                "excluded", "requests", "retries", "rate_limited", "duration_s", "error"]
        sets = ", ".join(f"{c} = ?" for c in cols)
        self.con.execute(f"update {SCHEMA}.sync_runs set status = ?, finished_at = ?, {sets} where run_id = ?",
                         [status, now(), *[counts.get(c) for c in cols], run_id])
