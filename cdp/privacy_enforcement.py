"""Privacy requests reach the warehouse and every destination whatever else fails in a run.

A run can stop short: a staging model fails, a blocking governance check holds back the identity and
profile models, a prediction check fails. The erasure deletes then would wait for a run that passes, while
the erased person stays in the marts, the sync models and the CRMs. So after a run that did not complete
(`cdp build`, `cdp run`, the Dagster job through its failure sensor) this module does the privacy part on
its own:

1. `refresh_privacy_models`: dbt builds only the privacy models (requests, the erasure ledger, suppressed
   persons, the request log), which resolve new requests through the previous build's identity graph;
2. `purge_warehouse`: rows of erased persons are deleted from every table of the main schema (by person id,
   record key, email or phone hash, as the ledger holds them), and suppressed persons from the sync models;
3. `privacy_only_syncs`: each sync runs in its privacy-only mode on the purged sync models, so the run sends
   the privacy deletes and archives and nothing else: no new data from a run that failed its checks leaves
   the warehouse.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb

from cdp.dbt_args import dbt_command
from cdp.registry import load_registry
from sync.engine import RunSummary
from sync.privacy import deliver_privacy_requests
from sync.privacy_ledger import DEFAULT_SALT, LEDGER, SUPPRESSED

PRIVACY_MODELS = ("base_privacy__requests", "stg_privacy__requests", LEDGER, SUPPRESSED, "privacy_request_log")
# tables the purge leaves alone: the ledger and the audit hold hashes and counts only
KEEP = {LEDGER, SUPPRESSED, "privacy_request_log"}
# column -> identifier type of the ledger's salted hash
HASHED_COLUMNS = {"person_id": "person_id", "record_key": "record_key", "email": "email", "phone": "phone"}


def refresh_privacy_models(dbt_executable: str, project_dir: Path, target: str, env: Mapping[str, str]) -> int:
    """dbt builds the privacy models alone (no tests): new requests join the ledger even when the rest of
    the build failed. Returns dbt's exit code."""
    cmd = [dbt_executable, *dbt_command("run", project_dir=str(project_dir), target=target, select=PRIVACY_MODELS),
           "--quiet"]
    return subprocess.call(cmd, cwd=project_dir, env=dict(env), stdout=subprocess.DEVNULL)


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for table, column in con.execute("select table_name, column_name from duckdb_columns() "
                                     "where schema_name = 'main' and table_name in "
                                     "(select table_name from duckdb_tables() where schema_name = 'main')").fetchall():
        found.setdefault(table, set()).add(column)
    return found


def _erased(column: str, kind: str) -> str:
    """SQL: the column's salted hash (the salt is the statement's parameter) is in the ledger for `kind`."""
    return (f"(\"{column}\" is not null and sha256(? || '|{kind}|' || cast(\"{column}\" as varchar)) in "
            f"(select identifier_hash from main.{LEDGER} where identifier_type = '{kind}'))")


def _base_columns(project_dir: Path) -> dict[str, dict[str, str]]:
    """base_ table -> {column: identifier type} it is erased by (as macros/privacy/erasure.sql reads the registry)."""
    found = {}
    for s in load_registry(project_dir).values():
        columns = {column: kind for kind, column in s.identifiers.items()}
        if "email" in s.quality and "email" not in s.identifiers:
            columns["email"] = "email"
        found[s.base] = columns
    return found


def purge_warehouse(db_path: Path, project_dir: Path) -> int:
    """Delete erased persons' rows from every table of the main schema (base_ tables by their identifiers,
    the rest by person id, record key, email and phone; quarantine rows whose base row is gone), and
    suppressed persons from the sync models. Returns the rows deleted. Idempotent."""
    salt = os.environ.get("CDP_PRIVACY_SALT", DEFAULT_SALT)
    bases = _base_columns(project_dir)
    deleted = 0
    with duckdb.connect(str(db_path)) as con:
        tables = _tables(con)
        if LEDGER not in tables:
            return 0
        for table, columns in sorted(tables.items()):
            if table in KEEP:
                continue
            hashed = bases.get(table, HASHED_COLUMNS)
            conditions = [_erased(column, kind) for column, kind in hashed.items() if column in columns]
            if {"identifier_type", "identifier_value"} <= columns:  # identity tables: one value per identifier type
                conditions.append(f"sha256(? || '|' || identifier_type || '|' || identifier_value) in "
                                  f"(select identifier_hash from main.{LEDGER})")
            params: list[object] = [salt] * len(conditions)
            if table.startswith("sync_") and "person_id" in columns and SUPPRESSED in tables:
                conditions.append(f"person_id in (select person_id from main.{SUPPRESSED})")
            if conditions:
                (n,) = con.execute(f'delete from main."{table}" where {" or ".join(conditions)}', params).fetchone()
                deleted += n
        if "quarantine" in tables and all(b in tables for b in bases):
            kept = " union all ".join(f"select md5('{s.source_name}|' || _raw_row_hash) from main.\"{s.base}\" "
                                      "where _row_fate = 'quarantined'" for s in load_registry(project_dir).values())
            (n,) = con.execute(f"delete from main.quarantine where quarantine_id not in ({kept})").fetchone()
            deleted += n
    return deleted


def privacy_only_syncs(db_path: Path, log: Callable[[str], None]) -> list[RunSummary]:
    """Every sync run in its privacy-only mode (sync/privacy.py): erasures and the removals an opt-out or a
    suppression causes, to every destination, and nothing else."""
    summaries = list(deliver_privacy_requests(db_path).values())
    for summary in summaries:
        log(f"privacy-only sync {summary.sync_name}: {summary.status}, {summary.deleted} deleted, "
            f"{summary.archived} archived" + (f" ({summary.error})" if summary.error else ""))
    return summaries


def enforce_privacy(db_path: Path, project_dir: Path, target: str, env: Mapping[str, str], dbt_executable: str,
                    log: Callable[[str], None], destinations: bool = True) -> bool:
    """The three steps above, for a run that did not complete (DuckDB; other targets cannot DELETE). True
    when every step succeeded."""
    if target != "duckdb" or not db_path.exists():
        return True
    rc = refresh_privacy_models(dbt_executable, project_dir, target, env)
    if rc != 0:
        log(f"privacy: the privacy models did not build (dbt exit code {rc}); deleting by the ledger as it stands")
    try:
        removed = purge_warehouse(db_path, project_dir)
        log(f"privacy: {removed} row(s) of erased or suppressed persons removed from the warehouse")
        summaries = privacy_only_syncs(db_path, log) if destinations else []
    except (duckdb.Error, OSError, LookupError, ValueError) as exc:  # one line (a malformed syncs.yml, too)
        log(f"privacy: FAILED to apply the privacy requests: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return False
    return rc == 0 and all(s.status == "success" for s in summaries)
