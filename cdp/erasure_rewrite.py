"""Erased means unrecoverable, in the file too. DuckDB deletes rows logically: the blocks that held an erased
person's email and phone are freed, not overwritten, and VACUUM and CHECKPOINT leave them in the file. So
after a build whose erasure ledger grew, the warehouse is rewritten: every schema, table, view and macro is
copied (COPY FROM DATABASE) into a fresh file beside it, which then replaces the old file in one rename.

A crash before the rename leaves the old file whole and a partial `.rewrite` file, which the next rewrite
removes first; the ledger size the rewrite is for is recorded inside the new file (cdp_privacy.file_rewrites),
so a rewrite that did not finish is simply done again by the next build."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from sync.privacy_ledger import LEDGER

MARK_SCHEMA = "cdp_privacy"
MARK_TABLE = f"{MARK_SCHEMA}.file_rewrites"


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 0)


def rewrite_needed(con: duckdb.DuckDBPyConnection, database: str) -> tuple[bool, int]:
    """(whether the ledger holds erasures the file was not rewritten for, the ledger's size now)."""
    tables = {(s, t) for s, t in con.execute("select schema_name, table_name from duckdb_tables() "
                                             "where database_name = ?", [database]).fetchall()}
    if ("main", LEDGER) not in tables:
        return False, 0
    erased = _scalar(con, f'select count(*) from "{database}".main.{LEDGER}')
    done = _scalar(con, f'select max(ledger_rows) from "{database}".{MARK_TABLE}') if (
        MARK_SCHEMA, "file_rewrites") in tables else 0
    return erased > done, erased


def rewrite_after_erasure(db_path: Path, force: bool = False) -> str | None:
    """Rewrite the warehouse file when the erasure ledger grew since the last rewrite. Returns what was
    done, in one line, or None when there was nothing to do. The old file is held (attached read-write: no
    other process can have it open) until the new one has replaced it."""
    if not db_path.exists():
        return None
    fresh = db_path.with_name(db_path.name + ".rewrite")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)  # a rewrite a crash interrupted
    old = db_path.stem  # the catalog name dbt wrote into the views' SQL: they bind again when copied
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        try:
            con.execute(f'attach {_literal(db_path)} as "{old}"')
        except duckdb.IOException:
            return "warehouse file in use by another process: not rewritten (the next build retries)"
        needed, erased = rewrite_needed(con, old)
        if not (needed or force):
            return None
        con.execute(f'checkpoint "{old}"')  # the WAL's changes into the file before it is copied
        con.execute(f"attach {_literal(fresh)} as new_file")
        con.execute(f'copy from database "{old}" to new_file')
        con.execute(f"create schema if not exists new_file.{MARK_SCHEMA}")
        con.execute(f"create table if not exists new_file.{MARK_TABLE} (rewritten_at timestamp, ledger_rows bigint)")
        con.execute(f"insert into new_file.{MARK_TABLE} values (current_timestamp, ?)", [erased])
        con.execute("detach new_file")  # closed and checkpointed: no .wal beside it
        _fsync(fresh)
        os.replace(fresh, db_path)
        _fsync(db_path.parent)
        con.execute(f'detach "{old}"')
    db_path.with_name(db_path.name + ".wal").unlink(missing_ok=True)
    return f"warehouse file rewritten after erasure ({erased} ledger rows): no freed block keeps erased data"


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
