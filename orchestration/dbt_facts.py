"""What a dbt step reports on each table it built: row count and column schema for every table, and the
journey tables' Markdown summaries. Read from DuckDB after dbt released its write lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from cdp.report import JOURNEY_STAGES_SQL, LATEST_TRANSITIONS_SQL, SEGMENT_CHANGE_SQL, markdown_table, signed


def table_facts(db_path: Path, tables: list[str]) -> dict[str, dict[str, Any]]:
    """Row count and column schema of each table, read from DuckDB after dbt released its write lock."""
    facts: dict[str, dict[str, Any]] = {}
    if not tables or not db_path.exists():
        return facts
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns: dict[str, list[dg.TableColumn]] = {}
        for table, column, data_type in con.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = 'main' order by table_name, ordinal_position").fetchall():
            columns.setdefault(table, []).append(dg.TableColumn(name=column, type=data_type))
        for table in tables:
            if table not in columns:
                continue
            (rows,) = con.execute(f'select count(*) from main."{table}"').fetchone()
            facts[table] = {"dagster/row_count": int(rows),
                            "dagster/column_schema": dg.TableSchema(columns=columns[table])}
    return facts


def journey_facts(db_path: Path, tables: list[str]) -> dict[str, dict[str, Any]]:
    """Markdown tables on the journey assets, read after the build, one query per table: the stage
    distribution on customer_profiles, this build's transitions by from/to on journey_transitions, and the
    segment sizes against the previous build instant the history logs recorded on segment_memberships
    (docs/profiles-segments-journeys.md). The same queries `make run` prints through cdp.report.journey_summary."""
    wanted = {"customer_profiles", "journey_transitions", "segment_memberships"} & set(tables)
    facts: dict[str, dict[str, Any]] = {}
    if not wanted or not db_path.exists():
        return facts
    with duckdb.connect(str(db_path), read_only=True) as con:
        built = {name for (name,) in con.execute("select table_name from information_schema.tables "
                                                 "where table_schema = 'main'").fetchall()}
        if "customer_profiles" in wanted:
            stages = con.execute(JOURNEY_STAGES_SQL).fetchall()
            facts["customer_profiles"] = {"journey_stages": dg.MetadataValue.md(
                markdown_table(["journey_stage", "persons", "with_action"], stages))}
        if "journey_transitions" in wanted:
            moves = con.execute(LATEST_TRANSITIONS_SQL).fetchall()
            facts["journey_transitions"] = {
                "transitions_this_run": dg.MetadataValue.md(markdown_table(["from_stage", "to_stage", "persons"], moves)),
                "transitions_this_run_total": sum(int(n) for *_, n in moves)}
        # the size change reads the history logs downstream of segment_memberships: only once they exist
        history = {"customer_profiles", "journey_transitions", "segment_membership_events", "segment_membership_history"}
        if "segment_memberships" in wanted and history <= built:
            rows = con.execute(SEGMENT_CHANGE_SQL).fetchall()
            previous_as_of = rows[0][4] if rows else None
            facts["segment_memberships"] = {
                "segment_size_change": dg.MetadataValue.md(markdown_table(
                    ["segment_name", "previous", "now", "change"],
                    [(name, previous, now, signed(change)) for name, previous, now, change, _at in rows])),
                "segment_sizes_previous_as_of": str(previous_as_of) if previous_as_of is not None else "first build"}
    return facts
