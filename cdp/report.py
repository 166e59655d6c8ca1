"""Readable run summaries, read from the warehouse in read-only mode."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import duckdb


def query(duckdb_path: Path, sql: str, params: Sequence[object] = ()) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        cur = con.execute(sql, list(params))
        cols = [d[0] for d in cur.description]
        return cols, cur.fetchall()


def table_exists(duckdb_path: Path, name: str, schema: str | None = None) -> bool:
    sql = "select count(*) from information_schema.tables where table_name = ?"
    params: list[object] = [name]
    if schema is not None:
        sql += " and table_schema = ?"
        params.append(schema)
    _, rows = query(duckdb_path, sql, params)
    return rows[0][0] > 0


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; numbers right-aligned."""
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) for i in range(len(columns))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(row, widths, numeric))

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells[1:]]
    return "\n".join(lines)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "| " + " | ".join(columns) + " |"
    sep = "| " + " | ".join("---" for _ in columns) + " |"
    body = ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows]
    return "\n".join([head, sep, *body])


LOAD_SUMMARY_SQL = """
    select source_name, rows_loaded as loaded, rows_staged as staged, rows_superseded as superseded,
           rows_duplicate as duplicates, rows_quarantined as quarantined, rows_after_as_of as after_as_of,
           emails_normalised + phones_normalised as ids_normalised,
           emails_placeholder + phones_placeholder as placeholders_nulled,
           emails_invalid + phones_invalid as invalid_nulled
    from source_row_counts order by source_name
"""


def load_summary(duckdb_path: Path) -> str:
    cols, rows = query(duckdb_path, LOAD_SUMMARY_SQL)
    return format_table(cols, rows)


IDENTITY_SUMMARY_SQL = """
    select
        (select count(*) from customer_profiles) as persons,
        (select count(*) from person_records) as records_resolved,
        (select count(*) from identity_graph) as identifiers,
        (select coalesce(max(record_count), 0) from customer_profiles) as largest_person_records,
        (select count(*) from identity_merge_rule_drops) as identifiers_not_used_for_merging
"""


def identity_summary(duckdb_path: Path) -> str:
    if not table_exists(duckdb_path, "customer_profiles"):
        return "(identity marts not built)"
    cols, rows = query(duckdb_path, IDENTITY_SUMMARY_SQL)
    return format_table(cols, rows)


PREDICTION_SUMMARY_SQL = """
    select prediction_basis as basis, count(*) as persons,
           round(avg(churn_risk), 3) as mean_churn_risk,
           sum(case when churn_risk > 0.5 then 1 else 0 end) as churn_risk_over_half,
           round(avg(expected_orders), 3) as mean_expected_orders,
           round(sum(predicted_clv), 2) as total_predicted_clv,
           round(avg(predicted_clv), 2) as mean_predicted_clv,
           max(horizon_days) as horizon_days
    from customer_predictions group by prediction_basis order by prediction_basis
"""


def prediction_summary(duckdb_path: Path) -> str:
    """Churn risk and predicted CLV per prediction basis, and the fitted parameters, for run summaries."""
    if not table_exists(duckdb_path, "customer_predictions"):
        return "(predictions not built)"
    cols, rows = query(duckdb_path, PREDICTION_SUMMARY_SQL)
    _, params = query(duckdb_path, "select model, parameter, value, fit_status from predictive_model_parameters "
                                   "order by model, parameter")
    fitted = ", ".join(f"{p}={v:.4g}" if v is not None else f"{p}=n/a" for _m, p, v, _s in params)
    status = ", ".join(sorted({f"{m_}: {s}" for m_, _p, _v, s in params}))
    return f"{format_table(cols, rows)}\nparameters ({status}): {fitted}"


JOURNEY_STAGES_SQL = """
    select journey_stage, count(*) as persons, sum(case when next_best_action <> 'none' then 1 else 0 end) as with_action
    from customer_profiles group by journey_stage order by persons desc, journey_stage
"""

# the transitions the latest build recorded (its as-of instant is the log's latest)
LATEST_TRANSITIONS_SQL = """
    select coalesce(from_stage, '(first seen)') as from_stage, to_stage, count(*) as persons
    from journey_transitions
    where transitioned_at = (select max(transitioned_at) from journey_transitions)
    group by from_stage, to_stage order by persons desc, from_stage, to_stage
"""


def journey_summary(duckdb_path: Path) -> str:
    """Stage distribution (persons, and how many have a next best action) and the latest build's
    transitions by from/to, a few lines for run summaries (README "Journeys")."""
    if not table_exists(duckdb_path, "journey_transitions"):
        return "(journeys not built)"
    _, stages = query(duckdb_path, JOURNEY_STAGES_SQL)
    _, instant = query(duckdb_path, "select max(transitioned_at) from journey_transitions")
    _, moves = query(duckdb_path, LATEST_TRANSITIONS_SQL)
    stage_text = ", ".join(f"{stage} {persons}/{with_action}" for stage, persons, with_action in stages)
    by_source: dict[str, list[str]] = {}
    for src, dst, n in moves:
        by_source.setdefault(src, []).append(f"{dst} {n}")
    move_text = "; ".join(f"{src} -> {', '.join(dsts)}" for src, dsts in by_source.items()) or "none"
    return "\n".join([*textwrap.wrap(f"stages (persons/with an action): {stage_text}", 150,
                                     subsequent_indent="  "),
                      *textwrap.wrap(f"transitions as of {instant[0][0]}: {move_text}", 150, subsequent_indent="  ")])
