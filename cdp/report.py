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


# the load summary's row counts print as a table, its identifier counts as one line of totals (per source:
# the mart source_row_counts), so the summary fits a terminal
ROW_COLUMNS = 7


def load_summary(duckdb_path: Path) -> str:
    cols, rows = query(duckdb_path, LOAD_SUMMARY_SQL)
    normalised, placeholders, invalid = (sum(r[i] or 0 for r in rows) for i in range(ROW_COLUMNS, len(cols)))
    return "\n".join([format_table(cols[:ROW_COLUMNS], [r[:ROW_COLUMNS] for r in rows]),
                      textwrap.fill(f"identifiers: {normalised} normalised; nulled {placeholders} placeholders, "
                                    f"{invalid} invalid (by source: source_row_counts)",
                                    width=100, subsequent_indent="  ")])


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
           round(avg(churn_risk), 3) as churn_mean,
           sum(case when churn_risk > 0.5 then 1 else 0 end) as "churn>0.5",
           round(avg(expected_orders), 3) as orders_mean,
           round(sum(predicted_clv), 2) as clv_total,
           round(avg(predicted_clv), 2) as clv_mean,
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
    return "\n".join([format_table(cols, rows),
                      *textwrap.wrap(f"parameters ({status}): {fitted}", 100, subsequent_indent="  ")])


JOURNEY_STAGES_SQL = """
    select journey_stage, count(*) as persons, sum(case when next_best_action <> 'none' then 1 else 0 end) as with_action
    from customer_profiles group by journey_stage order by persons desc, journey_stage
"""

# the transitions this build recorded: those at its as-of instant (a rebuild at the same instant adds none and
# shows what the first build at that instant recorded)
LATEST_TRANSITIONS_SQL = """
    select coalesce(from_stage, '(first seen)') as from_stage, to_stage, count(*) as persons
    from journey_transitions
    where transitioned_at = (select max(as_of_at) from customer_profiles)
    group by from_stage, to_stage order by persons desc, from_stage, to_stage
"""

# Segment sizes now (segment_memberships) and at the previous build instant the history logs recorded (the
# latest instant before this build's as-of in journey_transitions or segment_membership_events), counted in
# segment_membership_history, whose persons are today's ids (two persons merged since count once). One row
# per segment; previous and change are null on the first build.
SEGMENT_CHANGE_SQL = """
    with now_at as (
        select max(as_of_at) as instant_at from customer_profiles
    ),
    instants as (
        select transitioned_at as instant_at from journey_transitions
        union
        select changed_at as instant_at from segment_membership_events
    ),
    previous_at as (
        select max(instant_at) as instant_at from instants where instant_at < (select instant_at from now_at)
    ),
    now_sizes as (
        select segment_name, count(*) as persons from segment_memberships group by segment_name
    ),
    previous_sizes as (
        select history.segment_name, count(distinct history.person_id) as persons
        from segment_membership_history as history
        cross join previous_at
        where history.entered_at <= previous_at.instant_at
          and (history.exited_at is null or history.exited_at > previous_at.instant_at)
        group by history.segment_name
    )
    select
        coalesce(now_sizes.segment_name, previous_sizes.segment_name) as segment_name,
        case when previous_at.instant_at is not null then coalesce(previous_sizes.persons, 0) end as previous,
        coalesce(now_sizes.persons, 0) as now,
        case when previous_at.instant_at is not null
             then coalesce(now_sizes.persons, 0) - coalesce(previous_sizes.persons, 0) end as change,
        previous_at.instant_at as previous_as_of
    from now_sizes
    full outer join previous_sizes on previous_sizes.segment_name = now_sizes.segment_name
    cross join previous_at
    order by segment_name
"""


def segment_size_change(duckdb_path: Path) -> tuple[object, list[tuple[str, int | None, int, int | None]]]:
    """(previous build instant or None, [(segment, previous size, size now, change)]) from SEGMENT_CHANGE_SQL."""
    _, rows = query(duckdb_path, SEGMENT_CHANGE_SQL)
    previous_as_of = rows[0][4] if rows else None
    return previous_as_of, [(name, previous, now, change) for name, previous, now, change, _at in rows]


def signed(n: int | None) -> str:
    return "" if n is None else f"{n:+d}"


def journey_summary(duckdb_path: Path) -> str:
    """Stage distribution (persons, and how many have a next best action), the segment sizes against the
    previous build instant and this build's transitions by from/to (at most two lines; the rest in
    journey_transitions), a few lines for run summaries."""
    needed = ("journey_transitions", "customer_profiles", "segment_membership_events", "segment_membership_history")
    if not all(table_exists(duckdb_path, table) for table in needed):
        return "(journeys not built)"
    _, stages = query(duckdb_path, JOURNEY_STAGES_SQL)
    _, instant = query(duckdb_path, "select max(as_of_at) from customer_profiles")
    _, moves = query(duckdb_path, LATEST_TRANSITIONS_SQL)
    stage_text = ", ".join(f"{stage} {persons}/{with_action}" for stage, persons, with_action in stages)
    by_source: dict[str, list[str]] = {}
    for src, dst, n in moves:
        by_source.setdefault(src, []).append(f"{dst} {n}")
    move_text = "; ".join(f"{src} -> {', '.join(dsts)}" for src, dsts in by_source.items()) or "none"
    previous_as_of, sizes = segment_size_change(duckdb_path)
    size_text = ", ".join(f"{name} {now}{' ' + signed(change) if change is not None else ''}"
                          for name, _previous, now, change in sizes) or "none"
    since = f"change since {previous_as_of}" if previous_as_of is not None else "first build"
    return "\n".join([*textwrap.wrap(f"stages (persons/with an action): {stage_text}", 100, subsequent_indent="  "),
                      *textwrap.wrap(f"segment sizes ({since}): {size_text}", 100, subsequent_indent="  "),
                      *textwrap.wrap(f"transitions as of {instant[0][0]}: {move_text}", 100, subsequent_indent="  ",
                                     max_lines=2, placeholder=" ... (all: journey_transitions)")])
